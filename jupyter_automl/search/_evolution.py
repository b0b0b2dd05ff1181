"""Regularized (aging) evolution (Real et al., 2019, "Regularized Evolution for Image Classifier
Architecture Search") as an Optuna sampler, over any define-by-run space.

The population is the last ``population`` finished trials, by number: a new trial copies the
best of ``tournament`` of them drawn at random (all of them while there are fewer) and mutates
one of its parameters, and as trials finish the oldest members leave. The first
``min(population, 10)`` trials are drawn at random.

Nothing is kept outside the study: a trial's parent and the parameter it mutates are decided at
its first draw and stored with it, so a rerun, a second runner on a shared study and worker
kernels all continue one population.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from .._utils.constraints import infeasibility
from . import _draws
from ._base import SeededSampler
from ._lineage import EVOLVED_FROM, MUTATION

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial

_PLAN = "evolution:plan"  # system attribute: [parent number, parameter mutated, its value]
STARTUP = 10  # trials drawn at random before the first parent is chosen (as Optuna's samplers)
_TRIES = 20  # mutations drawn in search of a child no trial has tried


class EvolutionSampler(SeededSampler):
    """Aging evolution: ``population`` (P) members, tournaments of ``tournament`` (S)."""

    def __init__(self, population: int = 30, tournament: int = 15,
                 seed: int | None = None) -> None:
        if population < 2 or not 1 <= tournament <= population:
            raise ValueError("evolution needs population >= 2 and 1 <= tournament <= population "
                             f"(got population={population}, tournament={tournament})")
        self.population, self.tournament = population, tournament
        self.startup = min(population, STARTUP)
        super().__init__(seed)
        self._parents: dict[tuple[int, int], FrozenTrial] = {}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        parent_number, mutate, new = self._plan(study, trial)
        parent = None if parent_number is None else self._parent(study, parent_number)
        if parent is None or param_name not in parent.params \
                or not _draws.contains(param_distribution, parent.params[param_name]):
            # random while the population fills; later a parameter new to this lineage
            return _draws.uniform(param_distribution,
                                  _draws.generator(self._seed, trial.number, param_name))
        value = parent.params[param_name]
        if param_name != mutate or not _draws.contains(param_distribution, new):
            return value
        study._storage.set_trial_user_attr(
            trial._trial_id, MUTATION, f"{param_name} {_draws.text(value)}→{_draws.text(new)}")
        return new

    def _parent(self, study: Study, number: int) -> FrozenTrial:
        """Finished trial ``number`` (kept: a finished trial does not change)."""
        key = (study._study_id, number)
        if key not in self._parents:
            storage = study._storage
            self._parents[key] = storage.get_trial(
                storage.get_trial_id_from_study_id_trial_number(study._study_id, number))
        return self._parents[key]

    def _plan(self, study: Study, trial: FrozenTrial) -> tuple[int | None, str | None, Any]:
        """The trial's parent, the parameter it mutates and its new value, decided at the
        trial's first draw and stored with it."""
        plan = trial.system_attrs.get(_PLAN)
        if plan is None:
            plan = self._decide(study, trial.number)
            study._storage.set_trial_system_attr(trial._trial_id, _PLAN, plan)
            if plan[0] is not None:
                study._storage.set_trial_user_attr(trial._trial_id, EVOLVED_FROM, plan[0])
        return plan[0], plan[1], plan[2]

    def _decide(self, study: Study, number: int) -> list[Any]:
        """``[parent, name, value]``: the best of a tournament, and a mutation of it that no
        trial has tried yet where one can be found in a few draws."""
        trials = study.get_trials(deepcopy=False)
        members = population(trials, self.population, before=number)
        if len(members) < self.startup:
            return [None, None, None]
        rng = _draws.generator(self._seed, number)
        drawn = [members[int(i)] for i in
                 rng.choice(len(members), size=min(self.tournament, len(members)),
                            replace=False)]
        sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
        # a feasible member beats an infeasible one, and the nearer to feasible of two
        # infeasible ones wins (--constraint; every trial is feasible without constraints)
        parent = min(drawn, key=lambda t: (infeasibility(t.constraints),
                                           sign * float(t.value), t.number))  # type: ignore[arg-type]
        names = sorted(n for n, d in parent.distributions.items() if _draws.size(d) > 1)
        if not names:
            return [parent.number, None, None]
        tried = {_key(t.params) for t in trials if t.number != number}
        for _ in range(_TRIES):
            name = names[int(rng.integers(len(names)))]
            new = _draws.nearby(parent.distributions[name], parent.params[name], rng)
            if _key({**parent.params, name: new}) not in tried:
                break
        return [parent.number, name, new]


def population(trials: Sequence[FrozenTrial], size: int,
               before: int | None = None) -> list[FrozenTrial]:
    """The last ``size`` complete trials by number (those numbered below ``before``)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None
            and (before is None or t.number < before)]
    return sorted(done, key=lambda t: t.number)[-size:]


def _key(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))
