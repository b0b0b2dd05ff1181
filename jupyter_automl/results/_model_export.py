"""Exporting a study's best model: the ``.keras`` file, a TF SavedModel, or TensorFlow Lite.

The model comes from the study's ``best/`` folder, kept by :class:`.export.BestExporter`:
``best/model.keras`` with one objective, ``best/<number>/model.keras`` for each trial on the
Pareto front with several. Nothing here changes the runs folder, so a running study can be
exported. TensorFlow is imported only for the SavedModel and TFLite formats.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._utils.io import read_json
from ..errors import AutomlError
from ..runs import DEFAULT_RUNS_DIR
from ._catalog import ReadOnlyResult, load_result

FORMATS = ("keras", "savedmodel", "tflite")


@dataclass(frozen=True)
class Exported:
    """What :func:`export_model` wrote."""

    study: str
    trial: int
    format: str
    quantized: bool
    path: Path
    size: int  # bytes, all files of a SavedModel folder together

    def describe(self) -> str:
        kind = self.format + (" (dynamic-range quantized)" if self.quantized else "")
        return (f"exported study {self.study!r} trial {self.trial} as {kind}: {self.path} "
                f"({_size_text(self.size)})")


def export_model(name: str, runs_dir: str | Path = DEFAULT_RUNS_DIR, format: str = "keras",
                 output: str | Path | None = None, quantize: bool = False,
                 trial: int | None = None, storage: str | None = None) -> Exported:
    """Write the best model of study ``name`` in ``format`` to ``output`` and say what was written.

    ``trial`` picks one model of a multi-objective study's Pareto front (required there).
    ``quantize`` (TFLite only) applies dynamic-range quantization.
    """
    _check_format(format, quantize)
    result = load_result(name, runs_dir, storage)
    source, number = best_model_file(result, trial)
    target = output_path(output, name, format, quantize,
                         number if len(result.directions) > 1 else None)
    _WRITERS[format](source, target, quantize)
    return Exported(name, number, format, quantize, target, _size_of(target))


def _check_format(format: str, quantize: bool) -> None:
    if format not in FORMATS:
        raise AutomlError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")
    if quantize and format != "tflite":
        raise AutomlError(f"--quantize applies to --format tflite only, not {format!r}")


def best_model_file(result: ReadOnlyResult, trial: int | None = None) -> tuple[Path, int]:
    """The saved model of the study's best trial (or of Pareto-front ``trial``) and its number."""
    if len(result.directions) > 1:
        return _front_model(result, trial)
    best = result.best_trial
    if best is None:
        raise _no_complete_trial(result)
    path = result.paths.best_model()
    saved = (read_json(result.paths.best_params) or {}).get("trial", best.number)
    if not path.exists():
        raise AutomlError(f"study {result.name!r} has no saved model to export: its best trial "
                          f"{best.number} trained no Keras model (its value came from the "
                          "cell's last expression); its parameters are in "
                          f"{result.paths.best_params}")
    if trial is not None and trial != saved:
        raise AutomlError(f"trial {trial} is not the best trial of study {result.name!r}, and "
                          f"only the best trial's model is kept: export trial {saved} by "
                          "leaving out --trial")
    return path, int(saved)


def _front_model(result: ReadOnlyResult, trial: int | None) -> tuple[Path, int]:
    if not result.best_trials:
        raise _no_complete_trial(result)
    front = sorted(result.paths.front_models())
    if not front:
        raise AutomlError(f"study {result.name!r} has no saved model: its Pareto-front trials "
                          "trained no Keras model")
    if trial is None:
        raise AutomlError(f"study {result.name!r} has {len(result.directions)} objectives, so "
                          "no single best model: pick one of its Pareto front with --trial N "
                          f"(N in {', '.join(map(str, front))})")
    if trial not in front:
        raise AutomlError(f"trial {trial} has no model on the Pareto front of study "
                          f"{result.name!r}; pick --trial N with N in "
                          f"{', '.join(map(str, front))}")
    return result.paths.best_model(trial), trial


def _no_complete_trial(result: ReadOnlyResult) -> AutomlError:
    return AutomlError(f"study {result.name!r} has no complete trial yet, so no best model to "
                       f"export; run it further, or see why its trials fail: "
                       f"jupyter-automl show {result.name}")


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
    _write_file(target, lambda tmp: shutil.copyfile(source, tmp))


def _write_savedmodel(source: Path, target: Path, quantize: bool) -> None:
    del quantize
    if target.exists() and not (target / "saved_model.pb").exists():
        raise AutomlError(f"{target} exists and is not a SavedModel: choose another --output "
                          "(an existing SavedModel there would be replaced)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        staged = Path(tmp) / "savedmodel"
        _save_tf(_load(source), staged)
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)


def _write_tflite(source: Path, target: Path, quantize: bool) -> None:
    model = _load(source)
    with tempfile.TemporaryDirectory(prefix="automl-tflite-") as tmp:
        _save_tf(model, Path(tmp))
        data = _convert(Path(tmp), quantize)
    _write_file(target, lambda tmp: Path(tmp).write_bytes(data))


def _write_file(target: Path, write: Callable[[str], object]) -> None:
    """Write ``target`` whole or not at all, readable as any new file of the user's is."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


_WRITERS = {"keras": _write_keras, "savedmodel": _write_savedmodel, "tflite": _write_tflite}


def _load(path: Path) -> Any:
    from .._utils.process import import_keras

    keras = import_keras()
    with _tf_quiet(), _as_automl_error(f"cannot load the Keras model {path}"):
        return keras.saving.load_model(path)


def _save_tf(model: Any, folder: Path) -> None:
    """Keras 3's TF SavedModel export: a ``serve`` endpoint taking the model's inputs."""
    with _tf_quiet(), _as_automl_error("the SavedModel export failed"):
        model.export(str(folder), format="tf_saved_model", verbose=False)


def _convert(saved_model: Path, quantize: bool) -> bytes:
    with _tf_quiet(), _as_automl_error("the TFLite conversion failed"):
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return bytes(converter.convert())


@contextlib.contextmanager
def _as_automl_error(what: str) -> Iterator[None]:
    try:
        yield
    except AutomlError:
        raise
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise AutomlError(f"{what}: {type(exc).__name__}: {text[0] if text else ''}") from exc


# TensorFlow's C++ log lines (absl/glog format) and start-up notes, which TF_CPP_MIN_LOG_LEVEL
# does not all silence; the converter writes dozens of them per model.
_TF_NOISE = re.compile(r"^([IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]|"
                       r"WARNING: All log messages before absl::InitializeLog|"
                       r"To enable the following instructions: )")


@contextlib.contextmanager
def _tf_quiet() -> Iterator[None]:
    """Keep TensorFlow's C++ chatter off stderr; other lines pass, and all of it on failure."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines()
            kept = lines if failed else [line for line in lines if not _TF_NOISE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 ** 2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 ** 2:.1f} MiB"
