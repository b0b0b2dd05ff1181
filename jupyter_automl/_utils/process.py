"""This process: its memory, a quiet import of Keras, the transport of the kernels it starts."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from .noise import is_noise

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """This process's resident memory in MB (sampled: the peak between samples is missed).

    Read from ``/proc/self/statm`` where there is one (20 us; psutil takes 180 us, a cost
    every trial pays), else through psutil."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE / 2**20
    except (OSError, IndexError, ValueError):
        import psutil  # a dependency of ipykernel

        return float(psutil.Process().memory_info().rss) / 2**20


def import_keras() -> Any:
    """``import keras``, without TensorFlow's start-up chatter on stderr (other lines stay)."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines()
                    if not is_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    return keras


def kernel_encryption() -> str:
    """The kernels jupyter-automl starts talk over CurveZMQ where pyzmq has it: the messages
    are signed with a per-kernel key anyway, this also keeps their content off the wire."""
    import zmq

    return "auto" if zmq.has("curve") else "disabled"


_SOCKET_PATH_MAX = 100  # bytes: a Unix socket's path must fit sockaddr_un (104 or 108)


def kernel_connection_file() -> str | None:
    """Where a kernel jupyter-automl starts on this machine keeps its connection file, when it
    can talk over Unix sockets (``ipc``) beside it; None where it cannot (Windows, or a
    runtime folder whose path is too long for a socket), and the kernel uses TCP.

    TCP would do, but its ports are drawn by binding port 0 and letting go: two processes
    starting kernels at once can draw the same one, and the second kernel dies binding it
    ("Address already in use"). A socket named after the kernel cannot be drawn twice. They
    sit in Jupyter's runtime folder, which only this user can enter."""
    if os.name == "nt":
        return None
    import secrets

    from jupyter_core.paths import jupyter_runtime_dir

    folder = jupyter_runtime_dir()
    path = os.path.join(folder, f"automl-kernel-{secrets.token_hex(6)}.json")
    if len(os.path.splitext(path)[0].encode()) + len("-ipc-99") > _SOCKET_PATH_MAX:
        return None
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return path


def local_kernel_transport() -> dict[str, str]:
    """The keyword arguments that give a jupyter_client kernel manager this machine's
    transport (see :func:`kernel_connection_file`)."""
    path = kernel_connection_file()
    if path is None:
        return {}
    return {"transport": "ipc", "connection_file": path, "ip": os.path.splitext(path)[0] + "-ipc"}
