"""Faults in real kernels: kill -9 during a trial, and the kernel's Interrupt."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import study_of, wait_for

pytestmark = pytest.mark.slow

SETUP = '''
%load_ext jupyter_automl
import time
import numpy as np
import keras
rng = np.random.default_rng(0)
x = rng.normal(size=(512, 8)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int64")
slow = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs=None: time.sleep(0.4))
EPOCHS = 10
'''

CELL = '''%%automl {name} --trials 4 --pruner none --seed 0 --maximize val_accuracy
model = keras.Sequential([keras.Input((8,)),
                          keras.layers.Dense(hp.int("units", 4, 32), activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-1, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=EPOCHS, callbacks=[slow])
'''


def saved_epochs(tmp_path: Path, name: str, number: int) -> int:
    try:
        state = json.loads((tmp_path / "automl_runs" / name / "trials" / str(number)
                            / "state.json").read_text())
    except (OSError, ValueError):
        return 0
    return len(state["history"])


def check_resumed(tmp_path: Path, name: str, lost: int, saved: int, why: str) -> None:
    study = study_of(tmp_path / "automl_runs", name)
    states = {t.number: t.state.name for t in study.trials}
    assert sum(s == "COMPLETE" for s in states.values()) == 4  # the study reached its total
    assert states[lost] == "FAIL" and study.trials[lost].user_attrs["failed_because"] == why
    assert [t.number for t in study.trials] == list(range(len(study.trials)))  # none reused
    (retry,) = [t for t in study.trials if t.user_attrs.get("retry_of") == lost]
    assert retry.number > lost and retry.state.name == "COMPLETE"
    assert retry.params == study.trials[lost].params
    # at most the running epoch was lost: training went on from the last checkpoint
    assert retry.user_attrs["resumed_at_epoch"] >= saved
    assert saved_epochs(tmp_path, name, retry.number) == 10


def test_kill_9_mid_trial_then_a_new_kernel_resumes(kernels: Any, tmp_path: Path) -> None:
    first = kernels()
    assert first.execute(SETUP).status == "ok"
    first.submit(CELL.format(name="crash"))
    wait_for(lambda: saved_epochs(tmp_path, "crash", 2) >= 2, 180, "trial 2's second epoch")
    saved = saved_epochs(tmp_path, "crash", 2)
    os.kill(first.pid, signal.SIGKILL)
    wait_for(lambda: not first.km.is_alive(), 30, "the kernel to die")

    second = kernels()
    assert second.execute(SETUP).status == "ok"
    reply = second.execute(CELL.format(name="crash"))
    assert reply.status == "ok", reply.text
    assert "study 'crash': 4/4 trials" in reply.stdout
    check_resumed(tmp_path, "crash", lost=2, saved=saved, why="its kernel died")


def test_interrupt_stops_gracefully_and_a_rerun_resumes(kernels: Any, tmp_path: Path) -> None:
    kernel = kernels()
    assert kernel.execute(SETUP).status == "ok"
    msg_id = kernel.submit(CELL.format(name="stop"))
    wait_for(lambda: saved_epochs(tmp_path, "stop", 1) >= 2, 180, "trial 1's second epoch")
    kernel.km.interrupt_kernel()
    reply = kernel.collect(msg_id)
    assert reply.status == "error", reply.text
    assert "StudyInterrupted: study 'stop' interrupted: 1/4 trials finished, trial 1 was " \
           "checkpointed at epoch" in reply.text
    assert "Rerun the cell to resume." in reply.text
    assert "Traceback" not in reply.text  # the message alone
    saved = saved_epochs(tmp_path, "stop", 1)

    reply = kernel.execute(CELL.format(name="stop"))
    assert reply.status == "ok", reply.text
    check_resumed(tmp_path, "stop", lost=1, saved=saved, why="interrupted")
