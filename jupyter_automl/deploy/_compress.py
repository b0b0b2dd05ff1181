"""Compressing a study's best model, measured: quantized TensorFlow Lite files
(:mod:`._quantize`) and a pruned Keras model with its TFLite file (:mod:`._prune`), each loaded
back and compared with the float Keras model (:mod:`._report`).

:func:`compress` writes the variants asked for into one folder (``RUNS/NAME/compressed`` by
default), all or nothing: every input is checked before anything is written, the files are
made in a temporary folder and moved in at the end.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import AutomlError
from ._data import arrays, check_shapes
from ._files import tf_quiet
from ._keras import load_keras
from ._prune import check_pruning, prune_model
from ._quantize import quantizations, write_quantized
from ._report import CompressionReport, Evaluation, Variant, predict
from ._source import StudyResult, best_model_file
from ._tflite import convert


def compress(result: StudyResult, x: Any, y: Any, *,
             quantize: Sequence[str] | None = None, calibration: Any = None,
             int8_io: str = "float", prune: float | None = None, structured: bool = False,
             train: Any = None, epochs: int = 2, learning_rate: float | None = None,
             output: str | Path | None = None, trial: int | None = None) -> CompressionReport:
    """Quantize (and prune, with ``prune=SPARSITY`` and ``train=(x, y)``) the best model of
    the study ``result`` holds; measure every variant on ``(x, y)``; return the report.

    ``quantize`` names TFLite quantizations (default: ``dynamic`` and ``float16``, and
    ``int8`` when ``calibration`` is given). ``calibration`` (inputs, a few hundred are
    enough) is needed for ``int8``; ``int8_io``
    says whether that model takes and returns ``"float"`` (default) or ``"int8"`` tensors.
    ``structured=True`` prunes whole units and filters instead of single weights (a smaller
    model, not a sparse one; Sequential models).
    ``trial`` picks a model of a multi-objective study's Pareto front. The files go to
    ``output`` (default ``RUNS/NAME/compressed``), replacing what an earlier run wrote there.
    """
    x, y = arrays(x, y, "the evaluation data")
    modes = quantizations(quantize, calibration, int8_io)
    check_pruning(prune, train, epochs, learning_rate)
    source, number = best_model_file(result, trial)
    folder = Path(output).expanduser().absolute() if output else result.paths.root / "compressed"
    if folder.exists() and (not folder.is_dir() or (
            any(folder.iterdir()) and not (folder / "report.json").exists())):
        raise AutomlError(f"--output {folder} exists and holds no earlier compression report: "
                          "give a new or empty folder (an earlier compression's folder is "
                          "replaced)")
    with tf_quiet():
        model = load_keras(source)
        check_shapes(model, x, "the evaluation data")
        evaluation = Evaluation.of(model, x, y)
        report = CompressionReport(result.name, number, evaluation.metric, str(folder))
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}.") as tmp:
            staged = Path(tmp) / "compressed"
            staged.mkdir()
            report.variants.append(evaluation.keras("keras (float32)", source))
            for mode, path in write_quantized(model, modes, calibration, int8_io, staged):
                report.variants.append(evaluation.tflite(f"tflite {mode}", path, model, mode))
            if prune is not None:
                tx, ty = arrays(train[0], train[1], "the training data")
                pruned = prune_model(model, prune, tx, ty, epochs, learning_rate, structured)
                report.variants += _pruned_variants(evaluation, pruned, prune, structured,
                                                    staged)
            (staged / "report.json").write_text(report.to_json())
            _move_in(staged, folder, report)
    return report


def _pruned_variants(evaluation: Evaluation, pruned: Any, sparsity: float, structured: bool,
                     staged: Path) -> list[Variant]:
    """The pruned Keras model and its TFLite file, measured against what the pruned model
    computes (and, for agreement, against the float model)."""
    kind = "structured" if structured else "pruned"
    label, stem = f"{kind} {sparsity:.0%}", f"{kind}-{round(sparsity * 100)}"
    own = predict(pruned, evaluation.x)
    path = staged / f"{stem}.keras"
    pruned.save(path)
    lite = staged / f"{stem}.tflite"
    lite.write_bytes(convert(pruned))
    return [evaluation.keras(label, path, own),
            evaluation.tflite(f"{label} tflite", lite, pruned, "float32", own)]


def _move_in(staged: Path, folder: Path, report: CompressionReport) -> None:
    """The staged folder in place of ``folder`` (an earlier compression's, replaced whole),
    and the report's paths pointing into it."""
    if folder.exists():
        shutil.rmtree(folder)
    staged.rename(folder)
    for variant in report.variants:
        if Path(variant.path).parent == staged:
            variant.path = str(folder / Path(variant.path).name)
    (folder / "report.json").write_text(report.to_json())
