"""A trial's deployment costs (``--measure``, or a constraint or objective on one of
:data:`~jupyter_automl.deploy.COSTS`): its model measured after training, once per
architecture. The figures of an architecture are kept in the study's ``costs/`` folder (and in
this process), so the trials that train it again, here, in another kernel of the machine or
after a restart, read them instead of converting the model again.

An architecture is the model's configuration with what does not change its deployed form left
out: the layers' names (numbered as they come), seeds, dropout rates, initializers,
regularizers and constraints. Latency is timed on the machine that measured it first.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._utils.io import read_json, write_json
from .._utils.objectives import is_number
from ..deploy import COSTS, deployment_costs
from ..errors import MetricError

SAMPLE_ROWS = 200  # the calibration sample drawn from the training data
_KEY_VERSION = 1  # bump when the key or a measure changes meaning
_IGNORED = ("name", "seed", "rate", "noise_shape", "trainable")
_IGNORED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
# this process's measures, by study folder and architecture
_known: dict[tuple[Path | None, str], dict[str, float]] = {}


@dataclass
class Measured:
    """The measures a trial asked for, what measuring took, and whether they were read."""

    costs: dict[str, float]
    seconds: float  # 0 when every measure was known
    cached: bool


def measure_costs(model: Any, wanted: Sequence[str], folder: Path | None,
                  train_x: Any = None) -> Measured:
    """``wanted`` of the trained Keras ``model``: read where its architecture was measured
    before (``folder``, then this process), else measured now, with a calibration sample
    drawn from ``train_x`` where full-integer quantization needs one."""
    if model is None:
        raise MetricError(f"{', '.join(wanted)} are measured on the trial's Keras model, and "
                          "this cell trained none with model.fit (or trial.checkpoint(model=...) "
                          "in a custom loop); return the figures from the cell in a dict instead")
    key = architecture_key(model)
    path = None if folder is None else folder / f"{key}.json"
    stored = read_json(path) if path is not None else None  # None: missing or corrupt
    known = {**{k: float(v) for k, v in (stored.items() if isinstance(stored, dict) else ())
                if k in COSTS and is_number(v)}, **_known.get((folder, key), {})}
    missing = [name for name in wanted if name not in known]
    start = time.monotonic()
    if missing:
        sample = None
        if any(COSTS[name] == "int8" for name in missing):
            sample = calibration_sample(train_x)
            if sample is None:
                raise MetricError(
                    f"{', '.join(n for n in wanted if COSTS[n] == 'int8')}: full-integer "
                    "quantization is calibrated on a sample of the training data, and the "
                    "trial's model.fit was given no x it can draw one from (an array, or a "
                    "tf.data.Dataset or PyDataset of (x, y) batches); pass x so, or measure "
                    "tflite_dynamic_kb instead")
        known.update(deployment_costs(model, missing, sample))
        _known[folder, key] = {k: float(v) for k, v in known.items()}
        if path is not None:
            try:
                write_json(path, {"key": key, **known})
            except OSError as exc:  # a cache: the figures are the trial's all the same
                print(f"jupyter-automl: the costs of this architecture cannot be kept in "
                      f"{path} ({exc}); later trials here read them from memory",
                      file=sys.stderr)
    return Measured({name: float(known[name]) for name in wanted},
                    time.monotonic() - start if missing else 0.0, not missing)


def architecture_key(model: Any) -> str:
    """The same text for two models that deploy the same way (see the module's docstring)."""
    try:
        config: Any = model.get_config()
    except (NotImplementedError, TypeError, ValueError):
        config = [[type(layer).__name__, [list(w.shape) for w in layer.weights]]
                  for layer in model.layers]
    names = {layer.name: f"layer{i}" for i, layer in enumerate(_layers(model))}
    names[getattr(model, "name", "")] = "model"
    shapes = [str(tuple(t.shape)) for t in getattr(model, "inputs", None) or ()]
    text = json.dumps({"v": _KEY_VERSION, "inputs": shapes, "config": _plain(config, names)},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def calibration_sample(x: Any, rows: int = SAMPLE_ROWS) -> np.ndarray | None:
    """Up to ``rows`` inputs drawn from what ``fit`` was given as ``x``: an array (rows drawn
    at random, the same every time), or the first batches of a ``tf.data.Dataset`` or a Keras
    ``PyDataset`` of ``(x, y)``. None for anything else (a dict of inputs, a generator)."""
    if x is None or isinstance(x, dict):
        return None
    if hasattr(x, "shape") and len(getattr(x, "shape", ())) >= 1:
        count = int(x.shape[0])
        if count == 0:
            return None
        picked = np.sort(np.random.default_rng(0).choice(count, min(rows, count),
                                                          replace=False))
        return np.asarray(np.asarray(x)[picked] if not isinstance(x, np.ndarray) else x[picked])
    batches: list[np.ndarray] = []
    if type(x).__name__.endswith("Dataset") and hasattr(x, "take"):  # tf.data
        elements: Any = x.take(64)
    elif hasattr(x, "__getitem__") and hasattr(x, "__len__"):  # keras.utils.PyDataset
        elements = (x[i] for i in range(min(len(x), 64)))
    else:
        return None
    for element in elements:
        inputs = element[0] if isinstance(element, (tuple, list)) else element
        if isinstance(inputs, dict):
            return None
        batch = np.asarray(inputs)
        batches.append(batch if batch.ndim > 0 else batch[None])
        if sum(len(b) for b in batches) >= rows:
            break
    return np.concatenate(batches)[:rows] if batches else None


def _layers(model: Any) -> list[Any]:
    """Every layer, nested models' included, in order."""
    found = []
    for layer in getattr(model, "layers", None) or ():
        found.append(layer)
        found.extend(_layers(layer))
    return found


def _plain(value: Any, names: dict[str, str]) -> Any:
    """``value`` with its layers' names numbered and what does not deploy left out."""
    if isinstance(value, dict):
        return {k: _plain(v, names) for k, v in value.items()
                if k not in _IGNORED and not k.endswith(_IGNORED_SUFFIXES)}
    if isinstance(value, (list, tuple)):
        return [_plain(v, names) for v in value]
    if isinstance(value, str):
        return names.get(value, value)
    return value
