"""Exporting a study's best model in one of the formats of :data:`._formats.EXPORT_FORMATS`:
the ``.keras`` file, a TF SavedModel, ONNX (checked with onnxruntime against the Keras model),
TensorFlow Lite (float, or quantized).

The model comes from the study's ``best/`` folder, kept by the engine's best-model exporter:
``best/model.keras`` with one objective, ``best/<number>/model.keras`` for each trial on the
Pareto front with several. Nothing here changes the runs folder, so a running study can be
exported. TensorFlow is imported only for the SavedModel, ONNX and TFLite formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import AutomlError
from ._check import Checked
from ._files import size_of, size_text, tf_quiet
from ._formats import Format, base_formats, export_format
from ._keras import ModelFile
from ._source import StudyResult, best_model_file

# the names --format takes, for code that reads them (the table is EXPORT_FORMATS)
FORMATS = tuple(row.name for row in base_formats())


@dataclass(frozen=True)
class Exported:
    """What :func:`export` wrote."""

    study: str
    trial: int
    format: str
    quantized: bool
    path: Path
    size: int  # bytes, all files of a SavedModel folder together
    checked: Checked | None = None  # how the file was checked against Keras (ONNX)

    def describe(self) -> str:
        kind = self.format + (" (dynamic-range quantized)" if self.quantized else "")
        return (f"exported study {self.study!r} trial {self.trial} as {kind}: {self.path} "
                f"({size_text(self.size)})"
                + (f"; {self.checked.text()}" if self.checked else ""))


def export(result: StudyResult, format: str = "keras", output: str | Path | None = None,
           quantize: bool = False, trial: int | None = None) -> Exported:
    """Write the best model of ``result``'s study in ``format`` to ``output`` and say what was
    written.

    ``format``: ``keras``, ``savedmodel``, ``onnx``, ``tflite`` or ``tflite-quant``;
    ``quantize`` turns ``tflite`` into ``tflite-quant`` (dynamic-range quantization, weights
    in 8 bits). An ONNX file is run with onnxruntime on random inputs and compared with the
    Keras model before it is written (``Exported.checked``); one that differs is an error.
    ``output``: a file or folder (default: named after the study, in the current folder).
    ``trial`` picks one model of a multi-objective study's Pareto front (required there).
    """
    row = export_format(format, quantize)
    source, number = best_model_file(result, trial)
    target = output_path(output, result.name, row,
                         number if len(result.directions) > 1 else None)
    with tf_quiet():
        checked = row.write(ModelFile(source), target)
    return Exported(result.name, number, row.base, row.variant_of is not None, target,
                    size_of(target), checked)


def output_path(output: str | Path | None, name: str, row: Format,
                trial: int | None = None) -> Path:
    """Where to write: ``output``, the default name inside it if it is a folder, or the
    default name (``<study>[-trial<N>]`` and the format's suffix) in the current folder."""
    default = (name if trial is None else f"{name}-trial{trial}") + row.suffix
    if output is None:
        return Path(default).absolute()
    path = Path(output).expanduser().absolute()
    if path.is_dir() and not (path / "saved_model.pb").exists():  # a SavedModel is replaced
        return path / default
    if row.name == "keras" and path.suffix != ".keras":
        raise AutomlError(f"--output {output}: a Keras model file must end in .keras "
                          "(keras.saving.load_model reads no other name)")
    return path
