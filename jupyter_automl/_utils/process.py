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
