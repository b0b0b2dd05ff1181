"""What the loop tells the rest: a trial's :class:`Outcome`, the :class:`Listener` hooks
(study started, trial started and finished, epoch ended, study finished), and the view of the
run that a listener reads (:class:`RunView`), and what runs a trial (:class:`Executor`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections import Counter

    import optuna

    from ..runs import StudyPaths
    from ..training import TrialFit
    from ._study import PreparedStudy


@dataclass
class Outcome:
    """How one trial ended: its state, values, error text and the Keras side, if any."""

    state: str  # "COMPLETE" | "PRUNED" | "FAIL"
    values: list[float] | None = None
    error: str | None = None
    fatal: BaseException | None = None  # a configuration error: stop the study
    fit: TrialFit | None = None
    duration: float = 0.0
    peak_mb: float | None = None  # the process's resident memory, at its highest seen
    extra: dict[str, Any] = field(default_factory=dict)
    taken: bool = False  # another runner failed the trial while it ran here (it took us for dead)


class TrialLost(Exception):
    """The trial stopped without an outcome: its kernel died, or the user interrupted it (the
    study then stops). The loop fails it and queues its retry."""

    def __init__(self, why: str, stops_study: bool = False, said: str | None = None) -> None:
        super().__init__(why)
        self.why = why  # recorded in the failed trial
        self.stops_study = stops_study
        self.said = said or why  # printed when the run goes on


class RunView(Protocol):
    """What a listener may read of the running study."""

    name: str
    total: int
    counts: Counter[str]
    best_text: str
    front: list[tuple[int, list[float]]]
    prepared: PreparedStudy
    study: optuna.Study
    paths: StudyPaths

    @property
    def done(self) -> int: ...

    @property
    def elapsed(self) -> float: ...

    @property
    def eta(self) -> float | None: ...


class Listener:
    """Base class of the runner's observers (progress line, panels); every hook is optional.

    A listener that raises is switched off for the rest of the run with a warning, and the
    trials go on: showing a study must never fail it. An ``essential`` listener's error stops
    the study instead (after the trial is told, so nothing finished is lost).
    """

    title = "a listener"  # how warnings name it
    essential = False

    def study_started(self, run: RunView) -> None: ...

    def trial_started(self, run: RunView, trial: optuna.Trial) -> None: ...

    def epoch_ended(self, run: RunView, fit: TrialFit) -> None: ...

    def trial_finished(self, run: RunView, trial: optuna.Trial, outcome: Outcome) -> None: ...

    def study_finished(self, run: RunView, reason: str) -> None: ...


class Executor(Protocol):
    """What runs the trials the loop asks for: this kernel, a pool of worker kernels, or a
    cluster of them running each trial together. It has ``slots`` trials running at once;
    the loop calls, for each slot (in a thread of its own when there are several),
    :meth:`prepare`, then :meth:`run` trial after trial, and :meth:`replace` after a
    :class:`TrialLost` (False: the slot is gone, the others go on)."""

    label: str
    slots: int

    def session(self, run: Any) -> AbstractContextManager[None]:
        """While the study runs: kernels started, the study served to them..."""
        ...

    def prepare(self, slot: int) -> bool:
        """Make the slot ready for trials (start its kernel, replay the setup); False if the
        slot can have none (the others go on); an error here stops the study."""
        ...

    def replace(self, slot: int) -> bool:
        """A fresh start for a slot whose trial was lost; False if none can be had."""
        ...

    def run(self, trial: optuna.Trial, slot: int) -> Outcome:
        """The trial's outcome; raises :class:`TrialLost` if it ends without one."""
        ...

    def interrupt(self) -> None:
        """Stop every running trial now (the user interrupted the study)."""
        ...

