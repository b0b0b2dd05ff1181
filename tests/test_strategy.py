"""Distribution strategies: Mirrored over two logical CPU devices in a worker kernel, and the
GPU sets of local kernels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import study_of

from jupyter_automl.errors import OptionError
from jupyter_automl.options import parse_options
from jupyter_automl.strategy import gpu_sets


@pytest.mark.parametrize("kernels,per_trial,gpus,expected", [
    (2, 1, 2, ["0", "1"]),
    (2, 2, 4, ["0,1", "2,3"]),
    (4, 0.5, 2, ["0", "0", "1", "1"]),
    (3, 0.5, 2, ["0", "0", "1"]),
])
def test_local_kernels_get_disjoint_gpus(kernels: int, per_trial: float, gpus: int,
                                         expected: list[str]) -> None:
    assert gpu_sets(kernels, per_trial, gpus) == expected


def test_gpu_requests_that_cannot_be_met() -> None:
    with pytest.raises(OptionError, match="needs 4 GPUs; this machine has 2"):
        gpu_sets(4, 1, 2)
    with pytest.raises(OptionError, match="this machine has no GPU"):
        gpu_sets(1, 1, 0)
    with pytest.raises(OptionError, match="--gpus-per-trial splits GPUs between local"):
        parse_options("--gpus-per-trial 1")
    assert parse_options("--kernels 2 --gpus-per-trial 0.5").strategy == "auto"


SETUP = '''
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import numpy as np
import keras
x = np.random.default_rng(0).normal(size=(128, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
'''

BODY = '''
strategy = tf.distribute.get_strategy()
assert strategy.num_replicas_in_sync == 2, strategy
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.int("units", 2, 8)),
                          keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=2, batch_size=32)
'''


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus(ip: Any, tmp_path: Path) -> None:
    ip.magics_manager.registry["Automl"].setup_cells.append(SETUP)
    try:
        ip.run_cell_magic("automl", "mir --trials 2 --kernels 1 --strategy mirrored "
                                    "--pruner none --maximize val_accuracy", BODY)
    finally:
        ip.magics_manager.registry["Automl"].setup_cells.clear()
    trials = study_of(tmp_path / "runs", "mir").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"], \
        [t.user_attrs.get("error") for t in trials]
    assert (tmp_path / "runs" / "mir" / "best" / "model.keras").exists()
