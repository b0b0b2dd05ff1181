"""Trials on worker kernels: the driver (the notebook's kernel) keeps the study and serves it to
them over gRPC (or they reach a database server themselves); each kernel is a slot of the loop,
which has it run trial after trial.

A worker that dies mid-trial loses its trial (the loop fails it and queues its retry, resumed
from its checkpoint on whichever kernel is free) and is restarted with the setup replayed. A
setup cell that fails on a worker stops the study with that worker's traceback; nothing is
retried. When the run ends, local kernels that are idle stay warm for the next run
(:mod:`._warm`); a kernel still busy (an interrupt cut its trial short) is shut down, and so is
every kernel of a pool that keeps none warm.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import pickle
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import _optuna
from ..engine import Outcome, RunEnd, TrialLost
from ..errors import AutomlError, OptionError
from . import _worker as worker
from ._warm import REGISTRY, Replay, plan
from .kernels import (
    KernelError,
    LocalKernel,
    Served,
    SetupError,
    WorkerDied,
    WorkerHung,
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
    keeps_warm = True  # idle local kernels outlive the run (see _warm)

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
        self._busy: set[int] = set()  # id() of the kernels running code for this run now
        self._keep = True  # False once a setup failed: no kernel of the run stays warm
        # kept warm: local kernels, and a study served on loopback (beyond it, each run's TLS
        # certificate is in the kernels' environment: they would start anew anyway)
        self.warm = self.keeps_warm and all(isinstance(k, LocalKernel) for k in self.kernels) \
            and (prepared.shared or is_loopback(host))
        # A server database (--storage postgresql://...) is reached straight from local kernels,
        # its URL in their environment (a password in it stays out of code and outputs);
        # other storages, and remote kernels, go through the driver's gRPC proxy.
        self.direct = prepared.shared
        for kernel in self.kernels:
            if self.direct and isinstance(kernel, LocalKernel):
                kernel.env = {**kernel.env, worker.STORAGE_ENV: prepared.url}

    @contextlib.contextmanager
    def session(self, run: Any) -> Iterator[None]:
        """Serve the study to the workers while the run lasts; after it, keep the idle ones
        warm (or shut them down) and shut the others down."""
        for kernel in self.kernels:  # an unreachable gateway or a wrong token: say so now
            kernel.preflight()
        self._alive = len(self.kernels)
        self._closing, self._keep = False, True
        self._busy.clear()
        proxied = not self.direct or not all(isinstance(k, LocalKernel) for k in self.kernels)
        # warm kernels keep the study's secret in their environment: the registry's, the same
        # for every run (a new one per run would mean new kernels)
        token = REGISTRY.token if self.warm else None
        serving = serve_study(_optuna.storage_of(self.prepared.study), self.host, token) \
            if proxied else contextlib.nullcontext(None)
        with serving as self.served:
            if self.served is not None and not is_loopback(self.host):
                print(f"the study is served on {self.host}:{self.served.port} over TLS, to "
                      "callers with the workers' secret only")
            try:
                self._lease()
                yield
            finally:
                self.interrupt()
                self._give_back()

    def _lease(self) -> None:
        """Take the registry's warm kernel for each slot that has one fit for this run."""
        if not self.warm:
            return
        for slot, kernel in enumerate(self.kernels):
            if self.served is not None:
                kernel.env = {**kernel.env, **self.served.env()}
            self.kernels[slot] = REGISTRY.lease(cast(LocalKernel, kernel),
                                                self.prepared.options.name)

    def _give_back(self) -> None:
        """Give the kernels back to the registry as the run ends (a warm pool), or shut them
        down."""
        for kernel in self.kernels:
            if not self.warm:
                self._shut(kernel)
                continue
            clean = self._keep and id(kernel) not in self._busy
            try:
                REGISTRY.release(cast(LocalKernel, kernel), clean)
            except Exception as exc:  # the others must still be given back
                print(f"could not shut down {kernel.label}: {exc}")

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
        if self._closing:
            return False
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
            raise TrialLost(f"its kernel died ({exc})", said=str(exc),
                            hung=isinstance(exc, WorkerHung)) from None

    def interrupt(self) -> None:
        """Stop every running trial now: the kernels running code are shut down (their trials
        are lost, and queued to resume; a kernel cut short mid-trial is never reused). Idle
        kernels of a warm pool are left for :meth:`_give_back`; other pools shut every one."""
        with self._mutex:
            self._closing = True  # no code starts on a kernel of this run from now on
            ending = [k for k in self.kernels if not self.warm or id(k) in self._busy]
        for kernel in ending:
            self._shut(kernel)

    def shutdown_all(self) -> None:
        for kernel in self.kernels:
            self._shut(kernel)

    @staticmethod
    def _shut(kernel: WorkerKernel) -> None:
        try:
            kernel.shutdown()
        except Exception as exc:  # the others must still be shut down
            print(f"could not shut down {kernel.label}: {exc}")

    def _execute(self, kernel: WorkerKernel, code: str,
                 expressions: dict[str, str] | None = None,
                 timeout: float | None = None) -> Any:
        """``kernel.execute``, the kernel counted busy until it answers (one that never does
        stays busy: it is not kept warm)."""
        with self._mutex:
            if self._closing:
                raise WorkerDied(f"{kernel.label}: the run is ending")
            self._busy.add(id(kernel))
        reply = kernel.execute(code, expressions, timeout=timeout)
        with self._mutex:
            self._busy.discard(id(kernel))
        return reply

    # -- one worker ------------------------------------------------------------------------------
    def _prepare_worker(self, kernel: WorkerKernel, index: int) -> None:
        """Start the kernel (the study's secret in its environment), replay the setup and ship
        the variables into it; a warm kernel gets only what it lacks (or starts anew), and
        the study's configuration."""
        served = self.served
        if served is not None:
            kernel.env = {**kernel.env, **served.env()}
        wanted = Replay(("%load_ext jupyter_automl", *self.first_steps()),
                        tuple(self.setup_cells), tuple(self.shipped))
        warm = kernel.replayed is not None and kernel.is_alive()
        steps = plan(kernel.replayed, wanted) if warm else None
        if steps is None:
            if warm:
                print(f"{kernel.label}: the setup cells or shipped variables changed since its "
                      "last run; starting a new kernel")
            kernel.start()
            steps = wanted.steps()
        kernel.replayed = None  # until every step has run
        for code in steps:
            self._setup_step(kernel, code)
        kernel.replayed = wanted
        self._configure(kernel, index)

    def _configure(self, kernel: WorkerKernel, index: int) -> None:
        """Give the worker the study's configuration (where the study is served, the cell)."""
        served = self.served
        host = "" if served is None else served.address(remote=not isinstance(kernel,
                                                                              LocalKernel))
        config = worker.config_json(self.prepared, self.cell.source, host,
                                    0 if served is None else served.port, index)
        self._setup_step(kernel, "import jupyter_automl.workers._worker as __automl_worker\n"
                                 f"__automl_worker.configure({config!r})")

    def _setup_step(self, kernel: WorkerKernel, code: str) -> None:
        self._check_setup(kernel, self._execute(kernel, code, timeout=SETUP_TIMEOUT))

    def _check_setup(self, kernel: WorkerKernel, reply: Any) -> None:
        if reply.status != "ok":
            self._keep = False
            raise SetupError(f"the setup failed on {kernel.label}, so no trial can run "
                             f"there; fix the %%automl_setup cell and rerun.\n"
                             f"{reply.error or reply.output}")

    def first_steps(self) -> list[str]:
        """Code a new worker runs before the setup cells."""
        return []

    def _dispatch(self, kernel: WorkerKernel, trial: optuna.Trial) -> Outcome:
        from optuna.trial import TrialState

        self.running[kernel.label] = trial.number
        try:
            reply = self._execute(kernel, f"__automl_out = __automl_worker.run({trial.number})",
                                  {"out": "__automl_out"},
                                  timeout=self.prepared.options.trial_timeout)
        finally:
            self.running.pop(kernel.label, None)
        data = reply.expressions.get("out", {})
        if reply.status != "ok" or data.get("status") != "ok":
            return Outcome(TrialState.FAIL, error=f"{kernel.label}: {reply.error or data}")
        result = json.loads(ast.literal_eval(data["data"]["text/plain"]))
        if result.get("stopped"):  # the study's stop request reached the worker
            raise TrialLost(cut=RunEnd.STOPPED, said=f"{kernel.label}: {result['error']}")
        if result.get("lost"):
            raise TrialLost(result["lost"], said=f"{kernel.label}: {result['lost']}")
        if result.get("disk_full"):
            raise TrialLost(cut=RunEnd.DISK_FULL, stops_study=True,
                            said=f"{kernel.label}: {result['error']}")
        outcome = Outcome(TrialState[result["state"]], values=result["values"],
                          error=result["error"],
                          duration=result["duration"], peak_mb=result["peak_mb"],
                          taken=bool(result.get("taken")))
        if result["fatal"]:
            outcome.fatal = AutomlError(result["error"])
        outcome.extra = {"kernel": kernel.label, "curve": result["curve"],
                         "output": reply.output, "resumed_at": result["resumed_at"],
                         "export_error": result.get("export_error"),
                         "gpu_peak_mb": result.get("gpu_peak_mb"),
                         "history": result.get("history"),
                         "tensorboard_dirs": result.get("tensorboard_dirs") or []}
        if reply.output.strip():
            for line in reply.output.rstrip().splitlines():
                print(f"[{kernel.label}, trial {trial.number}] {line}")
        return outcome


