"""Trials on worker kernels: the driver (the notebook's kernel) owns the study and serves it
over gRPC; one thread per worker asks a trial, has the worker run it and tells the result.

A worker that dies mid-trial fails that trial, queues its retry (resumed from its checkpoint,
on whichever kernel is free) and is restarted with the setup replayed. A setup cell that fails
on a worker stops the study with that worker's traceback; nothing is retried. Every worker is
shut down when the run ends, however it ends.
"""

from __future__ import annotations

import ast
import contextlib
import json
import pickle
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _optuna
from ..engine._events import Listener, Outcome
from ..engine._recovery import RunnerLock, fail_and_retry
from ..engine._runner import StudyRunner
from ..errors import (
    AutomlError,
    OptionError,
    StudyInterrupted,
    TooManyFailuresError,
)
from . import _worker as worker
from .kernels import KernelError, SetupError, WorkerDied, WorkerKernel
from .kernels import _proxy as proxy
from .kernels._local import LocalKernel

if TYPE_CHECKING:
    import optuna

    from ..engine._cell import Cell
    from ..engine._study import PreparedStudy

SETUP_TIMEOUT = 600.0  # seconds a setup cell may take on a worker


class PoolRunner(StudyRunner):
    restart_text = "starting a new kernel"  # what follows a lost trial

    def __init__(self, prepared: PreparedStudy, cell: Cell, namespace: dict[str, Any],
                 listeners: Sequence[Listener], kernels: Sequence[WorkerKernel],
                 setup_cells: Sequence[str] = (), ship: Sequence[str] = (),
                 host: str = "127.0.0.1") -> None:
        super().__init__(prepared, cell, namespace, listeners)
        self.kernels = list(kernels)
        self.setup_cells = list(setup_cells)
        self.host = host
        self.shipped = ship_variables(prepared, namespace, ship)
        self._lock = threading.RLock()
        self._failures = 0
        self._fatal: BaseException | None = None
        self.running: dict[str, int] = {}  # kernel label -> the trial it runs
        self._alive = len(self.kernels)
        self.served: proxy.Served | None = None  # the study, as served to the workers
        # A server database (--storage postgresql://...) is reached straight from local kernels,
        # its URL in their environment (a password in it stays out of code and outputs);
        # other storages, and remote kernels, go through the driver's gRPC proxy.
        self.direct = prepared.shared
        for kernel in self.kernels:
            if self.direct and isinstance(kernel, LocalKernel):
                kernel.env = {**kernel.env, worker.STORAGE_ENV: prepared.url}

    def _loop(self, lock: RunnerLock) -> str:
        for kernel in self.kernels:  # an unreachable gateway or a wrong token: say so now
            kernel.preflight()
        self._alive = len(self.kernels)
        proxied = not self.direct or not all(isinstance(k, LocalKernel) for k in self.kernels)
        serving = proxy.serve(_optuna.storage_of(self.study), self.host) if proxied \
            else contextlib.nullcontext(None)
        with serving as self.served:
            if self.served is not None and not proxy.is_loopback(self.host):
                print(f"the study is served on {self.host}:{self.served.port} over TLS, to "
                      "callers with this run's secret only")
            threads = self._threads(lock)
            for thread in threads:
                thread.start()
            try:
                while any(t.is_alive() for t in threads):
                    for thread in threads:
                        thread.join(0.2)
            except KeyboardInterrupt:
                self.reason = "interrupted"
                self.stop_event.set()
                self._shutdown()  # the running trials fail and are queued for retry
                for thread in threads:
                    thread.join()
                raise StudyInterrupted(
                    f"study {self.name!r} interrupted: {self.done}/{self.total} trials "
                    "finished; the running trials are queued to resume from their "
                    "checkpoints. Rerun the cell to resume.") from None
            finally:
                self._shutdown()
        if self._fatal is not None:
            raise self._fatal
        if self.stop_event.is_set():
            return "stopped"
        self._census()
        timeout = self.prepared.options.timeout
        if self.done >= self.total:
            return "finished"
        return "timeout" if timeout is not None and self.elapsed >= timeout else "elsewhere"

    def _threads(self, lock: RunnerLock) -> list[threading.Thread]:
        """The threads that run the study: one per worker, each asking its own trials."""
        return [threading.Thread(target=self._work, args=(k, i, lock),
                                 name=f"automl-{k.label}", daemon=True)
                for i, k in enumerate(self.kernels)]

    # -- one worker ------------------------------------------------------------------------------
    def _work(self, kernel: WorkerKernel, index: int, lock: RunnerLock) -> None:
        try:
            self._prepare_worker(kernel, index)
            while (trial := self._next_trial(lock)) is not None:
                try:
                    outcome = self._dispatch(kernel, trial)
                except WorkerDied as exc:
                    self._lost(trial, kernel, exc, lock)
                    kernel.shutdown()
                    if self.stop_event.is_set() or not self._replace(kernel, index):
                        return
                    continue
                self._finished(trial, outcome, lock)
        except BaseException as exc:  # a setup error, a fatal trial: stop the study with it
            self._stop_with(exc)

    def _replace(self, kernel: WorkerKernel, index: int) -> bool:
        """Start a new kernel in place of a dead one; False when none can be had there (a
        gateway that went away): the other kernels go on with the study."""
        try:
            self._prepare_worker(kernel, index)
        except (KernelError, WorkerDied) as exc:
            if isinstance(exc, SetupError):
                raise
            with self._lock:
                self._alive -= 1
                alive = self._alive
            if not alive:
                raise KernelError(f"every worker kernel is gone; the last: {exc}") from None
            print(f"{kernel.label} cannot be replaced ({exc}); its trials go on on the "
                  f"{alive} other kernel(s)")
            return False
        return True

    def _stop_with(self, exc: BaseException) -> None:
        with self._lock:
            if self._fatal is None and not self.stop_event.is_set():
                self._fatal = exc
            self.stop_event.set()

    def _prepare_worker(self, kernel: WorkerKernel, index: int) -> None:
        """Start the kernel (the study's secret in its environment), replay the setup and ship
        the variables into it."""
        served = self.served
        if served is not None:
            kernel.env = {**kernel.env, **served.env()}
        kernel.start()
        host = "" if served is None else served.address(remote=not isinstance(kernel,
                                                                              LocalKernel))
        config = worker.config_json(self.prepared, self.cell.source, host,
                                    0 if served is None else served.port, index)
        steps = ["%load_ext jupyter_automl", *self._first_steps(), *self.setup_cells,
                 *self.shipped,
                 "import jupyter_automl.workers._worker as __automl_worker\n"
                 f"__automl_worker.configure({config!r})"]
        for code in steps:
            reply = kernel.execute(code, timeout=SETUP_TIMEOUT)
            if reply.status != "ok":
                raise SetupError(f"the setup failed on {kernel.label}, so no trial can run "
                                 f"there; fix the %%automl_setup cell and rerun.\n"
                                 f"{reply.error or reply.output}")

    def _first_steps(self) -> list[str]:
        """Code a new worker runs before the setup cells."""
        return []

    def _next_trial(self, lock: RunnerLock) -> optuna.Trial | None:
        with self._lock:
            timeout = self.prepared.options.timeout
            if self.stop_event.is_set() or (timeout is not None and self.elapsed >= timeout):
                return None
            if self._rest(lock) is not None:  # the total is reached, or running elsewhere
                return None
            trial = self.study.ask()
            lock.claim(trial)
            self._emit("trial_started", trial)
            return trial

    def _dispatch(self, kernel: WorkerKernel, trial: optuna.Trial) -> Outcome:
        self.running[kernel.label] = trial.number
        try:
            reply = kernel.execute(f"__automl_out = __automl_worker.run({trial.number})",
                                   {"out": "__automl_out"},
                                   timeout=self.prepared.options.trial_timeout)
        finally:
            self.running.pop(kernel.label, None)
        data = reply.expressions.get("out", {})
        if reply.status != "ok" or data.get("status") != "ok":
            return Outcome("FAIL", error=f"{kernel.label}: {reply.error or data}")
        result = json.loads(ast.literal_eval(data["data"]["text/plain"]))
        outcome = Outcome(result["state"], values=result["values"], error=result["error"],
                          duration=result["duration"])
        if result["fatal"]:
            outcome.fatal = AutomlError(result["error"])
        outcome.extra = {"kernel": kernel.label, "curve": result["curve"],
                         "peak_mb": result["peak_mb"], "output": reply.output,
                         "resumed_at": result["resumed_at"],
                         "export_error": result.get("export_error")}
        outcome.taken = bool(result.get("taken"))
        if reply.output.strip():
            for line in reply.output.rstrip().splitlines():
                print(f"[{kernel.label}, trial {trial.number}] {line}")
        return outcome

    def _finished(self, trial: optuna.Trial, outcome: Outcome, lock: RunnerLock) -> None:
        with self._lock:
            self._tell(trial, outcome)
            lock.release_trial(trial.number)
            self._emit("trial_finished", trial, outcome)
            taken = outcome.taken
            self._failures = self._failures + 1 if outcome.state == "FAIL" and not taken else 0
            if outcome.fatal is not None:
                raise outcome.fatal
            if self._failures >= self.prepared.options.max_failures:
                raise TooManyFailuresError(
                    f"{self._failures} trials in a row failed; the last one with:\n"
                    f"{outcome.error}\nFix the cell (%%automl --check runs one short trial) "
                    f"and rerun it: the {self.done} finished trials are kept.")

    def _lost(self, trial: optuna.Trial, kernel: WorkerKernel, exc: WorkerDied,
              lock: RunnerLock) -> None:
        import optuna

        with self._lock:
            lock.release_trial(trial.number)
            stored = _optuna.frozen(self.study, trial)
            if stored.state.is_finished():
                return
            why = "interrupted" if self.stop_event.is_set() else f"its kernel died ({exc})"
            try:
                retried = fail_and_retry(self.study, stored, self.paths, reason=why)
            except optuna.exceptions.UpdateFinishedTrialError:
                return  # told or taken over meanwhile
            self.counts["FAIL"] += 1
            self._failures += 1  # a cell that hangs every time must not loop for ever
            if not self.stop_event.is_set():
                again = "queued to resume from its checkpoint" if retried else "not retried"
                print(f"trial {trial.number} lost: {exc}; the trial is {again}; "
                      f"{self.restart_text}")

    def _shutdown(self) -> None:
        for kernel in self.kernels:
            try:
                kernel.shutdown()
            except Exception as exc:  # the others must still be shut down
                print(f"could not shut down {kernel.label}: {exc}")


def ship_variables(prepared: PreparedStudy, namespace: dict[str, Any],
                   names: Sequence[str]) -> list[str]:
    """Pickle the named notebook variables next to the study; return the code that loads them."""
    missing = [n for n in names if n not in namespace]
    if missing:
        raise OptionError(f"--ship: {', '.join(missing)} not defined in the notebook; define "
                          "them first (or ship only existing variables)")
    folder = prepared.paths.root / "ship"
    folder.mkdir(parents=True, exist_ok=True)
    code = []
    for name in names:
        path = folder / f"{name}.pkl"
        with open(path, "wb") as f:
            pickle.dump(namespace[name], f, protocol=pickle.HIGHEST_PROTOCOL)
        code.append(f"import pickle as __p\nwith open({str(path)!r}, 'rb') as __f:\n"
                    f"    {name} = __p.load(__f)")
    return code
