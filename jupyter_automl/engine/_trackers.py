"""The experiment trackers a study's options ask for, each checked before the first trial (why
they are listeners of the runner, written from the notebook: ``_tracking.py``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TrackingError
from ._mlflow import MlflowRuns
from ._tensorboard import TensorBoardRecords

if TYPE_CHECKING:
    from ._events import Listener
    from ._study import PreparedStudy


def trackers(prepared: PreparedStudy) -> list[Listener]:
    """TensorBoard's records always (they also follow a TensorBoard callback in the cell's
    ``fit``), in ``--tensorboard``'s folder if given; MLflow's runs with ``--mlflow``. A
    folder that cannot be written, or an MLflow server that does not answer, is a
    :class:`TrackingError` now, before any trial."""
    options = prepared.options
    folder = None
    if options.tensorboard is not None:
        folder = Path(options.tensorboard) if options.tensorboard \
            else prepared.paths.root / "tensorboard"
        _writable(folder)
    listeners: list[Listener] = [TensorBoardRecords(folder)]
    if options.mlflow is not None:
        listeners.append(MlflowRuns.connect(options.mlflow,
                                            options.mlflow_experiment or options.name))
    return listeners


def _writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError("not writable")
    except OSError as exc:
        raise TrackingError(f"--tensorboard: the folder {folder} cannot be written "
                            f"({exc.strerror or exc}); give one you can write, e.g. "
                            "--tensorboard=logs. No trial has started.") from None
