"""The arrays compression is given (evaluation, calibration and training data), read and
checked before anything is written; each error says what is wrong and how to give it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutomlError


def load_npz(path: str | Path, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` (and ``y`` when present) of an ``.npz`` file, with errors that say what is wrong."""
    try:
        with np.load(Path(path)) as data:
            if "x" not in data.files:
                raise AutomlError(f"{what} {path}: the .npz has no array named 'x' (it has "
                                  f"{', '.join(data.files) or 'none'}); save it with "
                                  "numpy.savez(path, x=..., y=...)")
            return data["x"], (data["y"] if "y" in data.files else None)
    except AutomlError:
        raise
    except (OSError, ValueError) as exc:
        raise AutomlError(f"{what} {path} cannot be read as an .npz file: {exc}") from None


def arrays(x: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and as many labels, as arrays."""
    if x is None or y is None:
        raise AutomlError(f"{what} needs inputs and labels (x and y)")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) == 0 or len(x) != len(y):
        raise AutomlError(f"{what}: x has {len(x)} samples and y {len(y)}; give as many "
                          "labels as inputs, at least one")
    return x, y


def check_shapes(model: Any, x: np.ndarray, what: str) -> None:
    """Samples shaped as the model's input (``None`` in its shape: any size)."""
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if expected is not None and tuple(x.shape[1:]) != tuple(
            d if d is not None else s for d, s in zip(expected, x.shape[1:])):
        raise AutomlError(f"{what}: samples of shape {tuple(x.shape[1:])}, but the model "
                          f"takes {expected}")
