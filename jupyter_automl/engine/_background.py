"""Studies that run in a thread (``--background``): the cell returns at once, the notebook
stays usable, and the panel's Stop/Resume, ``%automl stop NAME`` and ``%automl wait NAME``
control the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import AutomlError, StudyInterrupted, StudyNotFoundError
from ._events import RunEnd

if TYPE_CHECKING:
    from ..results import AutomlResult
    from ._runner import StudyRunner

RUNS: dict[str, BackgroundRun] = {}


class BackgroundRun:
    """One study's background thread; ``resume()`` starts a new run of the same study."""

    def __init__(self, name: str, make_runner: Callable[[], StudyRunner], panel: Any,
                 namespace: dict[str, Any],
                 finish: Callable[[StudyRunner, RunEnd], AutomlResult]) -> None:
        self.name = name
        self.make_runner = make_runner
        self.panel = panel
        self.finish = finish  # how the run ends: the summary printed, the result made
        self.namespace = namespace
        self.runner: StudyRunner | None = None
        self.result: AutomlResult | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> BackgroundRun:
        if self.running:
            raise AutomlError(f"study {self.name!r} is already running in the background")
        self.runner = self.make_runner()
        if self.panel is not None:
            self.runner.listeners.append(self.panel)
            self.panel.set_controls(self.stop, self.resume)
        self.error = None
        self.thread = threading.Thread(target=self._run, name=f"automl-{self.name}",
                                       daemon=True)
        self.thread.start()
        return self

    def resume(self) -> None:
        if not self.running:
            self.start()

    def stop(self) -> None:
        """Ask the run to stop: a Keras trial checkpoints at its next epoch and is queued."""
        if self.runner is not None:
            self.runner.stop_event.set()

    def wait(self, timeout: float | None = None) -> AutomlResult | None:
        """Block until the run ends; re-raise its error, if it ended with one."""
        if self.thread is not None:
            self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.result

    def _run(self) -> None:
        assert self.runner is not None
        try:
            reason = self.runner.run()
        except StudyInterrupted:
            reason = RunEnd.STOPPED
        except BaseException as exc:  # kept for wait(); the thread must not die silently
            self.error = exc
            print(f"study {self.name!r} stopped with an error: {exc}")
            return
        self.result = self.finish(self.runner, reason)
        self.namespace["_automl"] = self.result

    def __repr__(self) -> str:
        state = "running" if self.running else "ended"
        return f"<BackgroundRun {self.name!r}: {state}>"


def start(name: str, make_runner: Callable[[], StudyRunner], panel: Any,
          namespace: dict[str, Any],
          finish: Callable[[StudyRunner, RunEnd], AutomlResult]) -> BackgroundRun:
    """Run the study in a thread; ``panel`` (None outside a live kernel) gets Stop/Resume."""
    existing = RUNS.get(name)
    if existing is not None and existing.running:
        raise AutomlError(f"study {name!r} is already running in the background; "
                          f"%automl stop {name} first")
    run = BackgroundRun(name, make_runner, panel, namespace, finish).start()
    RUNS[name] = run
    print(f"study {name!r} runs in the background: %automl stop {name} / %automl wait {name}")
    return run


def get(name: str) -> BackgroundRun:
    try:
        return RUNS[name]
    except KeyError:
        known = ", ".join(RUNS) or "none"
        raise StudyNotFoundError(f"no background study {name!r} in this kernel "
                                 f"(background studies: {known})") from None
