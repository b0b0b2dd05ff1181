"""``--checkpoint-every``: ``fit`` also saves inside an epoch, and a trial killed there goes on
from the batch it had reached, in real kernels: its weights and optimizer state are the saved
ones, and the rest of the epoch is trained once (for arrays and for a fixed tf.data pipeline);
data that cannot be positioned restarts the epoch with the saved weights, saying so.

Each fault is placed exactly: the failpoint ``batch.begin@N=pause:FILE`` holds the trial as a
given batch of its second epoch begins (docs/failpoints.md), and the test kills or stops it
there once it has seen the file."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Kernel, checkpoint_of, study_of, wait_for
from digits import CODE as DIGITS

from jupyter_automl._utils.failpoints import ENV

pytestmark = pytest.mark.slow

SETUP = '''
%load_ext jupyter_automl
import json, time
import numpy as np
import keras
import tensorflow as tf
''' + DIGITS + '''

class Probe(keras.callbacks.Callback):
    """Counts each epoch's batches, and notes the weights and optimizer step the trial's
    first batch starts from (after the resume restored them)."""
    def __init__(self, number):
        super().__init__()
        self.number, self.counts, self.first = number, {}, None
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_begin(self, batch, logs=None):
        if self.first is None:
            self.first = (self.epoch, int(self.model.optimizer.iterations.numpy()))
            np.save(f"first-{self.number}.npy", self.model.get_weights()[0])
    def on_train_batch_end(self, batch, logs=None):
        self.counts[self.epoch] = self.counts.get(self.epoch, 0) + 1
    def on_train_end(self, logs=None):
        with open(f"probe-{self.number}.json", "w") as f:
            json.dump({"counts": self.counts, "first": self.first}, f)
'''

CELL = '''%%automl {name} --trials 2 --seed 0 --pruner none --maximize val_accuracy {options}
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(hp.int("units", 16, 32), activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
{fit}
'''

ARRAYS = ('model.fit(x, y, validation_split=0.25, epochs=3, batch_size=16, '
          'callbacks=[Probe(trial.number)])')
DATASET = ('data = tf.data.Dataset.from_tensor_slices((x[:1300], y[:1300]))'
           '.shuffle(1300, seed=4, reshuffle_each_iteration=False).batch(16)\n'
           'model.fit(data, validation_data=(x[1300:], y[1300:]), epochs=3, '
           'callbacks=[Probe(trial.number)])')
GENERATOR = ('def batches():\n'
             '    while True:\n'
             '        for i in range(0, 1300, 16):\n'
             '            yield x[i:i + 16], y[i:i + 16]\n'
             'model.fit(batches(), steps_per_epoch=82, validation_data=(x[1300:], y[1300:]), '
             'epochs=3, callbacks=[Probe(trial.number)])')
BATCHES = {ARRAYS: 85, DATASET: 82, GENERATOR: 82}  # 1347 (3/4 of 1797) or 1300 samples / 16


# batch.begin is passed by every batch but an epoch's first: BATCHES[fit] - 1 times an epoch
HELD_AT = 30  # the batch of trial 0's second epoch that the fault is placed at


def held_kernel(tmp_path: Path, fit: str) -> tuple[Kernel, Path]:
    """A kernel whose first trial will hold as batch HELD_AT of its second epoch begins."""
    held = tmp_path / "held"
    passes = BATCHES[fit] - 1 + HELD_AT - 1
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", ENV: f"batch.begin@{passes}=pause:{held}"}
    return Kernel(tmp_path, env=env), held


def kill_inside_epoch_2(kernels: Any, tmp_path: Path, name: str, fit: str) -> tuple[Any, dict]:
    """Start the study saving after every batch (a cadence shorter than any batch), kill -9
    its kernel as trial 0 holds at batch HELD_AT of its second epoch (the batch before it on
    disk)."""
    first, held = held_kernel(tmp_path, fit)
    try:
        assert first.execute(SETUP).status == "ok"
        cell = CELL.format(name=name, fit=fit, options="--checkpoint-every 0.000001s")
        first.submit(cell)
        wait_for(held.exists, 240, f"trial 0 held at batch {HELD_AT} of its second epoch")

        def on_disk() -> bool:  # the writer thread may still be writing the batch before
            saved = checkpoint_of(tmp_path, name, 0)
            return saved is not None and (int(saved["epoch"]), int(saved["batch"])) == (
                1, HELD_AT - 1)

        wait_for(on_disk, 60, "the checkpoint of the batch before it")
        os.kill(first.pid, signal.SIGKILL)
        wait_for(lambda: not first.km.is_alive(), 30, "the kernel to die")
    finally:
        first.shutdown()
    saved = checkpoint_of(tmp_path, name, 0)
    assert saved is not None and int(saved["batch"]) == HELD_AT - 1
    return cell, saved


@pytest.mark.parametrize("fit", [ARRAYS, DATASET], ids=["arrays", "tf.data"])
def test_kill_9_inside_an_epoch_resumes_at_its_batch(kernels: Any, tmp_path: Path,
                                                      fit: str) -> None:
    cell, saved = kill_inside_epoch_2(kernels, tmp_path, "long", fit)
    batch, batches = int(saved["batch"]), BATCHES[fit]
    second = kernels()
    assert second.execute(SETUP).status == "ok"
    reply = second.execute(cell)
    assert reply.status == "ok", reply.text
    assert f"resumes epoch 2 at batch {batch + 1} of {batches}" in reply.text, reply.text
    study = study_of(tmp_path / "automl_runs", "long")
    (retry,) = [t for t in study.trials if t.user_attrs.get("retry_of") == 0]
    assert retry.state.name == "COMPLETE" and retry.params == study.trials[0].params
    probe = __import__("json").loads((tmp_path / f"probe-{retry.number}.json").read_text())
    # the retry starts inside epoch 2 (index 1) with the saved optimizer step and weights...
    assert probe["first"] == [1, batches + batch]
    assert np.array_equal(np.load(tmp_path / f"first-{retry.number}.npy"), saved["w0"])
    # ...trains the rest of that epoch once, then the last epoch whole
    assert probe["counts"] == {"1": batches - batch, "2": batches}
    assert sorted(retry.intermediate_values) == [2, 3]  # epoch 1 was reported by trial 0
    assert retry.user_attrs.get("resumed_at_epoch") == 1
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 2


def test_data_that_cannot_be_positioned_restarts_the_epoch_with_the_saved_weights(
        kernels: Any, tmp_path: Path) -> None:
    cell, saved = kill_inside_epoch_2(kernels, tmp_path, "gen", GENERATOR)
    second = kernels()
    assert second.execute(SETUP).status == "ok"
    reply = second.execute(cell)
    assert reply.status == "ok", reply.text
    assert (f"cannot go back to batch {int(saved['batch'])} of epoch 2: its training data "
            "(generator) is not arrays or tf.data. The epoch restarts from its first batch, "
            "with the weights saved at that batch") in reply.text
    study = study_of(tmp_path / "automl_runs", "gen")
    (retry,) = [t for t in study.trials if t.user_attrs.get("retry_of") == 0]
    assert retry.state.name == "COMPLETE"
    probe = __import__("json").loads((tmp_path / f"probe-{retry.number}.json").read_text())
    assert probe["first"] == [1, 82 + int(saved["batch"])]
    assert np.array_equal(np.load(tmp_path / f"first-{retry.number}.npy"), saved["w0"])
    assert probe["counts"] == {"1": 82, "2": 82}


def test_stop_inside_a_long_epoch_saves_that_batch_and_the_rerun_goes_on_from_it(
        tmp_path: Path) -> None:
    kernel, held = held_kernel(tmp_path, ARRAYS)
    try:
        assert kernel.execute(SETUP).status == "ok"
        cell = CELL.format(name="stop", fit=ARRAYS,
                           options="--checkpoint-every 1h --background")
        assert kernel.execute(cell).status == "ok"
        wait_for(held.exists, 240, f"trial 0 held at batch {HELD_AT} of its second epoch")
        assert kernel.execute("%automl stop stop").status == "ok"
        held.unlink()  # the batch goes on, and reads the Stop
        stopped = kernel.execute("%automl wait stop")
        assert stopped.status == "ok", stopped.text
        saved = checkpoint_of(tmp_path, "stop", 0)
        # Stop acts at that batch, not at the end of the epoch (an hour's cadence saved nothing
        # inside it): the batches before it are on disk
        assert saved is not None, stopped.text
        assert (int(saved["epoch"]), int(saved["batch"])) == (1, HELD_AT), stopped.text
        rerun = kernel.execute(cell.replace(" --background", ""))
        assert rerun.status == "ok", rerun.text
        assert f"resumes epoch 2 at batch {HELD_AT + 1} of 85" in rerun.text, rerun.text
        study = study_of(tmp_path / "automl_runs", "stop")
        assert study.trials[0].user_attrs["failed_because"] == "stopped"
        assert sum(t.state.name == "COMPLETE" for t in study.trials) == 2
    finally:
        kernel.shutdown()
