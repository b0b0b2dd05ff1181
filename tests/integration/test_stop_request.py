"""A stop request (JupyterLab's Stop: ``stop.request`` in the study's folder) reaches a study
wherever it runs: on worker kernels (each stops its trial at the next epoch) and under
``jupyter-automl run``. The stopped trials are checkpointed and queued, as the panel's Stop
leaves them, and a rerun resumes them.

The request is placed exactly: the failpoint ``epoch.saved@1=pause:FILE`` holds each trial
process after its second epoch (docs/failpoints.md); the test writes the request while they are
held, then lets them go, and each reads it at that epoch's end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Kernel, study_of
from fault_study import Hold

from jupyter_automl.runs import request_stop, study_paths

pytestmark = pytest.mark.slow

LOAD = "%load_ext jupyter_automl"
SETUP = '''%%automl_setup
import numpy as np
import keras
rng = np.random.default_rng(0)
x = rng.normal(size=(300, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
'''

CELL = '''%%automl {name} --trials 4 --seed 0 --pruner none --maximize val_accuracy {options}
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(hp.int("units", 4, 16)),
                          keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=4)
'''


def held_env(hold: Hold) -> dict[str, str]:
    """Each trial process holds after its second epoch until the hold is released."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **hold.env("epoch.saved@1")}


def check_stopped(runs: Path, name: str, stopped: int) -> None:
    study = study_of(runs, name)
    lost = [t for t in study.trials if t.user_attrs.get("failed_because") == "stopped"]
    assert len(lost) == stopped, [(t.number, t.state.name, t.user_attrs) for t in study.trials]
    for trial in lost:
        retries = [t for t in study.trials if t.user_attrs.get("retry_of") == trial.number]
        assert [t.state.name for t in retries] == ["WAITING"]
    assert not [t for t in study.trials if t.state.name == "RUNNING"]


def test_a_stop_request_stops_the_trials_on_worker_kernels(tmp_path: Path) -> None:
    hold = Hold(tmp_path / "held")
    kernel = Kernel(tmp_path, env=held_env(hold))
    try:
        assert kernel.execute(LOAD).status == "ok"
        assert kernel.execute(SETUP).status == "ok"
        msg_id = kernel.submit(CELL.format(name="workers", options="--kernels 2"))
        runs = tmp_path / "automl_runs"
        hold.wait(2, "both workers")
        request_stop(study_paths(runs, "workers"), by="a test")
        hold.release()
        reply = kernel.collect(msg_id, timeout=120)
        stopped_and_resumed(kernel, runs, reply.text)
    finally:
        kernel.shutdown()


def stopped_and_resumed(kernel: Kernel, runs: Path, said: str) -> None:
    check_stopped(runs, "workers", stopped=2)
    assert "stopped" in said, said
    rerun = kernel.execute(CELL.format(name="workers", options="--kernels 2"))
    assert rerun.status == "ok", rerun.text
    study = study_of(runs, "workers")
    retries = [t for t in study.trials if "retry_of" in t.user_attrs]
    assert len(retries) == 2 and all(t.state.name == "COMPLETE" for t in retries)
    assert all(t.user_attrs.get("resumed_at_epoch") == 2 for t in retries)


def test_a_stop_request_stops_jupyter_automl_run(tmp_path: Path) -> None:
    hold = Hold(tmp_path / "held")
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
        stderr=subprocess.STDOUT, text=True, env=held_env(hold))
    runs = tmp_path / "automl_runs"
    try:
        hold.wait(1, "the trial")
        request_stop(study_paths(runs, "headless"), by="a test")
        hold.release()
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    check_stopped(runs, "headless", stopped=1)
    (stopped,) = [t for t in study_of(runs, "headless").trials if t.state.name == "FAIL"]
    assert stopped.number == 0 and len(stopped.intermediate_values) == 2
    assert process.returncode == 130, output
    assert "stopped" in output, output
    # the study records the notebook it came from
    spec = json.loads((runs / "headless" / "spec.json").read_text())
    assert spec["notebook"] == str(notebook)
