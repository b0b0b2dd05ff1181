"""One progress line updated in place: trials done/total, running epoch, best value, ETA.

In a Jupyter kernel the line is a display updated by id (so papermill keeps only its last
state); in a terminal it is rewritten with a carriage return.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from .._utils.duration import format_duration
from ..engine import Listener, Outcome, RunEnd
from ._where import in_kernel

if TYPE_CHECKING:
    import optuna

    from ..engine import RunView
    from ..training import TrialFit

THROTTLE = 0.5  # seconds between two redraws caused by epochs


class ProgressLine(Listener):
    title = "the progress line"

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream
        self._handle: Any = None
        self._last = 0.0
        self._epoch = ""
        self._text = ""

    def study_started(self, runner: RunView) -> None:
        self._handle = _display_handle() if self.stream is None else None
        self._draw(runner, force=True)

    def trial_started(self, runner: RunView, trial: optuna.Trial) -> None:
        self._epoch = f" | trial {trial.number} running"
        self._draw(runner)

    def epoch_ended(self, runner: RunView, fit: TrialFit) -> None:
        planned = f"/{fit.epochs_planned}" if fit.epochs_planned else ""
        self._epoch = f" | trial {fit.trial.number} {fit.unit} {fit.epochs_run}{planned}"
        self._draw(runner)

    def trial_finished(self, runner: RunView, trial: optuna.Trial,
                       outcome: Outcome) -> None:
        self._epoch = ""
        self._draw(runner)

    def study_finished(self, runner: RunView, reason: RunEnd) -> None:
        self._draw(runner, force=True)
        if self._handle is None:
            self._write("\n")

    def _draw(self, runner: RunView, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < THROTTLE:
            return
        self._last = now
        text = line(runner) + self._epoch
        if text == self._text:
            return
        self._text = text
        if self._handle is not None:
            self._handle.update({"text/plain": text}, raw=True)
        else:
            self._write("\r" + text.ljust(100))

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()


def line(runner: RunView) -> str:
    """``digits: 7/20 trials (1 pruned, 0 failed) | best 0.9722 | 1m02s, ETA 2m10s``."""
    from optuna.trial import TrialState

    pruned, failed = runner.counts[TrialState.PRUNED], runner.counts[TrialState.FAIL]
    parts = [f"{runner.name}: {runner.done}/{runner.total} trials"]  # --warm-start's left out
    if pruned or failed:
        parts[0] += f" ({pruned} pruned, {failed} failed)"
    if runner.best_text:
        parts.append(runner.best_text)
    elapsed = runner.elapsed
    eta = runner.eta
    parts.append(format_duration(elapsed) + (f", ETA {format_duration(eta)}" if eta else ""))
    return " | ".join(parts)


def _display_handle() -> Any:
    """A display handle when running in a Jupyter kernel, else None (terminal)."""
    if not in_kernel():
        return None
    from IPython.display import display

    return display({"text/plain": ""}, raw=True, display_id=True)
