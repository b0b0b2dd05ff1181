"""Which interpreter runs a TensorFlow Lite file, chosen in one place: LiteRT's (the
``ai-edge-litert`` package) where it is installed, then the older ``tflite-runtime`` package,
and TensorFlow's own ``tf.lite.Interpreter`` last, which TensorFlow deprecates in favour of
LiteRT (the same kernels; its deprecation warning is left out, the runtime's name says which
one ran). The compression report, the deployment costs and the bundle's signature open their
files through :func:`open_tflite`; a bundle's ``predict.py`` runs without jupyter_automl, so
it carries the text of :func:`tflite_interpreter` itself (:func:`source`), which is why that
function is unannotated and imports what it needs inside."""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import Any


def tflite_interpreter(path, threads=None):
    """The first TFLite runtime installed opened on ``path`` (not yet allocated), and its
    name and version: ai-edge-litert, tflite-runtime, or TensorFlow's tf.lite."""
    import importlib
    import warnings

    for module, package in (("ai_edge_litert", "ai-edge-litert"),
                            ("tflite_runtime", "tflite-runtime")):
        try:
            runtime = importlib.import_module(module + ".interpreter")
        except ImportError:
            continue
        version = getattr(importlib.import_module(module), "__version__", "")
        opened = runtime.Interpreter(model_path=str(path), num_threads=threads)
        return opened, f"{package} {version}".strip()
    import tensorflow as tf

    with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": the name says it
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        opened = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
    return opened, f"tensorflow {tf.__version__} (tf.lite)"


def source() -> str:
    """The text of :func:`tflite_interpreter`, which ``predict.py`` defines as it is."""
    return textwrap.dedent(inspect.getsource(tflite_interpreter))


def open_tflite(path: Path, threads: int | None = None) -> tuple[Any, str]:
    """The TFLite file at ``path`` opened by the first runtime installed, its tensors
    allocated, and the runtime's name (``ai-edge-litert 2.3.0``)."""
    opened, runtime = tflite_interpreter(path, threads)
    opened.allocate_tensors()
    return opened, runtime
