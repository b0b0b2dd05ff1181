"""TensorFlow Lite in one place: the converter that export, the bundle and compression all
call (``float32``, or quantized: ``dynamic``, ``float16``, ``int8``), the writers of the
``tflite`` formats, and one sample run through a file (opened by the runtime that
:mod:`._litert` chooses)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._files import as_automl_error, tf_quiet, write_file
from ._keras import ModelFile, save_tf

MODES = ("float32", "dynamic", "float16", "int8")
CALIBRATION_ROWS = 500  # the int8 converter's representative dataset, at most


def convert(model: Any, mode: str = "float32", calibration: np.ndarray | None = None,
            int8_io: str = "float") -> bytes:
    """The TFLite file of the Keras ``model``, converted from its SavedModel: ``float32`` (no
    quantization); ``dynamic`` (weights in 8 bits, activations in float); ``float16`` (weights
    in 16-bit floats); ``int8`` (weights and activations in 8 bits, their ranges measured on
    ``calibration``; inputs and outputs ``int8_io``, ``"float"`` or ``"int8"``)."""
    with saved_model(model) as folder:
        return convert_saved(folder, mode, calibration, int8_io)


@contextlib.contextmanager
def saved_model(model: Any) -> Iterator[Path]:
    """The SavedModel of ``model`` in a temporary folder, for one or more conversions."""
    with tempfile.TemporaryDirectory(prefix="automl-tflite-") as tmp:
        save_tf(model, Path(tmp))
        yield Path(tmp)


def convert_saved(folder: Path, mode: str = "float32", calibration: np.ndarray | None = None,
                  int8_io: str = "float") -> bytes:
    """The TFLite file of the SavedModel in ``folder``, converted in ``mode`` (see
    :func:`convert`)."""
    import tensorflow as tf

    assert mode in MODES, mode
    with tf_quiet(), as_automl_error(f"the TFLite conversion ({mode}) failed"):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(folder))
        if mode != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if mode == "int8":
            assert calibration is not None
            rows = calibration[: min(len(calibration), CALIBRATION_ROWS)]
            converter.representative_dataset = lambda: ([row[None]] for row in rows)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if int8_io == "int8":
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        return bytes(converter.convert())


def write_tflite(source: ModelFile, target: Path, mode: str = "float32") -> None:
    """The TFLite file of ``source``'s model, converted in ``mode``."""
    data = convert(source.model, mode)
    write_file(target, lambda tmp: Path(tmp).write_bytes(data))


def invoke(opened: Any, sample: np.ndarray) -> np.ndarray:
    """One sample through a TFLite interpreter, quantizing its input and dequantizing its
    output where the model is integer at its edges."""
    (inp,), (out,) = opened.get_input_details(), opened.get_output_details()
    value = sample[None].astype("float32")
    if inp["dtype"] != np.float32:
        scale, zero = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        value = np.clip(np.round(value / scale + zero), info.min, info.max).astype(inp["dtype"])
    opened.set_tensor(inp["index"], value)
    opened.invoke()
    result = opened.get_tensor(out["index"])[0]
    if out["dtype"] != np.float32:
        scale, zero = out["quantization"]
        result = (result.astype("float32") - zero) * scale
    return np.asarray(result, dtype="float32")
