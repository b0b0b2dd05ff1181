"""Local worker kernels, started with jupyter_client from the notebook's own Python.

None outlives the notebook's kernel: an ``atexit`` hook here kills those still running when it
exits, and each watches for its parent (:mod:`._watch`) in case it is killed outright.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import queue
import time
import weakref
from pathlib import Path
from typing import Any

from ..._utils.process import kernel_encryption, local_kernel_transport
from ._base import KernelError, Reply, WorkerDied, WorkerHung, WorkerKernel, plain
from ._watch import PARENT_ENV

POLL = 0.2  # seconds between two liveness checks while a worker runs something
START_ATTEMPTS = 3  # starts of a kernel that dies before it answers
IDLE_WAIT = 10.0  # seconds the last outputs of a request may lag behind its reply
WATCH = "import jupyter_automl.workers.kernels._watch as __w\n__w.watch()\ndel __w"

_STARTED: weakref.WeakSet[LocalKernel] = weakref.WeakSet()  # for the atexit hook


class LocalKernel(WorkerKernel):
    def __init__(self, index: int, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.index = index
        self.label = f"local kernel {index}"
        self.cwd = cwd
        self.env = env or {}
        self.km: Any = None
        self.kc: Any = None
        self.started = 0.0  # time.time() of the last start
        self.started_as = ""  # fingerprint() at the last start

    def full_env(self) -> dict[str, str]:
        """The environment the kernel starts with: the notebook's, and :attr:`env` over it."""
        return {**os.environ, "JUPYTER_AUTOML_WORKER": "1", PARENT_ENV: str(os.getpid()),
                **self.env}

    def fingerprint(self) -> str:
        """A digest of what a new kernel would start with (folder, environment): a running
        kernel started with another one has stale settings (or secrets) in it."""
        what = json.dumps([str(self.cwd), sorted(self.full_env().items())])
        return hashlib.sha256(what.encode()).hexdigest()

    def start(self, attempts: int = START_ATTEMPTS) -> None:
        """Start the kernel. One that dies before it answers is started again (over TCP, see
        :func:`~jupyter_automl._utils.process.kernel_connection_file`, on new ports); one
        that does not answer in 120 s is not."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                break
            except KernelError as exc:
                if attempt == attempts or "died" not in str(exc):
                    raise
        self.execute(WATCH, timeout=60)  # it ends if this process is killed

    def _start_once(self) -> None:
        from jupyter_client import KernelManager

        self.shutdown()  # never two kernels under one label: the first would be orphaned
        self.km = KernelManager(kernel_name="python3", transport_encryption=kernel_encryption(),
                                **local_kernel_transport())
        self.replayed = None
        self.started, self.started_as = time.time(), self.fingerprint()
        _STARTED.add(self)
        try:
            self.km.start_kernel(cwd=str(self.cwd), env=self.full_env())
            self.kc = self.km.client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=120)
        except Exception as exc:
            self.shutdown()
            raise KernelError(f"{self.label} did not start: {exc}") from None

    @property
    def pid(self) -> int | None:
        process = getattr(self.km.provisioner, "process", None) if self.km else None
        return None if process is None else int(process.pid)

    def rss_mb(self) -> float | None:
        """The kernel's resident memory in MB (None if it is not running)."""
        import psutil  # a dependency of ipykernel

        try:
            return float(psutil.Process(self.pid or -1).memory_info().rss) / 2**20
        except (psutil.Error, ValueError):
            return None

    def is_alive(self) -> bool:
        return bool(self.km is not None and self.km.is_alive())

    def execute(self, code: str, expressions: dict[str, str] | None = None,
                timeout: float | None = None) -> Reply:
        if not self.is_alive():
            raise WorkerDied(f"{self.label} is not running")
        kc = self.kc  # shutdown() from another thread may drop self.kc meanwhile
        msg_id = kc.execute(code, user_expressions=expressions or {}, allow_stdin=False)
        reply = Reply("ok")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                self._drain(kc, msg_id, reply)
                msg = kc.get_shell_msg(timeout=POLL)
            except queue.Empty:
                if not self.is_alive():
                    raise WorkerDied(f"{self.label} died") from None
                if deadline is not None and time.monotonic() > deadline:
                    raise WorkerHung(f"{self.label} did not answer within {timeout:.0f}s") \
                        from None
                continue
            except Exception as exc:  # its channels were closed under it: a shutdown
                raise WorkerDied(f"{self.label} was shut down ({exc})") from None
            if msg["parent_header"].get("msg_id") == msg_id:
                break
        # The reply can come before the last outputs (iopub is another socket): those end with
        # the kernel going idle for this request.
        idle_by = time.monotonic() + IDLE_WAIT
        while not self._drain(kc, msg_id, reply) and time.monotonic() < idle_by:
            time.sleep(0.01)
        content = msg["content"]
        reply.status = content["status"]
        reply.expressions = content.get("user_expressions", {})
        return reply

    @staticmethod
    def _drain(kc: Any, msg_id: str, reply: Reply) -> bool:
        """Collect the outputs of request ``msg_id`` received so far; True once the kernel
        has said it is idle after it (no more will come)."""
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=0)
            except queue.Empty:
                return False
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                reply.output += content["text"]
            elif kind == "error":
                reply.error = plain("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return True

    def shutdown(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            try:
                if self.km.is_alive():
                    self.km.shutdown_kernel(now=True)
                else:
                    self.km.cleanup_resources()
            finally:
                self.km = None


    def kill(self) -> None:
        """End the kernel at once, without jupyter_client's event loop (the interpreter may be
        exiting): SIGKILL, then its connection file removed."""
        process = getattr(self.km.provisioner, "process", None) if self.km else None
        if process is not None and process.poll() is None:
            process.kill()
            with contextlib.suppress(Exception):
                process.wait(timeout=5)
        if self.km is not None:
            with contextlib.suppress(Exception):
                self.km.cleanup_connection_file()
            with contextlib.suppress(Exception):
                self.km.cleanup_ipc_files()
        self.km = self.kc = None


@atexit.register
def _kill_all() -> None:
    """The notebook's kernel exits: so do the worker kernels it started (warm ones included)."""
    for kernel in list(_STARTED):
        with contextlib.suppress(Exception):
            kernel.kill()
