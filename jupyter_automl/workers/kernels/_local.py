"""Local worker kernels, started with jupyter_client from the notebook's own Python."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path
from typing import Any

from ..._utils.process import kernel_encryption
from ._base import KernelError, Reply, WorkerDied, WorkerKernel, plain

POLL = 0.2  # seconds between two liveness checks while a worker runs something
IDLE_WAIT = 10.0  # seconds the last outputs of a request may lag behind its reply


class LocalKernel(WorkerKernel):
    def __init__(self, index: int, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.index = index
        self.label = f"local kernel {index}"
        self.cwd = cwd
        self.env = env or {}
        self.km: Any = None
        self.kc: Any = None

    def start(self) -> None:
        from jupyter_client import KernelManager

        self.shutdown()  # never two kernels under one label: the first would be orphaned
        self.km = KernelManager(kernel_name="python3", transport_encryption=kernel_encryption())
        env = {**os.environ, "JUPYTER_AUTOML_WORKER": "1", **self.env}
        try:
            self.km.start_kernel(cwd=str(self.cwd), env=env)
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
                    raise WorkerDied(f"{self.label} did not answer within {timeout:.0f}s") \
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

