"""The TensorFlow distribution strategy a trial runs under, and the GPUs of worker kernels.

``--strategy auto`` (the default with ``--gpus-per-trial``) picks OneDevice for one GPU,
Mirrored for several, and TensorFlow's default strategy on CPU. ``mirrored`` without GPUs
mirrors over the logical CPU devices (how it is tested here: the CPU split in two).
``multi-worker`` is MultiWorkerMirrored across the pool's kernels, each told its place by the
``TF_CONFIG`` the pool sets (see :mod:`.cluster`); it must exist before TensorFlow runs an op.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import OptionError

STRATEGIES = ("auto", "default", "one-device", "mirrored", "multi-worker")


@functools.cache
def distribution_strategy(name: str) -> Any:
    """The ``tf.distribute`` strategy called ``name`` (None: TensorFlow's default).

    One per process, for every trial: each new MirroredStrategy numbers its collective ops
    afresh, and two trials' models then collide in them (a shape mismatch at the first step).
    """
    import tensorflow as tf

    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise OptionError("--strategy multi-worker runs each trial across worker kernels: "
                              "add --kernels N (N >= 2)")
        _patch_keras_for_multi_worker()
        return tf.distribute.MultiWorkerMirroredStrategy()
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
def strategy_scope(name: str | None) -> Iterator[Any]:
    """Run the block under the strategy ``name`` (nothing at all when None)."""
    if name is None:
        yield None
        return
    strategy = distribution_strategy(name)
    if strategy is None:
        yield None
        return
    with strategy.scope():
        yield strategy


@functools.cache
def decision_broadcast(name: str | None) -> Callable[[int], int] | None:
    """For strategies spread over processes, a function every worker calls at the same point
    with its own flag, returning the sum over the workers: how the chief's decision (prune,
    stop) reaches the others, which would otherwise wait for it in the next collective op.
    None where the trial runs in one process."""
    if name != "multi-worker":
        return None
    import tensorflow as tf

    strategy = distribution_strategy(name)

    @tf.function
    def total(flag: Any) -> Any:
        return strategy.reduce(tf.distribute.ReduceOp.SUM,
                               strategy.run(tf.identity, args=(flag,)), axis=None)

    return lambda flag: round(float(total(tf.constant(float(flag)))))


def _patch_keras_for_multi_worker() -> None:
    """Two fixes that let Keras 3's ``fit`` run under MultiWorkerMirroredStrategy.

    Keras 3.15 fails there with "Attempt to convert a value (PerReplica...)" at the first
    batch (keras-team/keras#20585, still open): it mean-reduces a whole batch across workers
    only to learn its shapes, and reduces scalar logs along an axis 0 they do not have. The
    batch's local part gives the same shapes; scalars are reduced without an axis.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_jupyter_automl_patched", False):
        return
    original_reduce = trainer.reduce_per_replica

    def maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        if self._distribute_strategy is None:
            return
        strategy = self.distribute_strategy
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v, next(it))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction not in ("auto", "mean") or not isinstance(
                strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return original_reduce(values, strategy, reduction)

        def mean(v: Any) -> Any:
            if not isinstance(v, tf.distribute.DistributedValues):
                return v
            rank = strategy.experimental_local_results(v)[0].shape.rank
            return strategy.reduce("MEAN", v, axis=None if rank == 0 else 0)

        return tf.nest.map_structure(mean, values)

    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    trainer._jupyter_automl_patched = True


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


def _gpus() -> list[str]:
    """The GPUs TensorFlow sees in this process ("GPU:0"...); none before it is imported."""
    if "tensorflow" not in sys.modules:
        return []
    import tensorflow as tf

    return [f"GPU:{i}" for i, _ in enumerate(tf.config.list_logical_devices("GPU"))]


def reset_gpu_peaks() -> None:
    """Start counting the GPUs' peak memory afresh (a trial begins)."""
    import tensorflow as tf

    for device in _gpus():
        with contextlib.suppress(ValueError, RuntimeError):
            tf.config.experimental.reset_memory_stats(device)


def gpu_peak_mb() -> float | None:
    """The most memory TensorFlow held on any of this process's GPUs since the last
    :func:`reset_gpu_peaks`, in MB; None without a GPU."""
    devices = _gpus()
    if not devices:
        return None
    import tensorflow as tf

    peaks = []
    for device in devices:
        with contextlib.suppress(ValueError, RuntimeError):
            peaks.append(tf.config.experimental.get_memory_info(device)["peak"] / 2**20)
    return max(peaks) if peaks else None
