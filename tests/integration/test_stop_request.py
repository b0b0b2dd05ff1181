"""A stop request (JupyterLab's Stop: ``stop.request`` in the study's folder) reaches a study
wherever it runs: on worker kernels (each stops its trial at the next epoch) and under
``jupyter-automl run``. The stopped trials are checkpointed and queued, as the panel's Stop
leaves them, and a rerun resumes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import study_of, wait_for

from jupyter_automl.runs import request_stop, study_paths

pytestmark = pytest.mark.slow

LOAD = "%load_ext jupyter_automl"
SETUP = '''%%automl_setup
import time
import numpy as np
import keras
rng = np.random.default_rng(0)
x = rng.normal(size=(300, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
class Slow(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(0.4)
'''

CELL = '''%%automl {name} --trials 4 --seed 0 --pruner none --maximize val_accuracy {options}
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(hp.int("units", 4, 16)),
                          keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=30, callbacks=[Slow()])
'''


def started(runs: Path, name: str, count: int) -> bool:
    saved = sum((runs / name / "trials" / str(n) / "state.json").exists() for n in range(4))
    return saved >= count


def check_stopped(runs: Path, name: str, stopped: int) -> None:
    study = study_of(runs, name)
    lost = [t for t in study.trials if t.user_attrs.get("failed_because") == "stopped"]
    assert len(lost) == stopped, [(t.number, t.state.name, t.user_attrs) for t in study.trials]
    for trial in lost:
        retries = [t for t in study.trials if t.user_attrs.get("retry_of") == trial.number]
        assert [t.state.name for t in retries] == ["WAITING"]
    assert not [t for t in study.trials if t.state.name == "RUNNING"]


def test_a_stop_request_stops_the_trials_on_worker_kernels(kernels: Any,
                                                          tmp_path: Path) -> None:
    kernel = kernels()
    assert kernel.execute(LOAD).status == "ok"
    assert kernel.execute(SETUP).status == "ok"
    msg_id = kernel.submit(CELL.format(name="workers", options="--kernels 2"))
    runs = tmp_path / "automl_runs"
    wait_for(lambda: started(runs, "workers", 2), 180, "both workers' first epochs")
    request_stop(study_paths(runs, "workers"), by="a test")
    reply = kernel.collect(msg_id, timeout=120)
    check_stopped(runs, "workers", stopped=2)
    assert "stopped" in reply.text, reply.text
    rerun = kernel.execute(CELL.format(name="workers", options="--kernels 2"))
    assert rerun.status == "ok", rerun.text
    study = study_of(runs, "workers")
    retries = [t for t in study.trials if "retry_of" in t.user_attrs]
    assert len(retries) == 2 and all(t.state.name == "COMPLETE" for t in retries)
    assert all(t.user_attrs.get("resumed_at_epoch", 0) >= 1 for t in retries)


def test_a_stop_request_stops_jupyter_automl_run(tmp_path: Path) -> None:
    notebook = tmp_path / "tune.ipynb"
    cells = [LOAD, SETUP, CELL.format(name="headless", options="")]
    notebook.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "outputs": [],
                   "execution_count": None, "source": source} for i, source in enumerate(cells)]
    }))
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_automl", "run", str(notebook), "--output",
         str(tmp_path / "out.ipynb")], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    runs = tmp_path / "automl_runs"
    try:
        wait_for(lambda: started(runs, "headless", 1), 180, "the first epoch")
        request_stop(study_paths(runs, "headless"), by="a test")
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    check_stopped(runs, "headless", stopped=1)
    assert process.returncode == 130, output
    assert "stopped" in output, output
    # the study records the notebook it came from
    spec = json.loads((runs / "headless" / "spec.json").read_text())
    assert spec["notebook"] == str(notebook)
