"""Exporting a study's best model: the ``.keras`` file, a TF SavedModel, or TensorFlow Lite.

The model comes from the study's ``best/`` folder, kept by :class:`.export.BestExporter`:
``best/model.keras`` with one objective, ``best/<number>/model.keras`` for each trial on the
Pareto front with several. Nothing here changes the runs folder, so a running study can be
exported. TensorFlow is imported only for the SavedModel and TFLite formats.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import AutomlError
from ._files import load_keras, save_tf, size_of, size_text, write_file
from ._source import StudyResult, best_model_file
from ._tflite import convert

FORMATS = ("keras", "savedmodel", "tflite")


@dataclass(frozen=True)
class Exported:
    """What :func:`export` wrote."""

    study: str
    trial: int
    format: str
    quantized: bool
    path: Path
    size: int  # bytes, all files of a SavedModel folder together

    def describe(self) -> str:
        kind = self.format + (" (dynamic-range quantized)" if self.quantized else "")
        return (f"exported study {self.study!r} trial {self.trial} as {kind}: {self.path} "
                f"({size_text(self.size)})")


def export(result: StudyResult, format: str = "keras", output: str | Path | None = None,
           quantize: bool = False, trial: int | None = None) -> Exported:
    """Write the best model of ``result``'s study in ``format`` to ``output`` and say what was
    written.

    ``trial`` picks one model of a multi-objective study's Pareto front (required there).
    ``quantize`` (TFLite only) applies dynamic-range quantization.
    """
    check_format(format, quantize)
    source, number = best_model_file(result, trial)
    target = output_path(output, result.name, format, quantize,
                         number if len(result.directions) > 1 else None)
    _WRITERS[format](source, target, quantize)
    return Exported(result.name, number, format, quantize, target, size_of(target))


def check_format(format: str, quantize: bool) -> None:
    if format not in FORMATS:
        raise AutomlError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")
    if quantize and format != "tflite":
        raise AutomlError(f"--quantize applies to --format tflite only, not {format!r}")


def output_path(output: str | Path | None, name: str, format: str, quantize: bool,
                trial: int | None = None) -> Path:
    """Where to write: ``output``, the default name inside it if it is a folder, or the
    default name (``<study>[-trial<N>]`` and the format's suffix) in the current folder."""
    stem = name if trial is None else f"{name}-trial{trial}"
    default = stem + {"keras": ".keras", "savedmodel": "_savedmodel",
                      "tflite": "-quant.tflite" if quantize else ".tflite"}[format]
    if output is None:
        return Path(default).absolute()
    path = Path(output).expanduser().absolute()
    if path.is_dir() and not (path / "saved_model.pb").exists():  # a SavedModel is replaced
        return path / default
    if format == "keras" and path.suffix != ".keras":
        raise AutomlError(f"--output {output}: a Keras model file must end in .keras "
                          "(keras.saving.load_model reads no other name)")
    return path


def _write_keras(source: Path, target: Path, quantize: bool) -> None:
    del quantize
    write_file(target, lambda tmp: shutil.copyfile(source, tmp))


def _write_savedmodel(source: Path, target: Path, quantize: bool) -> None:
    del quantize
    if target.exists() and not (target / "saved_model.pb").exists():
        raise AutomlError(f"{target} exists and is not a SavedModel: choose another --output "
                          "(an existing SavedModel there would be replaced)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        staged = Path(tmp) / "savedmodel"
        save_tf(load_keras(source), staged)
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)


def _write_tflite(source: Path, target: Path, quantize: bool) -> None:
    data = convert(load_keras(source), "dynamic" if quantize else "float32")
    write_file(target, lambda tmp: Path(tmp).write_bytes(data))


_WRITERS = {"keras": _write_keras, "savedmodel": _write_savedmodel, "tflite": _write_tflite}