def ship_variables(prepared: PreparedStudy, namespace: dict[str, Any],
                   names: Sequence[str]) -> list[tuple[str, str]]:
    """Pickle the named notebook variables next to the study; return each name with the code
    that loads it (the pickle's digest in a comment: a warm kernel loads a changed value
    again)."""
    missing = [n for n in names if n not in namespace]
    if missing:
        raise OptionError(f"--ship: {', '.join(missing)} not defined in the notebook; define "
                          "them first (or ship only existing variables)")
    code = []
    for name in names:
        path = ship_path(prepared, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            digest = _Digest(f)
            pickle.dump(namespace[name], digest, protocol=pickle.HIGHEST_PROTOCOL)
        code.append((name, f"# sha256 {digest.sha.hexdigest()}\n"
                           f"import pickle as __p\nwith open({str(path)!r}, 'rb') as __f:\n"
                           f"    {name} = __p.load(__f)"))
    return code


def ship_path(prepared: PreparedStudy, name: str) -> Path:
    """Where the notebook variable ``name`` is pickled for the workers."""
    return prepared.paths.root / "ship" / f"{name}.pkl"


class _Digest:
    """A file to write to that also hashes what it gets."""

    def __init__(self, file: Any) -> None:
        self.file, self.sha = file, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return int(self.file.write(data))
