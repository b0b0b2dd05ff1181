"""This process: its memory, a quiet import of Keras, the transport of the kernels it starts."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from .tf_startup import quiet_stderr_fd

# TensorFlow's (and OpenMP's) thread counts: a worker given a share of the cores sets them
THREAD_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
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
    with quiet_stderr_fd():
        import keras
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
    path = os.path.join(folder, f"{_KERNEL_FILES}{secrets.token_hex(6)}.json")
    if len(os.path.splitext(path)[0].encode()) + len("-ipc-99") > _SOCKET_PATH_MAX:
        return None
    os.makedirs(folder, mode=0o700, exist_ok=True)
    prune_kernel_files(folder)
    return path


_KERNEL_FILES = "automl-kernel-"  # the names of the files of the kernels it starts
_STALE_AFTER = 600.0  # seconds: a kernel binds its sockets long before (its start waits 120 s)


def prune_kernel_files(folder: str) -> list[str]:
    """Remove the files of kernels that are gone (a kernel killed outright cannot remove its
    own): a connection file older than ten minutes whose shell socket nobody listens on, and its
    sockets. Returns the connection files removed."""
    import glob
    import socket
    import time

    removed = []
    for connection in glob.glob(os.path.join(glob.escape(folder), f"{_KERNEL_FILES}*.json")):
        stem = connection[:-len(".json")]
        try:
            if time.time() - os.path.getmtime(connection) < _STALE_AFTER:
                continue
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(f"{stem}-ipc-1")
            continue  # its kernel answers
        except (ConnectionRefusedError, FileNotFoundError):
            pass
        except OSError:
            continue
        for path in [connection, *glob.glob(f"{glob.escape(stem)}-ipc-*")]:
            with contextlib.suppress(OSError):
                os.remove(path)
        removed.append(connection)
    return removed


def local_kernel_transport() -> dict[str, str]:
    """The keyword arguments that give a jupyter_client kernel manager this machine's
    transport (see :func:`kernel_connection_file`)."""
    path = kernel_connection_file()
    if path is None:
        return {}
    return {"transport": "ipc", "connection_file": path, "ip": os.path.splitext(path)[0] + "-ipc"}
