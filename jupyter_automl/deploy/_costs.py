"""What a model would cost where it is deployed, measured on this machine: its TFLite files'
sizes (dynamic-range quantization, and full integer with a calibration sample) and the time
one sample takes through each on one thread. The figures a study searches on
(``--constraint "tflite_int8_kb <= 64"``, ``--minimize latency_ms``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutomlError
from ._data import check_shapes
from ._files import tf_quiet
from ._litert import open_tflite
from ._report import median_ms
from ._tflite import convert_saved, invoke, saved_model

# Each measure, and the TFLite conversion it is read from.
COSTS = {
    "tflite_dynamic_kb": "dynamic",  # file size, KiB: weights in 8 bits, activations in float
    "tflite_int8_kb": "int8",  # file size, KiB: weights and activations in 8 bits
    "latency_ms": "dynamic",  # ms per sample, the median of single-thread runs
    "latency_int8_ms": "int8",
}
LATENCY = ("latency_ms", "latency_int8_ms")


def deployment_costs(model: Any, wanted: Iterable[str],
                     calibration: np.ndarray | None = None) -> dict[str, float]:
    """Each of the ``wanted`` measures (:data:`COSTS`) of the Keras ``model``: its SavedModel
    is exported once and converted once per TFLite mode it needs. ``int8`` needs a
    ``calibration`` sample of typical inputs (a few hundred rows)."""
    wanted = list(wanted)
    unknown = [name for name in wanted if name not in COSTS]
    assert not unknown, unknown
    if len(getattr(model, "inputs", None) or ()) > 1:
        raise AutomlError("deployment costs are measured on models with one input; this model "
                          f"has {len(model.inputs)}")
    modes = sorted({COSTS[name] for name in wanted})
    if "int8" in modes:
        if calibration is None or len(calibration) == 0:
            raise AutomlError(
                f"{', '.join(n for n in wanted if COSTS[n] == 'int8')} needs a sample of the "
                "training data to calibrate full-integer quantization; the trial's model.fit "
                "was given none it can read (x as an array or a tf.data.Dataset of (x, y)). "
                "Measure tflite_dynamic_kb instead, or pass x as an array")
        check_shapes(model, calibration, "the calibration sample")
        calibration = calibration.astype("float32")
    sample = calibration if calibration is not None and len(calibration) else _zeros(model)
    costs: dict[str, float] = {}
    with tf_quiet(), saved_model(model) as folder:
        for mode in modes:
            data = convert_saved(folder, mode, calibration)
            kb = len(data) / 1024
            path = Path(folder) / f"{mode}.tflite"
            path.write_bytes(data)
            for name in wanted:
                if COSTS[name] != mode:
                    continue
                if name in LATENCY:
                    costs[name] = _latency_ms(path, sample)
                else:
                    costs[name] = kb
    return {name: costs[name] for name in wanted}


def _latency_ms(path: Path, sample: np.ndarray) -> float:
    """The median time of one sample through the TFLite file at ``path``, on one thread."""
    opened, _ = open_tflite(path, threads=1)
    return median_ms(lambda row: invoke(opened, row), sample)


def _zeros(model: Any) -> np.ndarray:
    """One all-zero sample shaped as the model's input, for timing without data."""
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise AutomlError(f"latency is timed on a sample shaped as the model's input, and "
                          f"{shape} has a free dimension; give model.fit an array x")
    return np.zeros((1, *shape), dtype="float32")
