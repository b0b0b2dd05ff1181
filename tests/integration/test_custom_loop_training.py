"""Custom training loops (``tf.GradientTape``) in real kernels: ``trial.report`` prunes them,
and ``trial.checkpoint`` carries them through ``kill -9``: the retry goes on from the saved
step with the saved weights, optimizer state and step counter (the kill placed exactly: the
failpoint ``epoch.saved`` holds trial 1 after its third step, docs/failpoints.md)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Kernel, checkpoint_of, study_of, wait_for
from digits import CODE as DIGITS
from digits import load

from jupyter_automl._utils.failpoints import ENV

pytestmark = pytest.mark.slow

SETUP = '''
%load_ext jupyter_automl
import time
import numpy as np
import keras
import tensorflow as tf
''' + DIGITS + '''xt, yt, xv, yv = x[:1200], y[:1200], x[1200:], y[1200:]
'''

CELL = '''%%automl {name} {options}
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(hp.int("units", 16, 48), activation="relu"),
                          keras.layers.Dense(10)])
optimizer = keras.optimizers.Adam(hp.choice("lr", {rates}))
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
counter = {{"batches": 0}}
start = trial.checkpoint(model=model, optimizer=optimizer, counter=counter)
np.save(f"restored-{{trial.number}}.npy", model.get_weights()[0])
print(f"trial {{trial.number}} starts at step {{start}} after {{counter['batches']}} batches, "
      f"optimizer at iteration {{int(optimizer.iterations.numpy())}}")
data = tf.data.Dataset.from_tensor_slices((xt, yt)).batch(100)
for step in range(start, {steps}):
    for xb, yb in data:
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        counter["batches"] += 1
    accuracy = float(np.mean(np.argmax(model(xv), -1) == yv))
    trial.report({{"loss": float(loss), "val_accuracy": accuracy}}, step=step + 1)
'''


def test_the_pruner_stops_a_custom_loop(kernels: Any, tmp_path: Path) -> None:
    kernel = kernels()
    assert kernel.execute(SETUP).status == "ok"
    cell = CELL.format(name="prune", steps=6, rates="[3e-2, 1e-6]",
                       options="--trials 10 --sampler random --seed 1 --pruner median "
                               "--maximize val_accuracy")
    reply = kernel.execute(cell)
    assert reply.status == "ok", reply.text
    study = study_of(tmp_path / "automl_runs", "prune")
    states = [t.state.name for t in study.trials]
    assert states.count("PRUNED") >= 1 and "FAIL" not in states, states
    for t in study.trials:
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1))  # every step reported, in order
        assert len(steps) == 6 or t.state.name == "PRUNED"
    # the learner that cannot learn is stopped before its last step
    assert any(t.state.name == "PRUNED" and len(t.intermediate_values) < 6
               and t.params["lr"] == 1e-6 for t in study.trials)
    assert (tmp_path / "automl_runs" / "prune" / "best" / "model.keras").exists()


def test_kill_9_mid_loop_then_the_retry_goes_on_from_the_saved_step(kernels: Any,
                                                                     tmp_path: Path) -> None:
    cell = CELL.format(name="crash", steps=6, rates="[1e-2]",
                       options="--trials 3 --seed 0 --pruner none --maximize val_accuracy")
    held = tmp_path / "held"
    # trial 0 passes epoch.saved at its 6 steps, trial 1 at its first two: the 9th pass holds
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", ENV: f"epoch.saved@8=pause:{held}"}
    first = Kernel(tmp_path, env=env)
    try:
        assert first.execute(SETUP).status == "ok"
        first.submit(cell)
        wait_for(held.exists, 240, "trial 1 held after its third step")

        def three_steps_saved() -> bool:  # the writer thread may still be writing it
            saved = checkpoint_of(tmp_path, "crash", 1)
            return saved is not None and int(saved["epoch"]) == 3

        wait_for(three_steps_saved, 60, "trial 1's third step on disk")
        os.kill(first.pid, signal.SIGKILL)
        wait_for(lambda: not first.km.is_alive(), 30, "the kernel to die")
    finally:
        first.shutdown()
    saved = checkpoint_of(tmp_path, "crash", 1)
    assert saved is not None
    step = int(saved["epoch"])
    batches = step * 12  # 1200 samples in batches of 100

    second = kernels()
    assert second.execute(SETUP).status == "ok"
    reply = second.execute(cell)
    assert reply.status == "ok", reply.text
    study = study_of(tmp_path / "automl_runs", "crash")
    assert study.trials[1].state.name == "FAIL"
    assert study.trials[1].user_attrs["failed_because"] == "its kernel died"
    (retry,) = [t for t in study.trials if t.user_attrs.get("retry_of") == 1]
    assert retry.state.name == "COMPLETE" and retry.params == study.trials[1].params
    assert retry.user_attrs.get("resumed_at_epoch") == step, reply.text
    # the step counter, the optimizer's iterations and the weights are the saved ones
    assert (f"trial {retry.number} starts at step {step} after {batches} batches, optimizer "
            f"at iteration {batches}") in reply.stdout
    restored = np.load(tmp_path / f"restored-{retry.number}.npy")
    assert np.array_equal(restored, saved["model/0"])
    # the retry's steps go on from there: none repeated, none missing
    assert step == 3 and sorted(retry.intermediate_values) == [4, 5, 6]
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 3


TF_LOOP = '''
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(hp.int("units", 16, 32)),
                          keras.layers.Dense(10)])
optimizer = keras.optimizers.Adam(1e-2)
step = tf.Variable(0, dtype=tf.int64)
saved = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
start = trial.checkpoint(saved=saved)
starts.append((start, int(step.numpy()), model.get_weights()[0].copy()))
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
while int(step.numpy()) < 6:
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    iterations.append(int(optimizer.iterations.numpy()))
    step.assign_add(1)
    if int(step.numpy()) == stop_at:
        raise KeyboardInterrupt
    trial.report({"loss": float(loss)}, step=int(step.numpy()))
'''


def test_a_tf_train_checkpoint_carries_a_loop_through_an_interrupt(tmp_path: Path) -> None:
    import keras
    import tensorflow as tf

    from jupyter_automl import run_study
    from jupyter_automl.errors import StudyInterrupted

    x, y = load()
    ns: dict[str, Any] = {"keras": keras, "tf": tf, "x": x, "y": y,
                          "starts": [], "iterations": [], "stop_at": 4}
    line = f"tfc --trials 1 --minimize loss --pruner none --runs-dir {tmp_path}"
    with pytest.raises(StudyInterrupted):
        run_study(TF_LOOP, line, ns, listeners=[])
    with np.load(tmp_path / "tfc/trials/0/checkpoint.npz") as data:
        saved = {k: data[k] for k in data.files}
    ns.update(starts=[], iterations=[], stop_at=None)
    result = run_study(TF_LOOP, line, ns, listeners=[])
    assert result.done == 1
    start, counter, weights = ns["starts"][0]
    # the step variable, the optimizer (its first step after the resume is the 4th) and the
    # weights are those saved at step 3
    assert start == counter == 3 and ns["iterations"][0] == 4
    assert int(saved["epoch"]) == 3 and "saved/tf.index" in saved
    assert np.array_equal(weights, model_weights(saved, tmp_path / "read"))
    assert result.trials[-1]["epochs"] == 6
    assert result.best_model is not None  # the Keras model inside the tf.train.Checkpoint


def model_weights(saved: dict[str, Any], folder: Path) -> Any:
    """The first kernel kept in a saved tf.train.Checkpoint, read back by TensorFlow."""
    import tensorflow as tf

    folder.mkdir()
    prefix = str(folder / "ckpt")
    for key, blob in saved.items():
        if key.startswith("saved/tf"):
            Path(prefix + key[len("saved/tf"):]).write_bytes(blob.tobytes())
    reader = tf.train.load_checkpoint(prefix)
    # the model's first kernel, saved once, under the first path to it (the optimizer's)
    return reader.get_tensor("optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE")
