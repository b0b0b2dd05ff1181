"""``--constraint`` where users run it: a Keras study bounded by its models' size, in this
kernel and on worker kernels, whose best model (the exported file, not the trial's record)
meets the bound; and headless under papermill."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import orphan_kernels, study_of
from digits import CODE, split
from test_cli import cli, notebook

pytestmark = pytest.mark.slow

# a hidden layer of 4 to 64 units: 64*u + u + 10*u + 10 weights, so params <= 1000 holds for
# u <= 13 only, while the widest layers score best
CELL = textwrap.dedent('''\
    import keras
    units = hp.int("units", 4, 64, log=True)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, validation_data=(x_val, y_val), epochs=3, batch_size=64)
''')
LIMIT = 1000


def _check(runs: Path, name: str) -> None:
    import keras

    trials = study_of(runs, name).trials
    assert len(trials) == 6
    for t in trials:  # the built-in params metric: the weights the trial's model counts
        params = 75 * t.params["units"] + 10
        assert t.constraints == {f"params <= {LIMIT}": params - LIMIT}
        if params > LIMIT:  # known before training: the model is not trained
            assert t.state.name == "PRUNED" and not t.intermediate_values
            assert t.user_attrs["error"] == (f"not trained: its model misses params <= {LIMIT} "
                                             f"(params = {params})")
        else:
            assert t.state.name == "COMPLETE"
    feasible = [t for t in trials if 75 * t.params["units"] + 10 <= LIMIT]
    assert feasible and len(feasible) < 6, [t.params for t in trials]
    best = max(feasible, key=lambda t: t.value)
    model = keras.models.load_model(runs / name / "best" / "model.keras")
    assert model.count_params() <= LIMIT  # the exported file meets the budget
    assert model.count_params() == 75 * best.params["units"] + 10


def test_a_size_budget_in_this_kernel(ip: Any, tmp_path: Path) -> None:
    ip.user_ns.update(split())
    ip.run_cell_magic("automl", f'sized --trials 6 --seed 0 --sampler random --pruner none '
                      f'--maximize val_accuracy --constraint "params <= {LIMIT}"', CELL)
    _check(tmp_path / "runs", "sized")
    assert ip.user_ns["_automl"].best_trial.constraints[f"params <= {LIMIT}"] <= 0


def test_a_size_budget_on_worker_kernels(ip: Any, tmp_path: Path) -> None:
    """The worker kernels record each trial's constraints in the study; the driver picks and
    exports the best feasible model from what they recorded."""
    setup = CODE + ("from sklearn.model_selection import train_test_split\n"
                    "x, x_val, y, y_val = train_test_split(x, y, test_size=0.25, "
                    "random_state=0, stratify=y)\n")
    ip.run_cell_magic("automl", f'remote --trials 6 --seed 0 --sampler random --pruner none '
                      f'--kernels 2 '
                      f'--maximize val_accuracy --constraint "params <= {LIMIT}"',
                      setup + CELL)
    _check(tmp_path / "runs", "remote")
    assert orphan_kernels() == []


def test_jupyter_automl_run_keeps_the_constraints(tmp_path: Path) -> None:
    nb = notebook(tmp_path / "bounded.ipynb", '%%automl bounded --trials 6 --seed 0 --maximize '
                  'acc --constraint "size <= 0.5"\nx = hp.float("x", 0, 1)\n{"acc": x, "size": x}')
    done = cli("run", str(nb), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "constraints: size <= 0.5 (" in done.stdout
    study = study_of(tmp_path / "automl_runs", "bounded")
    best = max((t for t in study.trials if t.params["x"] <= 0.5), key=lambda t: t.value)
    assert f"(trial {best.number})" in done.stdout


def test_a_constraint_on_a_metric_no_trial_has_is_an_error_at_the_first_epoch(
        ip: Any, tmp_path: Path) -> None:
    """The cell ends with its fit, so the metric can come from nowhere but the logs: the
    first epoch says so, before the trial trains on."""
    from jupyter_automl.errors import MetricError

    ip.user_ns.update(split())
    with pytest.raises(MetricError) as raised:
        ip.run_cell_magic("automl", 'early --trials 3 --maximize val_accuracy '
                          '--constraint "flops <= 1.5"', CELL)
    assert ("--constraint 'flops <= 1.5': the trial has no metric 'flops'; it has "
            "accuracy, latency_int8_ms, latency_ms, loss, params, tflite_dynamic_kb, "
            "tflite_int8_kb, val_accuracy, val_loss") in str(raised.value)
    trials = study_of(tmp_path / "runs", "early").trials
    assert [t.state.name for t in trials] == ["FAIL"]
    state = json.loads((tmp_path / "runs/early/trials/0/state.json").read_text())
    assert len(state["history"]) == 1  # of the cell's 3 epochs
