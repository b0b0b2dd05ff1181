"""What a Keras trial leaves behind in this process once it ends, given back.

TensorFlow registers a gradient function in its global gradient registry for each
``tf.custom_gradient`` it traces (``CustomGradient-<uid>``), and never removes it. Keras's
optimizer all-reduces the gradients through one (``ReplicaContext.all_reduce``) in every train
function it traces, and the registered function's closure holds tensors of that function's
graph: every model a study ever trained stays in memory, about 4 MB a trial for a small Dense
network, whatever ``clear_session()`` or ``gc.collect()`` does. A trial's train function is
traced and differentiated within the trial, so the gradients it registered are dropped once
it ends. Then garbage Python has not collected yet is collected (a Keras model is cyclic
garbage) once RSS has grown ``COLLECT_MB`` since the last collection, and the C allocator gives
its free pages back to the system.

A full collection walks every object of the process: with TensorFlow loaded, 200-300 ms, and
even without it (IPython, the notebook's data) tens of milliseconds, which Python's own
collections pay every few hundred trials of a cheap objective. So a run freezes what is there
when it starts (``gc.freeze``, no collection), the end of its first Keras trial collects once
and freezes what is there then (TensorFlow, Keras), and the later collections walk only what
the study made since, 10-60 ms; the run's end unfreezes it all (:func:`run_scope`).
Refcounting frees frozen objects as usual; only cyclic garbage among them waits for the end of
the run. A worker kernel, which runs trials and nothing else, stays frozen. Keras's own global
state (layer names, TensorFlow's kernel cache) is cleared with each collection, not before
every trial: the clearing slows the trial after it by about 0.2 s.

The registry is one for the process: a custom gradient that a cell beside a background study
traces while a trial runs is dropped with the trial's. Its function keeps working; only a
gradient of it taken after the trial ended would be missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import sys
from collections.abc import Callable, Iterator
from typing import Any

from .._utils.process import rss_mb

PREFIX = "CustomGradient-"
COLLECT_MB = 16.0  # the growth of RSS, since the last full collection, that calls for one

_collected_at: float | None = None  # RSS in MB after the last full collection
_frozen = False  # the objects of the process before its first Keras trial are frozen
_run_frozen = False  # what lived when the first run_scope began is frozen
_runs = 0  # studies running in this process (run_scope): the last one out unfreezes


def gradient_mark() -> int | None:
    """The uid TensorFlow gives next: gradients registered from now on have larger ones."""
    ops = _ops()
    return int(ops.uid()) if ops is not None else None


def release(mark: int | None) -> None:
    """Drop the gradients registered since ``mark`` (the trial's); if there were any (the
    trial trained), collect garbage where RSS grew and give free memory back to the system.
    A trial that trained nothing (a plain objective beside a loaded Keras) costs nothing."""
    global _collected_at
    registry = _registry()
    if mark is None or registry is None or int(_ops().uid()) == mark + 1:
        return  # TensorFlow made nothing since the mark: the trial trained nothing
    dropped = [key for key in registry if _uid(key) > mark]
    if not dropped:
        return
    for key in dropped:
        del registry[key]
    if not _frozen:  # the run's first Keras trial: one full collection, then the freeze
        _clear_keras()
        freeze()
    elif _collected_at is None or rss_mb() - _collected_at > COLLECT_MB:
        _clear_keras()
        gc.collect()
        _collected_at = rss_mb()
    _trim()


def freeze() -> None:
    """Collect once and freeze what lives now (TensorFlow loaded), so that later collections
    walk only what the study makes; once per process, or per run in a :func:`run_scope`."""
    global _frozen, _collected_at
    if _frozen:
        return
    gc.collect()
    gc.freeze()
    _frozen = True
    _collected_at = rss_mb()


@contextlib.contextmanager
def run_scope() -> Iterator[None]:
    """While a study runs here, what lived when it began is frozen (collections walk only
    the study's objects); that and what :func:`freeze` froze are unfrozen when the last run
    ends, so the notebook's own cyclic garbage is collected again."""
    global _runs, _frozen, _run_frozen
    if not _runs and not _frozen:
        gc.freeze()
        _run_frozen = True
    _runs += 1
    try:
        yield
    finally:
        _runs -= 1
        if not _runs and (_frozen or _run_frozen):
            gc.unfreeze()
            _frozen = _run_frozen = False


def _clear_keras() -> None:
    """Keras's global state (layer names, TensorFlow's kernel cache), as ``clear_session``
    drops it, without its own full collection."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session(free_memory=False)


def _uid(key: str) -> int:
    prefix, _, number = key.rpartition("-")
    return int(number) if prefix + "-" == PREFIX and number.isdigit() else -1


def _ops() -> Any:
    if "tensorflow" not in sys.modules:
        return None
    from tensorflow.python.framework import ops

    return ops


def _registry() -> dict[str, Any] | None:
    """TensorFlow's gradient registry (private: None, and nothing dropped, if it moved)."""
    ops = _ops()
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def _trim() -> None:
    """glibc keeps the pages it freed for reuse; ``malloc_trim`` returns them (1-3 ms)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        return None
