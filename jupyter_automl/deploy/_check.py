"""An exported file checked against the Keras model it was written from: the inputs both run
on (seeded random values shaped and typed as the model's inputs, since an export is given no
data) and what the check found, which ``export`` says and a bundle records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AutomlError
from ._report import tolerance

ROWS = 8  # samples an export is checked on
FREE = 8  # the size given to a free dimension other than the batch (a sequence's length)


@dataclass(frozen=True)
class Checked:
    """A file run by ``runtime`` on ``samples`` inputs, its largest difference from the Keras
    model's outputs and the tolerance it had to stay within."""

    runtime: str  # "onnxruntime 1.32.0"
    samples: int
    max_diff: float
    tolerance: float

    @property
    def within(self) -> bool:
        return self.max_diff <= self.tolerance

    def text(self) -> str:
        return (f"checked against Keras with {self.runtime} on {self.samples} random inputs: "
                f"max abs difference {self.max_diff:.2g} (tolerance {self.tolerance:.2g})")


def sample_inputs(model: Any) -> list[np.ndarray]:
    """:data:`ROWS` random inputs for each of the model's inputs: standard normal floats,
    or 0 and 1 for integer inputs (token ids, which any vocabulary has)."""
    try:
        tensors = list(model.inputs)
    except (AttributeError, ValueError) as exc:
        raise AutomlError("the export is checked on inputs shaped as the model's, and this "
                          "model declares none: build it with keras.Input") from exc
    rng = np.random.default_rng(0)
    arrays = []
    for tensor in tensors:
        shape = (ROWS, *(FREE if d is None else int(d) for d in tensor.shape[1:]))
        dtype = np.dtype(str(getattr(tensor, "dtype", "float32")))
        if np.issubdtype(dtype, np.integer) or dtype == np.bool_:
            arrays.append(rng.integers(0, 2, shape).astype(dtype))
        else:
            arrays.append(rng.standard_normal(shape).astype(dtype))
    return arrays


def keras_outputs(model: Any, inputs: list[np.ndarray]) -> np.ndarray:
    """The Keras model called on ``inputs`` (a call Keras's ONNX export also needs: a model
    loaded from its file has never been called), its outputs flattened into one array."""
    return flat(model(inputs[0] if len(inputs) == 1 else inputs, training=False))


def flat(outputs: Any) -> np.ndarray:
    """One output, or several (a list, a dict by name), as one float array per sample."""
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs)]
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    parts = [np.asarray(o, dtype="float64") for o in outputs]
    return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)


def compare(kind: str, runtime: str, expected: np.ndarray, got: np.ndarray) -> Checked:
    """``got`` (the exported file's outputs, flattened) against ``expected`` (Keras's)."""
    if got.shape != expected.shape:
        raise AutomlError(f"the {kind} file returns outputs of shape {got.shape[1:]} per "
                          f"sample, the Keras model {expected.shape[1:]}")
    return Checked(runtime, len(expected), float(np.max(np.abs(got - expected))),
                   tolerance(kind, expected))
