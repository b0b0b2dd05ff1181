"""``--executions-per-trial N``: one trial trained N times, as KerasTuner's
``executions_per_trial`` does, for objectives that a seed moves as much as a parameter does.

What each part sees, decided here:

- Each execution runs the cell with a seed of its own, set for Python, NumPy and Keras
  (TensorFlow): drawn from ``--seed`` and the trial's number when the study has a seed, else
  at random; the seeds are kept in the trial's user attributes, so a retry runs an execution
  again on the seed it had.
- The trial's values are the mean of the executions' values, objective by objective; the
  executions' values, their sample standard deviation and their curves are kept in the
  trial's user attributes (``results/_executions.py``), each execution's as soon as it ends.
- The pruner and Optuna's per-epoch values: the executions before the last report nothing;
  the last reports each epoch's value averaged with the same epoch of the executions before
  it, and the pruner decides on that mean, against the other trials' means. No trial is cut
  on the luck of one seed; a hopeless trial costs N-1 whole executions first.
- Early stopping and the best epoch are each execution's own.
- The live panel draws the execution under way as it trains; once the trial ends, its curve
  is the mean curve Optuna kept (what ``show`` and the static report draw).
- The model kept (the best model, a worker's model file): the best execution's, by its first
  objective, among the executions this process ran (a retry's executions cut short with a
  dead kernel left no model in memory).
- Once the trial's executions end, the generators are unseeded again: the study leaves the
  notebook's randomness as it found it.
- A retry (a killed kernel, Stop, an interrupt) goes on at the execution that was cut short:
  the finished ones' values are taken over, and that execution resumes from its checkpoint
  when the checkpoint is its own (every checkpoint says which execution saved it).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..results import (
    EXECUTION_CURVES,
    EXECUTION_SEEDS,
    EXECUTIONS,
    EXECUTIONS_STD,
    mean_and_std,
)

if TYPE_CHECKING:
    import optuna

    from ..training import Checkpoint, FitSettings, TrialFit


@dataclass
class Executions:
    """A trial's executions: how many, and what those finished (also in another process, a
    retried trial's) left in its user attributes."""

    total: int
    values: list[list[float]] = field(default_factory=list)  # of each finished execution
    curves: list[list[list[float]]] = field(default_factory=list)  # [[step, value], ...] each
    seeds: list[int] = field(default_factory=list)  # of each execution started

    @classmethod
    def of(cls, trial: optuna.Trial, total: int) -> Executions:
        attrs = trial.user_attrs
        return cls(total, [list(v) for v in attrs.get(EXECUTIONS) or []],
                   [list(c) for c in attrs.get(EXECUTION_CURVES) or []],
                   [int(s) for s in attrs.get(EXECUTION_SEEDS) or []])

    @property
    def next(self) -> int:
        """The execution to run next (0: the first)."""
        return len(self.values)

    def resume_point(self, trial: optuna.Trial,
                     saved: Checkpoint | None) -> Checkpoint | None:
        """The checkpoint the next execution resumes from: ``saved`` if that execution saved
        it (not one finished before it)."""
        if self.next and self.next < self.total:
            print(f"jupyter-automl: trial {trial.number} goes on at execution {self.next + 1} "
                  f"of {self.total}, the values of the {self.next} before it kept",
                  file=sys.stderr)
        if saved is not None and saved.execution == self.next:
            return saved
        return None

    def begin(self, trial: optuna.Trial, study_seed: int | None) -> int:
        """Seed the next execution (its seed recorded first, so that a retry uses it too)."""
        k = self.next
        if k < len(self.seeds):
            seed = self.seeds[k]
        else:
            seed = (study_seed * 1_000_003 + trial.number * 1_009 + k) % 2**31 \
                if study_seed is not None else random.SystemRandom().randrange(2**31)
            self.seeds.append(seed)
            trial.set_user_attr(EXECUTION_SEEDS, self.seeds)
        set_seed(seed)
        return seed

    def configure(self, settings: FitSettings) -> None:
        """The next execution's fit: which execution it is, and what it reports (the last
        alone, each step averaged with the executions before it; see the module's text)."""
        last = self.next == self.total - 1
        settings.execution = self.next
        settings.earlier = tuple({int(s): float(v) for s, v in c} for c in self.curves)
        settings.report = settings.report and last
        settings.prune = settings.prune and last

    def finished(self, trial: optuna.Trial, values: Sequence[float], fit: TrialFit | None) -> None:
        """An execution completed with ``values``: kept at once in the trial's attributes."""
        self.values.append([float(v) for v in values])
        self.curves.append(curve_of(fit))
        trial.set_user_attr(EXECUTIONS, self.values)
        trial.set_user_attr(EXECUTION_CURVES, self.curves)

    def result(self, trial: optuna.Trial) -> list[float]:
        """The trial's values, the executions' means; their spread kept beside them."""
        means, stds = mean_and_std(self.values)
        trial.set_user_attr(EXECUTIONS_STD, stds)
        return means


def checkpoint_text(state: Mapping[str, Any], attrs: Mapping[str, Any],
                    total: int) -> str | None:
    """Where a lost trial of ``total`` executions was checkpointed, as an interrupted run
    says it (`` at execution 2 of 3, epoch 4``), from its ``state`` (state.json) and its user
    ``attrs``; None when the checkpoint is an earlier, finished execution's (the execution cut
    short starts again)."""
    execution = int(state.get("execution") or 0)
    if execution < len(attrs.get(EXECUTIONS) or ()):
        return None
    epochs = len(state.get("history") or [])
    return f" at execution {execution + 1} of {total}" + (f", epoch {epochs}" if epochs else "")


def curve_of(fit: TrialFit | None) -> list[list[float]]:
    """An execution's objective by step, as its fit followed it."""
    if fit is None or fit.metric is None:
        return []
    return [[int(h["epoch"]), float(h[fit.metric])] for h in fit.history if fit.metric in h]


def set_seed(seed: int) -> None:
    """Python's, NumPy's and Keras's (TensorFlow's) random generators seeded with ``seed``;
    Keras and TensorFlow only if the process has imported them."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    keras: Any = sys.modules.get("keras")
    if keras is not None:
        keras.utils.set_random_seed(seed)
    elif (tf := sys.modules.get("tensorflow")) is not None:
        tf.random.set_seed(seed)


def unseed() -> None:
    """After a trial's executions: Python's, NumPy's and TensorFlow's generators unseeded
    again, so the notebook's own code after the study (an unseeded ``shuffle``) is random
    again, as it was before."""
    import numpy as np

    random.seed()
    np.random.seed()
    if (tf := sys.modules.get("tensorflow")) is not None:
        tf.random.set_seed(None)


def better(first: Any, second: Any, direction: str) -> Any:
    """Of two completed executions' outcomes, the one whose first value is the better (the
    earlier on a tie); ``first`` may be None."""
    if first is None:
        return second
    a, b = first.values[0], second.values[0]
    return second if (b > a if direction == "maximize" else b < a) else first
