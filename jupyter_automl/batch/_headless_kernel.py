"""The kernel of a headless run (``jupyter-automl run``, each point of a sweep).

papermill starts it through this kernel manager, which

- encrypts the kernel's transport (CurveZMQ) where pyzmq supports it, and makes it Unix
  sockets where it can (two runs starting kernels at once cannot draw the same TCP port);
- reads the kernel's standard error itself and drops known start-up noise (see
  :mod:`._noise`), so a run prints what matters: worker kernels started by the study inherit
  that stream, so theirs is filtered too;
- keeps a list of the kernels running now, so that Ctrl-C can interrupt them
  (:func:`interrupt_all`): the study checkpoints its trial and stops, as ■ does in a notebook.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from .._utils.noise import is_noise
from .._utils.process import kernel_encryption, local_kernel_transport

_RUNNING: set[HeadlessKernelManager] = set()
_lock = threading.Lock()


class HeadlessKernelManager(AsyncKernelManager):  # type: ignore[misc]
    @default("transport_encryption")
    def _default_encryption(self) -> str:
        return kernel_encryption()

    def __init__(self, **kw: Any) -> None:
        super().__init__(**{**local_kernel_transport(), **kw})

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        read, write = os.pipe()
        kw["stderr"] = write
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            os.close(write)  # the kernel holds its own copy
        self._closing = threading.Event()
        threading.Thread(target=_relay, args=(read, self._closing), name="automl-kernel-stderr",
                         daemon=True).start()
        with _lock:
            _RUNNING.add(self)

    async def shutdown_kernel(  # type: ignore[override]
            self, now: bool = False, restart: bool = False) -> None:
        """Once the run asks the kernel to shut down, what it writes is its teardown: ipykernel
        may log a traceback of its own there (a status sent on a socket it has already closed,
        "Socket operation on non-socket"), which is no error of the run's."""
        closing = getattr(self, "_closing", None)
        if closing is not None:
            closing.set()
        await super().shutdown_kernel(now=now, restart=restart)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        with _lock:
            _RUNNING.discard(self)
        await super()._async_cleanup_resources(restart=restart)


def _relay(fd: int, closing: threading.Event) -> None:
    """Copy the kernel's standard error to ours, line by line, without the noise and without
    what it writes once it is shutting down."""
    with os.fdopen(fd, "rb") as stream:
        for raw in stream:
            line = raw.decode(errors="replace")
            if not closing.is_set() and not is_noise(line):
                sys.stderr.write(line)
                sys.stderr.flush()


def interrupt_all() -> int:
    """Send SIGINT to every headless kernel running now (as a notebook's ■ does); returns how
    many were interrupted."""
    with _lock:
        kernels = list(_RUNNING)
    count = 0
    for km in kernels:
        pid = getattr(km.provisioner, "pid", None)
        if pid is None:
            continue
        try:  # the kernel's process group, as jupyter_client's own interrupt does
            os.killpg(os.getpgid(pid), signal.SIGINT)
            count += 1
        except (ProcessLookupError, PermissionError):
            continue
    return count


@contextlib.contextmanager
def forward_interrupts() -> Iterator[None]:
    """Inside the block, the first Ctrl-C interrupts the headless kernels (their studies
    checkpoint and stop, the notebooks are saved); a second one stops this process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, previous)
        if not interrupt_all():
            raise KeyboardInterrupt
        print("\njupyter-automl: interrupting the notebook's kernel: its study checkpoints the "
              "running trial and stops (Ctrl-C again to stop at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
