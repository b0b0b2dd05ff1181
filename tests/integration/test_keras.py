"""Keras instrumentation inside trials: reporting, pruning, checkpoints, resume, export."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from conftest import study_of

from jupyter_automl.errors import MetricError, StudyInterrupted

MODEL = '''
model = keras.Sequential([keras.Input((8,)),
                          keras.layers.Dense(hp.int("units", 4, 16), activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-1, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
'''


@pytest.fixture
def data(ip: Any) -> Any:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    ip.user_ns.update(x=x, y=y, x_val=x[:64], y_val=y[:64])
    return ip


def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def test_fit_reports_checkpoints_and_keeps_user_callbacks(data: Any, tmp_path: Path) -> None:
    body = MODEL + '''
seen = []
model.fit(x, y, validation_data=(x_val, y_val), epochs=4, batch_size=32,
          callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: seen.append(e))])
'''
    data.run_cell_magic("automl", "k --trials 2 --maximize val_accuracy --pruner none", body)
    study = study_of(runs(tmp_path), "k")
    for trial in study.trials:
        folder = runs(tmp_path) / "k" / "trials" / str(trial.number)
        state = json.loads((folder / "state.json").read_text())
        assert [h["epoch"] for h in state["history"]] == [1, 2, 3, 4]
        assert (folder / "checkpoint.npz").exists()
        # the value is the best epoch's metric; the per-epoch values were not reported
        # (no pruner), but the history holds them
        assert trial.value == max(h["val_accuracy"] for h in state["history"])
    assert len(data.user_ns["_automl"].trials) == 2


def test_reports_reach_the_pruner(data: Any, tmp_path: Path) -> None:
    body = MODEL + "model.fit(x, y, validation_split=0.25, epochs=3, verbose=0)"
    data.run_cell_magic("automl", "rep --trials 1 --minimize val_loss --pruner median", body)
    (trial,) = study_of(runs(tmp_path), "rep").trials
    assert sorted(trial.intermediate_values) == [1, 2, 3]
    assert trial.value == min(trial.intermediate_values.values())


def test_a_pruned_trial_stops_at_once(tmp_path: Path) -> None:
    import optuna

    from jupyter_automl.training._fit import FitSettings, TrialFit, bind, install, unbind

    class PruneAtTwo(optuna.pruners.BasePruner):
        def prune(self, study: Any, trial: Any) -> bool:
            return trial.last_step is not None and trial.last_step >= 2

    install()
    study = optuna.create_study(pruner=PruneAtTwo())
    trial = study.ask()
    fit = TrialFit(trial, tmp_path, FitSettings(metric="loss"))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    token = bind(fit)
    try:
        with pytest.raises(optuna.TrialPruned, match="pruned at epoch 2"):
            model.fit(np.ones((8, 3)), np.ones(8), epochs=10)
    finally:
        unbind(token)
    assert fit.epochs_run == 2
    # outside a trial, fit is Keras's own
    assert len(model.fit(np.ones((8, 3)), np.ones(8), epochs=3, verbose=0).history["loss"]) == 3


def test_early_stopping(data: Any, tmp_path: Path) -> None:
    body = MODEL.replace('keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-1, log=True))',
                         "keras.optimizers.SGD(learning_rate=0.0)")
    body += "model.fit(x, y, validation_split=0.25, epochs=20)"
    data.run_cell_magic("automl", "es --trials 1 --early-stopping 2 --pruner none", body)
    state = json.loads((runs(tmp_path) / "es/trials/0/state.json").read_text())
    assert len(state["history"]) == 3  # the first epoch, then two without improvement


def test_a_metric_the_logs_lack_is_named_with_the_ones_they_have(data: Any,
                                                                 tmp_path: Path) -> None:
    body = MODEL + "model.fit(x, y, validation_split=0.25, epochs=5)"
    with pytest.raises(MetricError, match=r"metric 'val_acc' is not in the training logs; they "
                                          r"have: accuracy, loss, val_accuracy, val_loss"):
        data.run_cell_magic("automl", "m --trials 4 --maximize val_acc", body)
    (trial,) = study_of(runs(tmp_path), "m").trials  # stopped at once, not retried
    assert trial.state.name == "FAIL"
    assert len(json.loads((runs(tmp_path) / "m/trials/0/state.json").read_text())["history"]) == 1


def test_best_model_is_exported_with_its_best_epoch(data: Any, tmp_path: Path) -> None:
    body = MODEL + "model.fit(x, y, validation_data=(x_val, y_val), epochs=6, batch_size=32)"
    data.run_cell_magic("automl", "b --trials 3 --maximize val_accuracy --pruner none --seed 0",
                        body)
    result = data.user_ns["_automl"]
    params = json.loads((runs(tmp_path) / "b/best/params.json").read_text())
    assert params["params"] == result.best_params and params["trial"] == result.best_trial.number
    model = result.best_model
    _, accuracy = model.evaluate(data.user_ns["x_val"], data.user_ns["y_val"], verbose=0)
    assert accuracy == pytest.approx(result.best_value, abs=1e-6)


def test_interrupt_checkpoints_and_the_rerun_resumes_from_there(data: Any,
                                                                tmp_path: Path) -> None:
    body = MODEL + '''
class Probe(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        starts.append([w.copy() for w in self.model.get_weights()])
    def on_epoch_begin(self, epoch, logs=None):
        steps.append(int(self.model.optimizer.iterations.numpy()))
        if interrupt_at == epoch:  # Ctrl-C during the third epoch: two are saved
            raise KeyboardInterrupt
model.fit(x, y, validation_split=0.25, epochs=5, callbacks=[Probe()])
'''
    data.user_ns.update(interrupt_at=2, starts=[], steps=[])
    with pytest.raises(StudyInterrupted, match=r"trial 0 was checkpointed at epoch 2 and will "
                                               r"resume from there. Rerun the cell to resume"):
        data.run_cell_magic("automl", "int --trials 2 --pruner none", body)
    saved = np.load(runs(tmp_path) / "int/trials/0/checkpoint.npz")
    data.user_ns.update(interrupt_at=None, starts=[], steps=[])
    data.run_cell_magic("automl", "int --trials 2 --pruner none", body)
    # the optimizer goes on from its saved step count (Keras builds it after on_train_begin)
    assert data.user_ns["steps"][0] == int(saved["o0"]) > 0
    trials = study_of(runs(tmp_path), "int").trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    retry = trials[1]
    assert retry.user_attrs["retry_of"] == 0 and retry.user_attrs["resumed_at_epoch"] == 2
    assert retry.params == trials[0].params
    assert trials[0].user_attrs["failed_because"] == "interrupted"
    restored = data.user_ns["starts"][0]
    # on_train_begin runs before the restore; the first epoch's logs show the rest
    history = json.loads((runs(tmp_path) / "int/trials/1/state.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    assert history[:2] == json.loads(
        (runs(tmp_path) / "int/trials/0/state.json").read_text())["history"]
    assert int(saved["epoch"]) == 2 and len(restored) == int(saved["n_weights"])


def test_check_runs_one_short_epoch(data: Any, tmp_path: Path, capsys: Any) -> None:
    body = MODEL + '''
batches = []
count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs=None: batches.append(b))
model.fit(x, y, validation_split=0.25, epochs=50, batch_size=8, callbacks=[count])
assert len(batches) == 3, batches
'''
    data.run_cell_magic("automl", "chk --check --maximize val_accuracy", body)
    assert "--check passed" in capsys.readouterr().out
    assert not (runs(tmp_path) / "chk").exists()


def test_multi_objective_from_logs_and_a_dict(data: Any, tmp_path: Path) -> None:
    body = MODEL + '''
model.fit(x, y, validation_split=0.25, epochs=2)
{"params": model.count_params()}
'''
    data.run_cell_magic("automl", "mo --trials 3 --maximize val_accuracy --minimize params",
                        body)
    result = data.user_ns["_automl"]
    for trial in result.study.trials:
        assert trial.values[1] == 8 * trial.params["units"] + trial.params["units"] + \
            trial.params["units"] * 2 + 2
    assert set(result.best_model) == {t.number for t in result.study.best_trials}


def test_the_best_epoch_follows_a_logged_objective_in_any_position(data: Any,
                                                                   tmp_path: Path) -> None:
    body = MODEL + '''
model.fit(x, y, validation_split=0.25, epochs=3)
{"params": model.count_params()}
'''
    data.run_cell_magic("automl", "order --trials 1 --minimize params --maximize val_accuracy",
                        body)
    (trial,) = study_of(runs(tmp_path), "order").trials
    state = json.loads((runs(tmp_path) / "order/trials/0/state.json").read_text())
    assert state["metric"] == "val_accuracy"
    assert trial.values[1] == max(h["val_accuracy"] for h in state["history"])


def test_tensorflow_start_up_chatter_is_kept_off_stderr(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import jupyter_automl, numpy as np\n"
            "x = np.zeros((8, 4), 'float32'); y = np.zeros((8, 2), 'float32')\n"
            "jupyter_automl.run_study('m = keras.Sequential([keras.Input((4,)), "
            "keras.layers.Dense(2)])\\nm.compile(\"sgd\", \"mse\")\\nm.fit(x, y, epochs=1)', "
            f"'q --trials 1 --runs-dir {tmp_path}', {{'x': x, 'y': y}})\n"
            "import sys; print('the user still sees stderr', file=sys.stderr)\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "oneDNN custom operations" not in done.stderr
    assert "All log messages before absl" not in done.stderr
    assert "the user still sees stderr" in done.stderr


def test_a_warm_started_keras_study_exports_its_own_best_model(data: Any, tmp_path: Path) -> None:
    body = MODEL + "model.fit(x, y, validation_data=(x_val, y_val), epochs=3, batch_size=32)"
    data.run_cell_magic("automl", "first --trials 4 --maximize val_accuracy --seed 0", body)
    # an earlier study whose best no trial of the new one may reach (a value of 2.0)
    first = study_of(runs(tmp_path), "first")
    import optuna

    dists = first.trials[0].distributions
    first.add_trial(optuna.trial.create_trial(params=first.trials[0].params,
                                              distributions=dists, value=2.0))
    data.run_cell_magic("automl", "second --trials 3 --maximize val_accuracy --seed 1 "
                        "--warm-start first", body)
    result = data.user_ns["_automl"]
    own = [t for t in result.study.trials if "warm_start" not in t.user_attrs]
    assert len(own) == 3 and result.done == 3
    assert len(result.study.trials) == 3 + 5  # the 5 observations, marked, not counted
    assert result.best_trial in own and result.best_value <= 1.0
    params = json.loads((runs(tmp_path) / "second/best/params.json").read_text())
    assert params["trial"] == result.best_trial.number
    model = result.best_model
    _, accuracy = model.evaluate(data.user_ns["x_val"], data.user_ns["y_val"], verbose=0)
    assert accuracy == pytest.approx(result.best_value, abs=1e-6)
    rows = {row["number"]: row for row in result.trials}
    assert all(rows[t.number]["kernel"] == "from first" for t in result.study.trials
               if "warm_start" in t.user_attrs)
