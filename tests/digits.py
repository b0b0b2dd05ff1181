"""The digits the tests train on (scikit-learn's ``load_digits``, shipped with it, no download):
how they are loaded, scaled and split, in one place for the tests of this process and for the
code they send to kernels and scripts (:data:`CODE`)."""

from __future__ import annotations

from typing import Any

# x: 1797 images of 8x8 pixels as 64 floats in [0, 1]; y: their digits (int64)
CODE = '''\
from sklearn.datasets import load_digits
x, y = load_digits(return_X_y=True)
x, y = (x / 16).astype("float32"), y.astype("int64")
'''


def load() -> tuple[Any, Any]:
    """``x, y`` as :data:`CODE` makes them."""
    namespace: dict[str, Any] = {}
    exec(CODE, namespace)
    return namespace["x"], namespace["y"]


def split() -> dict[str, Any]:
    """A stratified 75/25 split (``x``, ``y`` to train on, ``x_val``, ``y_val`` to score)."""
    from sklearn.model_selection import train_test_split

    x, y = load()
    x, x_val, y, y_val = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return {"x": x, "y": y, "x_val": x_val, "y_val": y_val}
