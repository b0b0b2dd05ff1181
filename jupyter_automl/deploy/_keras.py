"""The Keras side of export: the saved ``.keras`` file a model is written from (loaded once,
when a writer first needs the model), and the writers of the ``keras`` and ``savedmodel``
formats."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import AutomlError
from ._files import as_automl_error, tf_quiet, write_file


def load_keras(path: Path) -> Any:
    from .._utils.process import import_keras

    keras = import_keras()
    with tf_quiet(), as_automl_error(f"cannot load the Keras model {path}"):
        return keras.saving.load_model(path)


class ModelFile:
    """A saved ``.keras`` file, and its Keras model loaded on first use (a copy of the file
    needs no TensorFlow)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @functools.cached_property
    def model(self) -> Any:
        return load_keras(self.path)


def save_tf(model: Any, folder: Path) -> None:
    """Keras 3's TF SavedModel export: a ``serve`` endpoint taking the model's inputs."""
    with tf_quiet(), as_automl_error("the SavedModel export failed"):
        model.export(str(folder), format="tf_saved_model", verbose=False)


def write_keras(source: ModelFile, target: Path) -> None:
    """The ``.keras`` file itself, copied."""
    write_file(target, lambda tmp: shutil.copyfile(source.path, tmp))


def write_savedmodel(source: ModelFile, target: Path) -> None:
    """A TF SavedModel folder, staged beside ``target`` and moved in; an earlier SavedModel
    there is replaced, anything else refused."""
    if target.exists() and not (target / "saved_model.pb").exists():
        raise AutomlError(f"{target} exists and is not a SavedModel: choose another --output "
                          "(an existing SavedModel there would be replaced)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        staged = Path(tmp) / "savedmodel"
        save_tf(source.model, staged)
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
