"""The TensorFlow distribution strategy a trial runs under, and the GPUs of worker kernels.

``--strategy auto`` (the default with ``--gpus-per-trial``) picks OneDevice for one GPU,
Mirrored for several, and TensorFlow's default strategy on CPU. ``mirrored`` without GPUs
mirrors over the logical CPU devices (how it is tested here: the CPU split in two).
"""

from __future__ import annotations

import contextlib
import functools
import math
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

from .errors import OptionError

STRATEGIES = ("auto", "default", "one-device", "mirrored")


@functools.cache
def make(name: str) -> Any:
    """The ``tf.distribute`` strategy called ``name`` (None: TensorFlow's default).

    One per process, for every trial: each new MirroredStrategy numbers its collective ops
    afresh, and two trials' models then collide in them (a shape mismatch at the first step).
    """
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if name == "auto":
        name = "default" if not gpus else ("one-device" if len(gpus) == 1 else "mirrored")
    if name == "default":
        return None
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy((gpus or cpus)[0])
    return tf.distribute.MirroredStrategy(devices=gpus or cpus)


@contextlib.contextmanager
def scope(name: str | None) -> Iterator[Any]:
    """Run the block under the strategy ``name`` (nothing at all when None)."""
    if name is None:
        yield None
        return
    strategy = make(name)
    if strategy is None:
        yield None
        return
    with strategy.scope():
        yield strategy


def gpu_count() -> int:
    """GPUs on this machine, from ``nvidia-smi`` (TensorFlow is not imported for it)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                 timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def gpu_sets(kernels: int, per_trial: float, gpus: int) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` of each local kernel: disjoint sets of ``per_trial`` GPUs, or
    one GPU shared by ``1/per_trial`` kernels when ``per_trial`` < 1."""
    if gpus == 0:
        raise OptionError(f"--gpus-per-trial {per_trial:g}: this machine has no GPU "
                          "(nvidia-smi lists none)")
    needed = math.ceil(kernels * per_trial)
    if needed > gpus:
        raise OptionError(f"--kernels {kernels} with --gpus-per-trial {per_trial:g} needs "
                          f"{needed} GPUs; this machine has {gpus}")
    if per_trial < 1:
        share = round(1 / per_trial)
        return [str(i // share) for i in range(kernels)]
    k = int(per_trial)
    return [",".join(str(g) for g in range(i * k, (i + 1) * k)) for i in range(kernels)]
