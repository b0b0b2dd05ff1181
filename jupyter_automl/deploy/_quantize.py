"""Quantized TensorFlow Lite variants of a model, for compression: which quantizations were
asked and whether they can be made, the calibration data full-integer needs, and the files
(converted by :func:`._tflite.convert`).

``dynamic``: weights in 8 bits, activations in float. ``float16``: weights in 16-bit floats.
``int8``: full integer, weights and activations in 8 bits, the activations' ranges measured
on the calibration data; its inputs and outputs are float or int8.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutomlError
from ._data import check_shapes
from ._tflite import convert

QUANTIZATIONS = ("dynamic", "float16", "int8")


def quantizations(quantize: Sequence[str] | str | None, calibration: Any,
                  int8_io: str) -> list[str]:
    """The quantizations asked (default: ``dynamic`` and ``float16``, and ``int8`` with
    calibration data), refused where they cannot be made."""
    if quantize is None:
        quantize = QUANTIZATIONS if calibration is not None else QUANTIZATIONS[:2]
    modes = [quantize] if isinstance(quantize, str) else list(quantize)
    unknown = [m for m in modes if m not in QUANTIZATIONS]
    if unknown:
        raise AutomlError(f"unknown quantization {', '.join(map(repr, unknown))}; use "
                          f"{', '.join(QUANTIZATIONS)} (several may be given)")
    if "int8" in modes and calibration is None:
        raise AutomlError("full-integer (int8) quantization needs calibration data to measure "
                          "the activations' ranges: give calibration=x_sample (API) or "
                          "--calibration calib.npz with an array x (CLI), a few hundred typical "
                          "inputs; or leave int8 out")
    if int8_io not in ("float", "int8"):
        raise AutomlError(f"int8_io={int8_io!r}: the int8 model's inputs and outputs are "
                          "'float' (default) or 'int8'")
    return modes


def write_quantized(model: Any, modes: list[str], calibration: Any, int8_io: str,
                    folder: Path) -> list[tuple[str, Path]]:
    """``folder/<mode>.tflite`` for each of ``modes``, with the mode of each."""
    data = None if calibration is None else calibration_data(calibration, model)
    written = []
    for mode in modes:
        path = folder / f"{mode}.tflite"
        path.write_bytes(convert(model, mode, data, int8_io))
        written.append((mode, path))
    return written


def calibration_data(calibration: Any, model: Any) -> np.ndarray:
    """The calibration inputs as float32 rows, checked against the model's input."""
    data = np.asarray(calibration[0] if isinstance(calibration, tuple) else calibration)
    if len(data) == 0:
        raise AutomlError("the calibration data is empty: give a few hundred typical inputs")
    check_shapes(model, data, "the calibration data")
    return data.astype("float32")
