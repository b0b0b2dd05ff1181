"""``--executions-per-trial N``: a Keras study in this kernel scored by the mean of two seeds,
with the spread kept and shown (the table, the live panel); a study killed (``kill -9``, a
failpoint) in its second execution that resumes there, its first execution's value kept; and
worker kernels running the executions, read back by ``show``."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from conftest import study_of
from fault_study import PLAIN_SETUP, Study, run, script

from jupyter_automl.engine import _background as background
from jupyter_automl.results import cell_text
from jupyter_automl.ui._panel import StudyPanel

MODEL = '''
model = keras.Sequential([keras.Input((8,)),
                          keras.layers.Dense(hp.int("units", 4, 16), activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-1, log=True)),
              "sparse_categorical_crossentropy")
model.fit(x, y, validation_data=(x_val, y_val), epochs=3, batch_size=64)
'''


def test_a_trial_is_the_mean_of_its_executions(ip: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(192, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    ip.user_ns.update(x=x, y=y, x_val=x[:64], y_val=y[:64])
    ip.run_line_magic("config", 'Automl.display = "widgets"')
    try:  # in the background, so that the live panel can be read once it ends
        ip.run_cell_magic("automl", "ex --trials 1 --executions-per-trial 2 --seed 0 "
                          "--minimize val_loss --pruner median --background", MODEL)
        ip.run_line_magic("automl", "wait ex")
    finally:
        ip.run_line_magic("config", 'Automl.display = "auto"')
    study = study_of(tmp_path / "runs", "ex")
    for trial in study.trials:
        attrs = trial.user_attrs
        runs = [v[0] for v in attrs["executions"]]
        assert len(runs) == 2 and runs[0] != runs[1]  # two seeds, two models
        assert len(set(attrs["execution_seeds"])) == 2
        assert trial.value == pytest.approx(statistics.mean(runs))
        assert attrs["executions_std"] == [pytest.approx(statistics.stdev(runs))]
        # the pruner saw each epoch's mean over the executions, reported by the last
        curves = [dict(c) for c in attrs["execution_curves"]]
        assert trial.intermediate_values == {
            step: pytest.approx((curves[0][step] + curves[1][step]) / 2) for step in (1, 2, 3)}
    text = repr(ip.user_ns["_automl"].trials)
    (trial,) = study.trials
    said = f"{trial.value:.4g} ± {trial.user_attrs['executions_std'][0]:.2g} (2 runs)"
    assert said in text
    # the live panel's table and curve say the same: the spread, and the mean curve
    panel = next(li for li in background.get("ex").runner.listeners
                 if isinstance(li, StudyPanel))
    assert panel.model is not None
    (row,) = panel.model.table_rows()
    assert cell_text("val_loss", row["val_loss"]) == said
    assert panel.model.records[0].curve == sorted(trial.intermediate_values.items())
    # the model kept is the best execution's, at its best epoch
    best = study.best_trial
    model = keras.models.load_model(tmp_path / "runs" / "ex" / "best" / "model.keras")
    assert model.evaluate(x[:64], y[:64], verbose=0) == pytest.approx(
        min(v[0] for v in best.user_attrs["executions"]), rel=1e-4)


# A NumPy loop whose result a seed moves (the noise drawn before it trains), checkpointed each
# step by trial.checkpoint: a study without TensorFlow, started as a process of its own.
BODY = '''
lr = hp.float("lr", 1e-3, 1e-1, log=True)
noise = np.random.normal(scale=0.05)
state = {"w": [0.0] * 8}
start = trial.checkpoint(state=state)
for step in range(start, 3):
    w = np.array(state["w"])
    w -= lr * 2 * x[:192].T @ (x[:192] @ w - y[:192]) / 192
    state["w"] = w.tolist()
    loss = float(np.mean((x[192:] @ w - y[192:]) ** 2)) + noise
    trial.report({"loss": loss}, step=step + 1)
'''
OPTIONS = "m --trials 1 --executions-per-trial 2 --seed 0 --minimize loss --pruner none"


def test_a_kill_in_execution_2_resumes_at_execution_2(tmp_path: Path) -> None:
    code = script(OPTIONS, PLAIN_SETUP, BODY)
    killed = run(code, tmp_path, "checkpoint.saved@3=kill")  # execution 2's first step saved
    assert killed.returncode == -9, killed.stderr
    study = Study(tmp_path / "automl_runs")
    (lost,) = study.trials()
    assert lost.state.name == "RUNNING" and len(lost.user_attrs["executions"]) == 1
    assert study.checkpointed(0) == 1
    rerun = run(code, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "trial 1 goes on at execution 2 of 2" in rerun.stderr, rerun.stderr
    dead, retry = study.trials()
    assert (dead.state.name, retry.state.name) == ("FAIL", "COMPLETE")
    assert retry.user_attrs["retry_of"] == 0 and retry.user_attrs["resumed_at_epoch"] == 1
    assert retry.user_attrs["executions"][0] == lost.user_attrs["executions"][0]  # kept
    assert retry.user_attrs["execution_seeds"] == lost.user_attrs["execution_seeds"]
    # the same study never killed: the same two executions, to the last bit
    whole = tmp_path / "whole"
    whole.mkdir()
    assert run(code, whole).returncode == 0
    (uninterrupted,) = Study(whole / "automl_runs").trials()
    assert retry.user_attrs["executions"] == uninterrupted.user_attrs["executions"]
    assert retry.values == uninterrupted.values


def test_worker_kernels_run_the_executions(tmp_path: Path) -> None:
    done = run(script(OPTIONS.replace("--trials 1", "--trials 2 --kernels 2"), PLAIN_SETUP, BODY,
                      display="text"), tmp_path)
    assert done.returncode == 0, done.stderr
    trials = Study(tmp_path / "automl_runs").trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    for trial in trials:
        assert trial.user_attrs["kernel"].startswith("local kernel")
        runs = [v[0] for v in trial.user_attrs["executions"]]
        assert len(runs) == 2 and trial.value == pytest.approx(statistics.mean(runs))
    shown = subprocess.run([sys.executable, "-m", "jupyter_automl.cli", "show", "m"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    for trial in trials:  # `show`, the verb, reads the spread from the trials' attributes
        std = trial.user_attrs["executions_std"][0]
        assert f"{trial.value:.4g} ± {std:.2g} (2 runs)" in shown.stdout, shown.stdout
