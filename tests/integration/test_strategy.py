"""Distribution strategies: Mirrored over two logical CPU devices in a worker kernel,
MultiWorkerMirrored across two local kernels (parameters, pruning, a killed follower), and the
GPU sets of local kernels."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import kernels_alive, study_of, wait_for
from fault_study import Hold

from jupyter_automl.engine import _background as background
from jupyter_automl.engine._options import parse_options
from jupyter_automl.errors import OptionError
from jupyter_automl.training._strategy import gpu_sets


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
    with pytest.raises(OptionError, match="--gpus-per-trial splits GPUs between worker kernels"):
        parse_options("--gpus-per-trial 1")
    assert parse_options("--kernels 2 --gpus-per-trial 0.5").strategy == "auto"


@contextlib.contextmanager
def setup_cell(ip: Any, source: str) -> Iterator[None]:
    """``source`` is an %%automl_setup cell while the block runs."""
    cells = ip.magics_manager.registry["Automl"].setup_cells
    cells.append(source)
    try:
        yield
    finally:
        cells.clear()


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
    with setup_cell(ip, SETUP):
        ip.run_cell_magic("automl", "mir --trials 2 --kernels 1 --strategy mirrored "
                                    "--pruner none --maximize val_accuracy", BODY)
    trials = study_of(tmp_path / "runs", "mir").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"], \
        [t.user_attrs.get("error") for t in trials]
    assert (tmp_path / "runs" / "mir" / "best" / "model.keras").exists()


MW_SETUP = '''
import numpy as np
import keras
x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
'''

# Every kernel runs the cell and must draw the same parameters; the model is built in the
# strategy's scope by the cell itself (the scope the runner opens is entered once more).
MW_BODY = '''
import tensorflow as tf
strategy = tf.distribute.get_strategy()
assert isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy), strategy
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
noise = hp.float("noise", 0.0, 3.0)
rng = np.random.default_rng(1)
target = x[:, :1] * 2 + noise * rng.normal(size=(256, 1)).astype("float32")
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.int("units", 1, 4)),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
model.fit(x, target, validation_split=0.25, epochs=4, batch_size=32)
'''


@pytest.mark.slow
def test_multi_worker_runs_each_trial_across_two_kernels_and_prunes_on_both_at_once(
        ip: Any, tmp_path: Path, capsys: Any) -> None:
    """Each trial trains on a cluster of the two kernels. The chief's pruning decision reaches
    the follower at the same epoch: no kernel is left waiting in a collective op, and the study
    goes on."""
    with setup_cell(ip, MW_SETUP):
        ip.run_cell_magic("automl", "mwp --trials 8 --kernels 2 --strategy multi-worker "
                                    "--pruner median --sampler random --seed 3 "
                                    "--minimize val_loss --trial-timeout 2m", MW_BODY)
    # TensorFlow binds its cluster ports on every interface, without authentication: said
    assert "TensorFlow's servers for this cluster listen on ports " in capsys.readouterr().err
    trials = study_of(tmp_path / "runs", "mwp").trials
    states = [t.state.name for t in trials]
    assert "PRUNED" in states and "FAIL" not in states, \
        [(t.state.name, t.params, t.user_attrs.get("error")) for t in trials]
    assert len(trials) == 8
    assert {t.user_attrs["kernel"] for t in trials} == {"2 kernels (multi-worker)"}
    assert all(len(t.intermediate_values) == 4 for t in trials if t.state.name == "COMPLETE")
    assert (tmp_path / "runs" / "mwp" / "best" / "model.keras").exists()


FIVE_EPOCHS = '''
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.int("units", 2, 8)),
                          keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=5, batch_size=32)
'''


@pytest.mark.slow
def test_a_follower_killed_mid_trial_restarts_the_cluster_and_the_trial_resumes(
        ip: Any, tmp_path: Path, monkeypatch: Any) -> None:
    # the chief holds after trial 0's second epoch's checkpoint (docs/failpoints.md; the
    # follower, which saves nothing, waits for its decision): the follower is killed there,
    # then the chief let go
    hold = Hold(tmp_path / "held")
    for name, value in hold.env("epoch.saved@1").items():
        monkeypatch.setenv(name, value)
    with setup_cell(ip, MW_SETUP):
        ip.run_cell_magic("automl", "mwk --trials 2 --kernels 2 --strategy multi-worker "
                                    "--pruner none --background", FIVE_EPOCHS)
        run = background.get("mwk")
        runner = run.runner
        folder = tmp_path / "runs" / "mwk" / "trials"

        def saved() -> int:
            try:
                return len(json.loads((folder / "0" / "state.json").read_text())["history"])
            except (OSError, ValueError):
                return 0

        hold.wait(1, "the cluster's chief")
        wait_for(lambda: saved() >= 2, 60, "trial 0's second epoch on disk")
        before = saved()
        follower = runner.executor.kernels[1]
        os.kill(follower.pid, signal.SIGKILL)
        hold.release()
        run.wait(300)
    trials = study_of(tmp_path / "runs", "mwk").trials
    assert sum(t.state.name == "COMPLETE" for t in trials) == 2
    assert trials[0].state.name == "FAIL"
    assert "local kernel 1 died" in trials[0].user_attrs["failed_because"]
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == 0]
    assert retry.state.name == "COMPLETE" and retry.params == trials[0].params
    assert retry.user_attrs["resumed_at_epoch"] >= before
    assert [t.number for t in trials] == list(range(len(trials)))
    assert kernels_alive() == []
