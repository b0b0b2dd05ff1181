"""The runner's hooks: a listener sees the study start, trials start and end, epochs end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from ..training._fit import TrialFit
    from ._runner import StudyRunner


@dataclass
class Outcome:
    """How one trial ended: its state, values, error text and the Keras side, if any."""

    state: str  # "COMPLETE" | "PRUNED" | "FAIL"
    values: list[float] | None = None
    error: str | None = None
    fatal: BaseException | None = None  # a configuration error: stop the study
    fit: TrialFit | None = None
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    taken: bool = False  # another runner failed the trial while it ran here (it took us for dead)


class Listener:
    """Base class of the runner's observers (progress line, panels); every hook is optional.

    A listener that raises is switched off for the rest of the run with a warning, and the
    trials go on: showing a study must never fail it. An ``essential`` listener's error stops
    the study instead (after the trial is told, so nothing finished is lost).
    """

    title = "a listener"  # how warnings name it
    essential = False

    def study_started(self, runner: StudyRunner) -> None: ...

    def trial_started(self, runner: StudyRunner, trial: optuna.Trial) -> None: ...

    def epoch_ended(self, runner: StudyRunner, fit: TrialFit) -> None: ...

    def trial_finished(self, runner: StudyRunner, trial: optuna.Trial,
                       outcome: Outcome) -> None: ...

    def study_finished(self, runner: StudyRunner, reason: str) -> None: ...
