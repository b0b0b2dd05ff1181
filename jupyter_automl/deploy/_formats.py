"""The formats a study's model is written in, one row each. Everything that offers or writes
them reads this table: ``jupyter-automl export --format`` (its help, choices and errors),
``result.export``, ``export --bundle`` (the formats and their file names), and JupyterLab's
sidebar (the server lists the rows' names and labels; the sidebar shows what it is sent).

A new format is a writer ``(source, target) -> Checked | None`` in a module of its own (what
it returns: how the written file was checked against the Keras model, if it was) and a row in
:data:`EXPORT_FORMATS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import AutomlError
from ._check import Checked
from ._keras import ModelFile, write_keras, write_savedmodel
from ._onnx import require_onnx, write_onnx
from ._tflite import write_tflite


@dataclass(frozen=True)
class Format:
    """One way to write a model: a row of :data:`EXPORT_FORMATS`."""

    name: str  # what --format, format= and the sidebar's choice say
    label: str  # the sidebar's words for it
    help: str  # what it is, in --format's help
    file: str  # its name in a bundle, and in the sidebar's <study>/export/ folder
    suffix: str  # the default output: <study>[-trial<N>] and this
    write: Callable[[ModelFile, Path], Checked | None]  # the whole file (or folder), or nothing
    quantized: str | None = None  # the row --quantize picks instead (the format can be)
    variant_of: str | None = None  # a quantized variant: the format it is one of
    requires: Callable[[], None] | None = None  # raises when its packages are not installed
    bundled: bool = True  # in a bundle whose formats are not named (needs no extra package)

    @property
    def base(self) -> str:
        """The format --format names for this row (``tflite`` for ``tflite-quant``)."""
        return self.variant_of or self.name


EXPORT_FORMATS = {row.name: row for row in (
    Format("keras", "Keras (.keras)", "the .keras file", "model.keras", ".keras", write_keras),
    Format("savedmodel", "TensorFlow SavedModel",
           "a TF SavedModel folder (serving signature 'serve')", "savedmodel", "_savedmodel",
           write_savedmodel),
    Format("onnx", "ONNX", "an ONNX file (Keras's export; checked by running it with "
           "onnxruntime against the Keras model)", "model.onnx", ".onnx", write_onnx,
           requires=require_onnx, bundled=False),
    Format("tflite", "TensorFlow Lite", "a TensorFlow Lite file", "model.tflite", ".tflite",
           write_tflite, quantized="tflite-quant"),
    Format("tflite-quant", "TensorFlow Lite, quantized (weights in 8 bits)",
           "a TensorFlow Lite file, dynamic-range quantized (weights in 8 bits)",
           "model-quant.tflite", "-quant.tflite",
           functools.partial(write_tflite, mode="dynamic"), variant_of="tflite"),
)}


def base_formats() -> list[Format]:
    """The rows --format names (a quantized variant is its format and --quantize)."""
    return [row for row in EXPORT_FORMATS.values() if row.variant_of is None]


def quantizable() -> list[str]:
    """The formats --quantize applies to."""
    return [row.name for row in base_formats() if row.quantized]


def format_choices() -> list[dict[str, str]]:
    """Every row as the server lists it to the sidebar: its name (``id``) and label."""
    return [{"id": row.name, "label": row.label} for row in EXPORT_FORMATS.values()]


def export_format(name: str, quantize: bool = False) -> Format:
    """The row to write for ``format=name`` (``quantize``: its quantized variant), or an
    error naming the formats there are, or the packages it needs that are missing."""
    row = EXPORT_FORMATS.get(name)
    if row is None:
        raise AutomlError(f"unknown export format {name!r}; use one of "
                          f"{', '.join(EXPORT_FORMATS)}")
    if row.requires is not None:
        row.requires()
    if quantize and row.variant_of is None:
        if row.quantized is None:
            raise AutomlError(f"--quantize applies to --format {' or '.join(quantizable())} "
                              f"only, not {name!r}")
        return EXPORT_FORMATS[row.quantized]
    return row


def bundle_files(formats: list[str] | None, quantize: bool) -> dict[str, Format]:
    """A bundle's model files, each with the row it is written by: the formats asked
    (default: every format that needs no extra package), under their own file names even
    when quantized (``predict.py`` reads ``model.tflite`` either way)."""
    known = [row.name for row in base_formats()]
    names = list(formats or [row.name for row in base_formats() if row.bundled])
    unknown = [n for n in names if n not in known]
    if unknown:
        raise AutomlError(f"unknown bundle format {', '.join(map(repr, unknown))}; use "
                          f"{', '.join(known)} (comma-separated)")
    if quantize and not any(EXPORT_FORMATS[n].quantized for n in names):
        raise AutomlError(f"--quantize applies to the {' or '.join(quantizable())} format: add "
                          f"{' or '.join(quantizable())} to --format")
    return {EXPORT_FORMATS[n].file: export_format(n, quantize and n in quantizable())
            for n in names}
