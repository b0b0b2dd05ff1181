"""What the loop tells the rest: a trial's :class:`Outcome`, how a run ended (:class:`RunEnd`),
the :class:`Listener` hooks (study started, trial started and finished, epoch ended, study
finished), the view of the run that a listener reads (:class:`RunView`), and what runs a
trial (:class:`Executor`).
"""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Callable

    import optuna
    from optuna.trial import TrialState

    from ..runs import StudyPaths
    from ..training import TrialFit
    from ._study import PreparedStudy


class RunEnd(str, enum.Enum):
    """Why a run of a study ended (its ``str`` is the word said to the user)."""

    FINISHED = "finished"  # the study's total is reached
    ALREADY_FINISHED = "already finished"  # it was reached before this run: nothing to do
    TIMEOUT = "timeout"  # --timeout passed
    STOPPED = "stopped"  # Stop (the panel, %automl stop, the sidebar's stop request)
    ELSEWHERE = "elsewhere"  # the rest of the total is running in other processes
    INTERRUPTED = "interrupted"  # Ctrl-C, the kernel's interrupt
    DISK_FULL = "stopped (its disk was full)"  # a write of the study's found no space

    def __str__(self) -> str:
        return self.value


@dataclass
class Outcome:
    """How one trial ended: its state, values, error text and the Keras side, if any."""

    state: TrialState  # COMPLETE, PRUNED or FAIL
    values: list[float] | None = None
    error: str | None = None
    fatal: BaseException | None = None  # a configuration error: stop the study
    fit: TrialFit | None = None
    duration: float = 0.0
    peak_mb: float | None = None  # the process's resident memory, at its highest seen
    extra: dict[str, Any] = field(default_factory=dict)
    taken: bool = False  # another runner failed the trial while it ran here (it took us for dead)


class TrialLost(Exception):
    """The trial stopped without an outcome: its kernel died, or Stop or an interrupt cut it
    short (``cut``; with ``stops_study`` the run then ends that way). The loop fails it and
    queues its retry."""

    def __init__(self, why: str | None = None, cut: RunEnd | None = None,
                 stops_study: bool = False, said: str | None = None,
                 hung: bool = False) -> None:
        why = why or str(cut)
        super().__init__(why)
        self.why = why  # recorded in the failed trial
        self.cut = cut
        self.stops_study = stops_study
        self.said = said or why  # printed when the run goes on
        self.hung = hung  # its worker did not answer within --trial-timeout


class RunView(Protocol):
    """What a listener may read of the running study."""

    name: str
    total: int
    counts: Counter[TrialState]
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
    controls = False  # it has Stop/Resume for a background run (``set_controls``)

    def study_started(self, run: RunView) -> None: ...

    def trial_started(self, run: RunView, trial: optuna.Trial) -> None: ...

    def epoch_ended(self, run: RunView, fit: TrialFit) -> None: ...

    def trial_finished(self, run: RunView, trial: optuna.Trial, outcome: Outcome) -> None: ...

    def trial_lost(self, run: RunView, trial: optuna.Trial, why: str) -> None:
        """The trial ended without an outcome (``why``: its kernel died, Stop, an interrupt):
        the storage has it failed, and its retry, if any, queued as a new trial."""

    def study_finished(self, run: RunView, reason: RunEnd) -> None: ...

    def set_controls(self, on_stop: Callable[[], None] | None,
                     on_resume: Callable[[], None] | None) -> None:
        """Where ``controls`` is true: what its Stop and Resume do (a background run's)."""


class Executor(Protocol):
    """What runs the trials the loop asks for: this kernel, a pool of worker kernels, or a
    cluster of them running each trial together. It has ``slots`` trials running at once;
    the loop calls, for each slot (in a thread of its own when there are several),
    :meth:`prepare`, then :meth:`run` trial after trial, and :meth:`replace` after a
    :class:`TrialLost` (False: the slot is gone, the others go on)."""

    label: str  # how the trial table's "kernel" column names it
    slots: int  # trials it runs at once
    restart_text: str  # what follows a lost trial, said after it ("starting a new kernel")

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

