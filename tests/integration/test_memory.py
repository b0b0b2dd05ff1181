"""A long Keras study keeps nothing of its finished trials: TensorFlow's global gradient
registry would hold every trial's train function (and so its model) for good, about 4 MB a
trial. Checked by what stays alive, not by RSS, which is noisy."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import func_graph, ops

from jupyter_automl.training import _memory

CELL = '''
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(hp.int("units", 4, 16)),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
model.fit(x, y, epochs=1, batch_size=32, verbose=0)
'''


def registered() -> set[str]:
    return {k for k in ops._gradient_registry._registry if k.startswith(_memory.PREFIX)}


def train_graphs() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects()
               if isinstance(o, func_graph.FuncGraph) and o.name == "one_step_on_data")


def test_trials_leave_no_gradients_nor_graphs_behind(ip: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    ip.user_ns.update(x=x, y=(x[:, 0] > 0).astype("int64"), keras=keras)
    before, graphs = registered(), train_graphs()
    ip.run_cell_magic("automl", "mem --trials 6 --minimize loss --pruner none --seed 0", CELL)
    assert ip.user_ns["_automl"].done == 6
    assert registered() == before  # Keras's optimizer registers one or two a trial
    assert train_graphs() - graphs <= 2  # at most the last trial's, not one per trial


def test_only_the_gradients_registered_since_the_mark_are_dropped() -> None:
    @tf.custom_gradient
    def double(v: Any) -> Any:
        return 2 * v, lambda dy: 2 * dy

    def trace() -> set[str]:
        seen = registered()
        tf.function(lambda v: double(v)).get_concrete_function(tf.TensorSpec([], tf.float32))
        return registered() - seen

    kept = trace()
    mark = _memory.gradient_mark()
    dropped = trace()
    assert kept and dropped
    _memory.release(mark)
    assert kept <= registered() and not dropped & registered()
    _memory.release(None)  # no mark (Keras first imported inside the trial): nothing dropped
    assert kept <= registered()


@pytest.fixture(autouse=True)
def _forget_test_gradients() -> Any:
    mark = _memory.gradient_mark()
    yield
    _memory.release(mark)
