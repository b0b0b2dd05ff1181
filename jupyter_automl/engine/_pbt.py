"""``--scheduler pbt``: population-based training (Jaderberg et al., 2017), synchronous.

``--population P`` members train in generations of ``--interval K`` epochs. Each member's
generation is one Optuna trial: it runs the cell, whose ``fit`` resumes from the checkpoint the
trial's ``resume_from`` names and stops K epochs later; its value is the objective at its last
epoch. When every member has finished a generation, the worst quarter (by that value; a member
whose trial failed counts as worst) each copy the checkpoint (weights and optimizer state) of a
member drawn from the best quarter (*exploit*), and perturb its mutable parameters (*explore*:
x0.8 or x1.2, or with probability 0.25 a fresh draw, always inside the declared range; a choice
moves to a neighbouring option or is drawn afresh). Parameters that are not mutable are
inherited as they are, so the copied checkpoint always fits the model the cell builds. The
others continue their own checkpoints, parameters unchanged. The next generation is queued as
P trials with fixed parameters, in member order, so a run with ``--seed`` repeats itself.

Everything is read back from the study's trials (see :mod:`jupyter_automl.results` for their
attributes), so a rerun after a kill goes on where the study stood: a generation's lost trials
are retried from their checkpoints, and the next generation is queued once it is complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .. import _optuna
from .._utils.failpoints import hit as failpoint
from ..errors import PbtError
from ..results import CONTINUED, COPIED, EPOCHS, FINAL, GENERATION, MEMBER, MUTABLE

if TYPE_CHECKING:
    import optuna

    from ..runs import RunnerLock
    from ._study import PreparedStudy

QUANTILE = 0.25  # the fraction of the population replaced, and copied from, each generation
RESAMPLE = 0.25  # the probability that a mutable parameter is drawn afresh rather than scaled
FACTORS = (0.8, 1.2)
KEPT = (MEMBER, GENERATION, CONTINUED, COPIED)  # what a retry of a PBT trial carries over


class ScheduledRun(Protocol):
    """What the schedule needs of the runner (:class:`~._runner.StudyRunner`)."""

    total: int

    def should_end(self) -> bool: ...
    def refresh_counts(self, lock: RunnerLock) -> None: ...
    def wait_for_change(self, seconds: float = 0.5) -> None: ...
    def set_total(self, total: int) -> None: ...


def explore(params: dict[str, Any], distributions: dict[str, Any], mutable: set[str],
            rng: random.Random) -> dict[str, Any]:
    """``params`` with each mutable one perturbed inside its distribution."""
    out = dict(params)
    for name in sorted(mutable & set(params)):
        dist = distributions.get(name)
        if dist is not None:
            out[name] = _perturb(params[name], dist, rng)
    return out


def _perturb(value: Any, dist: Any, rng: random.Random) -> Any:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    fresh = rng.random() < RESAMPLE
    if isinstance(dist, CategoricalDistribution):
        choices = list(dist.choices)
        if fresh or value not in choices:
            return rng.choice(choices)
        index = choices.index(value) + rng.choice((-1, 1))
        return choices[min(max(index, 0), len(choices) - 1)]
    low, high = dist.low, dist.high
    if fresh:
        draw = (math.exp(rng.uniform(math.log(low), math.log(high))) if dist.log
                else rng.uniform(low, high))
    else:
        draw = value * rng.choice(FACTORS)
    draw = min(max(draw, low), high)
    step = getattr(dist, "step", None)
    if step is not None:
        draw = low + round((draw - low) / step) * step
        draw = min(max(draw, low), high)
    if isinstance(dist, IntDistribution):
        moved = int(round(draw))
        if moved == value and not fresh:  # x1.2 of a small int rounds back: take one step
            moved = value + (step or 1) * (1 if draw > value else -1)
        return int(min(max(moved, low), high))
    return float(draw)


@dataclass
class Generation:
    """One generation of the population as the storage has it."""

    number: int
    done: dict[int, optuna.trial.FrozenTrial] = field(default_factory=dict)  # member -> COMPLETE
    pending: set[int] = field(default_factory=set)  # members with a WAITING or RUNNING trial
    failed: set[int] = field(default_factory=set)  # members whose every attempt failed
    missing: set[int] = field(default_factory=set)  # members with no trial yet

    @property
    def complete(self) -> bool:
        return not self.pending and not self.missing

    @property
    def final(self) -> bool:
        """Every member that finished this generation has trained all its epochs."""
        return bool(self.done) and all(t.user_attrs.get(FINAL) for t in self.done.values())


class PbtSchedule:
    """Decides each trial of a PBT study: the runner asks it instead of ``study.ask()``."""

    def __init__(self, prepared: PreparedStudy) -> None:
        options = prepared.options
        self.prepared = prepared
        self.study = prepared.study
        self.population = options.population
        self.interval = options.interval
        self.seed = options.seed
        self.sign = 1 if options.directions[0] == "maximize" else -1
        self.finished = False

    # -- what the runner asks ------------------------------------------------------------------
    def next_trial(self, runner: ScheduledRun, lock: RunnerLock) -> optuna.Trial | None:
        """The next member to train (waiting while the generation's others still train), or
        None once the last generation is complete (or Stop, or the timeout)."""
        from optuna.trial import TrialState

        while not runner.should_end():
            runner.refresh_counts(lock)
            trials = self._trials()
            if any(t.state == TrialState.WAITING for t in trials):
                return self.study.ask()
            generation = self._latest(trials)
            if generation is None:
                self._queue_next(0)
                continue
            self._update_total(runner, generation)
            if not generation.complete:
                if generation.missing:  # a run killed while it queued the generation
                    self._queue_next(generation.number)
                    continue
                runner.wait_for_change()
                continue
            if generation.final:
                self.finished = True
                return None
            if not generation.done:
                raise PbtError(f"every member of generation {generation.number} failed; see "
                               "the trials' errors (%automl show), fix the cell and rerun it")
            self._queue_next(generation.number + 1)
        return None

    def is_complete(self) -> bool:
        generation = self.current()
        self.finished = generation is not None and generation.complete and generation.final
        return self.finished

    # -- reading the population ----------------------------------------------------------------
    def _trials(self) -> list[optuna.trial.FrozenTrial]:
        return [t for t in self.study.get_trials(deepcopy=False) if GENERATION in t.user_attrs]

    def current(self) -> Generation | None:
        """The latest generation that has trials, or None before the first is queued."""
        return self._latest(self._trials())

    def _latest(self, trials: list[optuna.trial.FrozenTrial]) -> Generation | None:
        if not trials:
            return None
        return self._generation(trials, max(int(t.user_attrs[GENERATION]) for t in trials))

    def _generation(self, trials: list[optuna.trial.FrozenTrial], number: int) -> Generation:
        from optuna.trial import TrialState

        by_member: dict[int, list[optuna.trial.FrozenTrial]] = defaultdict(list)
        for trial in trials:
            if int(trial.user_attrs[GENERATION]) == number:
                by_member[int(trial.user_attrs[MEMBER])].append(trial)
        generation = Generation(number)
        for member in range(self.population):
            attempts = by_member.get(member, [])
            complete = [t for t in attempts if t.state == TrialState.COMPLETE]
            if complete:
                generation.done[member] = complete[-1]
            elif any(not t.state.is_finished() for t in attempts):  # RUNNING, WAITING
                generation.pending.add(member)
            elif attempts:
                generation.failed.add(member)
            else:
                generation.missing.add(member)
        return generation

    def _update_total(self, runner: ScheduledRun, generation: Generation) -> None:
        """Once a member has said how many epochs it trains: P x the generations they take."""
        epochs = [int(t.user_attrs[EPOCHS]) for t in generation.done.values()
                  if EPOCHS in t.user_attrs]
        if epochs:
            total = self.population * math.ceil(max(epochs) / self.interval)
            if total != runner.total:
                runner.set_total(total)

    # -- the next generation -------------------------------------------------------------------
    def plan(self, number: int) -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
        """Generation ``number``'s members: their parameters and user attributes, decided from
        generation ``number - 1`` (exploit and explore)."""
        before = self._generation(self._trials(), number - 1)
        rng = random.Random(f"pbt:{self.seed}:{number}") if self.seed is not None \
            else random.Random()
        ranked = sorted(before.done, key=lambda m: (-self.sign * before.done[m].values[0], m))
        count = max(1, int(self.population * QUANTILE))
        top = ranked[:count]
        bottom = set(before.failed) | set(before.missing) | (
            set(ranked[-count:]) if len(ranked) > count else set())
        mutable = {n for t in before.done.values() for n in t.user_attrs.get(MUTABLE, [])}
        members = {}
        for member in range(self.population):
            own = before.done.get(member)
            attrs: dict[str, Any] = {MEMBER: member, GENERATION: number}
            if own is not None:
                attrs[CONTINUED] = own.number
            if member in bottom or own is None:
                donor = before.done[rng.choice(top)]
                params = explore(donor.params, donor.distributions, mutable, rng)
                attrs[COPIED] = donor.number
                attrs["resume_from"] = donor.number
            else:
                params = dict(own.params)
                attrs["resume_from"] = own.number
            members[member] = (params, attrs)
        return members

    def _queue_next(self, number: int) -> None:
        """Queue generation ``number``'s members that have no trial yet (all of them, unless a
        run was killed while it queued them). Runners of the study in this runs folder queue
        one at a time, each after reading what the others queued."""
        with _exclusive(self.prepared.paths.root / "pbt.lock"):
            have = {int(t.user_attrs[MEMBER]) for t in self._trials()
                    if int(t.user_attrs[GENERATION]) == number}
            if len(have) == self.population:
                return
            members = self.plan(number) if number else {m: ({}, {}) for m in
                                                         range(self.population)}
            for queued, member in enumerate(sorted(set(members) - have)):
                if queued:
                    failpoint("pbt.queue")
                params, attrs = members[member]
                self.study.enqueue_trial(params, user_attrs={MEMBER: member,
                                                              GENERATION: number, **attrs})


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def retry_attrs(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The PBT attributes a retry of ``trial`` keeps (its member, generation and sources)."""
    return {k: trial.user_attrs[k] for k in KEPT if k in trial.user_attrs}


def is_final(study: optuna.Study, trial: Any) -> bool:
    return bool(_optuna.frozen(study, trial).user_attrs.get(FINAL))
