""":mod:`jupyter_automl.deploy`'s work on a study named by its name: the study is read here
(read-only) and its result handed over, since deploy reads no study itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..deploy import CompressionReport, Exported, compress, export, export_format, write_bundle
from ..runs import DEFAULT_RUNS_DIR
from ._catalog import load_result


def export_model(name: str, runs_dir: str | Path = DEFAULT_RUNS_DIR, format: str = "keras",
                 output: str | Path | None = None, quantize: bool = False,
                 trial: int | None = None, storage: str | None = None) -> Exported:
    """Write the best model of study ``name`` in ``format`` to ``output`` and say what was written
    (:func:`jupyter_automl.deploy.export`)."""
    export_format(format, quantize)  # a wrong format is said before the study is opened
    return export(load_result(name, runs_dir, storage), format, output, quantize, trial)


def compress_study(name: str, x: Any, y: Any, runs_dir: str | Path = DEFAULT_RUNS_DIR,
                   storage: str | None = None, **options: Any) -> CompressionReport:
    """:func:`jupyter_automl.deploy.compress` for the study called ``name``."""
    return compress(load_result(name, runs_dir, storage), x, y, **options)


def export_bundle(name: str, folder: str | Path, runs_dir: str | Path = DEFAULT_RUNS_DIR,
                  storage: str | None = None, **options: Any) -> Path:
    """:func:`jupyter_automl.deploy.write_bundle` for the study called ``name``."""
    return write_bundle(load_result(name, runs_dir, storage), folder, **options)
