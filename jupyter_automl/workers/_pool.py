"""Trials on worker kernels: the driver (the notebook's kernel) keeps the study and serves it to
them over gRPC (or they reach a database server themselves); each kernel is a slot of the loop,
which has it run trial after trial.

A worker that dies mid-trial loses its trial (the loop fails it and queues its retry, resumed
from its checkpoint on whichever kernel is free) and is restarted with the setup replayed. A
setup cell that fails on a worker stops the study with that worker's traceback; nothing is
retried. Every worker is shut down when the run ends, however it ends.
"""

from __future__ import annotations

import ast
import contextlib
import json
import pickle
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import _optuna
from ..engine import Outcome, TrialLost
from ..errors import AutomlError, OptionError
from . import _worker as worker
from .kernels import (
    KernelError,
    LocalKernel,
    Served,
    SetupError,
    WorkerDied,
    WorkerKernel,
    is_loopback,
)
from .kernels import serve as serve_study

if TYPE_CHECKING:
    import optuna

    from ..engine import Cell, PreparedStudy

SETUP_TIMEOUT = 600.0  # seconds a setup cell may take on a worker


class KernelPool:
    """Each worker kernel a slot: ``len(kernels)`` trials at a time."""

    restart_text = "starting a new kernel"  # what follows a lost trial

    def __init__(self, prepared: PreparedStudy, cell: Cell, namespace: dict[str, Any],
                 kernels: Sequence[WorkerKernel], setup_cells: Sequence[str] = (),
                 ship: Sequence[str] = (), host: str = "127.0.0.1") -> None:
        self.prepared = prepared
        self.cell = cell
        self.kernels = list(kernels)
        self.slots = len(self.kernels)
        self.label = f"{self.slots} worker kernel{'s' * (self.slots > 1)}"
        self.setup_cells = list(setup_cells)
        self.host = host
        self.shipped = ship_variables(prepared, namespace, ship)
        self.running: dict[str, int] = {}  # kernel label -> the trial it runs
        self.served: Served | None = None  # the study, as served to the workers
        self._mutex = threading.Lock()
        self._alive = len(self.kernels)
        self._closing = False  # the run is ending: a kernel that dies now is not replaced
        # A server database (--storage postgresql://...) is reached straight from local kernels,
        # its URL in their environment (a password in it stays out of code and outputs);
        # other storages, and remote kernels, go through the driver's gRPC proxy.
        self.direct = prepared.shared
        for kernel in self.kernels:
            if self.direct and isinstance(kernel, LocalKernel):
                kernel.env = {**kernel.env, worker.STORAGE_ENV: prepared.url}

    @contextlib.contextmanager
    def session(self, run: Any) -> Iterator[None]:
        """Serve the study to the workers while the run lasts; shut every worker down after."""
        for kernel in self.kernels:  # an unreachable gateway or a wrong token: say so now
            kernel.preflight()
        self._alive = len(self.kernels)
        self._closing = False
        proxied = not self.direct or not all(isinstance(k, LocalKernel) for k in self.kernels)
        serving = serve_study(_optuna.storage_of(self.prepared.study), self.host) if proxied \
            else contextlib.nullcontext(None)
        with serving as self.served:
            if self.served is not None and not is_loopback(self.host):
                print(f"the study is served on {self.host}:{self.served.port} over TLS, to "
                      "callers with this run's secret only")
            try:
                yield
            finally:
                self.interrupt()

    def prepare(self, slot: int) -> bool:
        """Start the slot's kernel; one that dies as it starts (killed, out of memory) is
        replaced like a kernel lost mid-trial."""
        kernel = self.kernels[slot]
        try:
            self._prepare_worker(kernel, slot)
        except WorkerDied as exc:
            if self._closing:
                return False
            print(f"{kernel.label} died as it started ({exc}); {self.restart_text}")
            return self.replace(slot)
        return True

    def replace(self, slot: int) -> bool:
        """Start a new kernel in place of a dead one; False when none can be had there (a
        gateway that went away): the other kernels go on with the study."""
        kernel = self.kernels[slot]
        kernel.shutdown()
        try:
            self._prepare_worker(kernel, slot)
        except (KernelError, WorkerDied) as exc:
            if isinstance(exc, SetupError):
                raise
            with self._mutex:
                self._alive -= 1
                alive = self._alive
            if not alive:
                raise KernelError(f"every worker kernel is gone; the last: {exc}") from None
            print(f"{kernel.label} cannot be replaced ({exc}); its trials go on on the "
                  f"{alive} other kernel(s)")
            return False
        return True

    def run(self, trial: optuna.Trial, slot: int) -> Outcome:
        kernel = self.kernels[slot]
        try:
            return self._dispatch(kernel, trial)
        except WorkerDied as exc:
            raise TrialLost(f"its kernel died ({exc})", said=str(exc)) from None

    def interrupt(self) -> None:
        """Shut every worker down: their running trials are lost (and queued to resume)."""
        self._closing = True
        for kernel in self.kernels:
            try:
                kernel.shutdown()
            except Exception as exc:  # the others must still be shut down
                print(f"could not shut down {kernel.label}: {exc}")

    # -- one worker ------------------------------------------------------------------------------
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
        steps = ["%load_ext jupyter_automl", *self.first_steps(), *self.setup_cells,
                 *self.shipped,
                 "import jupyter_automl.workers._worker as __automl_worker\n"
                 f"__automl_worker.configure({config!r})"]
        for code in steps:
            reply = kernel.execute(code, timeout=SETUP_TIMEOUT)
            if reply.status != "ok":
                raise SetupError(f"the setup failed on {kernel.label}, so no trial can run "
                                 f"there; fix the %%automl_setup cell and rerun.\n"
                                 f"{reply.error or reply.output}")

    def first_steps(self) -> list[str]:
        """Code a new worker runs before the setup cells."""
        return []

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
        if result["state"] == "STOPPED":  # the study's stop request reached the worker
            raise TrialLost("stopped", said=f"{kernel.label}: {result['error']}")
        outcome = Outcome(result["state"], values=result["values"], error=result["error"],
                          duration=result["duration"], peak_mb=result["peak_mb"],
                          taken=bool(result.get("taken")))
        if result["fatal"]:
            outcome.fatal = AutomlError(result["error"])
        outcome.extra = {"kernel": kernel.label, "curve": result["curve"],
                         "output": reply.output, "resumed_at": result["resumed_at"],
                         "export_error": result.get("export_error")}
        if reply.output.strip():
            for line in reply.output.rstrip().splitlines():
                print(f"[{kernel.label}, trial {trial.number}] {line}")
        return outcome


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
