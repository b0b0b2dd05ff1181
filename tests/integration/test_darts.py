"""Differentiable architecture search (``--darts``) in a real kernel: a search trial whose
choices of layers are mixed operations, the retrain of the architecture it found, the best model
a plain Keras model, the errors for choices that cannot be mixed, and a kill mid-search that
resumes with the architecture weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import orphan_kernels, study_of
from digits import split
from test_cli import cli, notebook

from jupyter_automl.errors import SpaceError
from jupyter_automl.search import DERIVED_FROM, LEARNING_RATE, SUPERNET, WEIGHTS
from jupyter_automl.search._darts import default_lr

pytestmark = pytest.mark.slow

# two searched layers: a hidden block (dense, a wider dense, or a skip connection) twice
CELL = textwrap.dedent('''\
    import keras
    from keras import layers

    def dense32(): return layers.Dense(32, activation="relu")
    def dense32_tanh(): return layers.Dense(32, activation="tanh")
    def skip(): return layers.Identity()

    inputs = keras.Input((64,))
    h = layers.Dense(32, activation="relu")(inputs)
    for i in range(2):
        h = hp.choice(f"block_{i}", [dense32, dense32_tanh, skip])()(h)
    outputs = layers.Dense(10, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-2, log=True)),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, validation_data=(x_val, y_val), epochs=EPOCHS, batch_size=64)
''')


@pytest.fixture
def digits(ip: Any) -> Any:
    ip.user_ns.update(split())
    ip.user_ns["EPOCHS"] = 4
    return ip


def test_a_search_then_the_retrain_of_what_it_found(digits: Any, tmp_path: Path) -> None:
    digits.run_cell_magic("automl", "nas --darts --trials 2 --seed 0 --maximize val_accuracy",
                          CELL)
    study = study_of(tmp_path / "runs", "nas")
    search, retrain = study.trials
    assert [search.state.name, retrain.state.name] == ["COMPLETE", "COMPLETE"]
    # the search: its params are the strongest options, its weights recorded per choice
    assert search.user_attrs[SUPERNET] is True
    weights = search.user_attrs[WEIGHTS]
    assert set(weights) == {"block_0", "block_1"}
    for name, ws in weights.items():
        assert set(ws) == {"dense32", "dense32_tanh", "skip"}
        assert sum(ws.values()) == pytest.approx(1.0)
        assert search.params[name] == max(ws, key=ws.get)
        assert max(ws.values()) > 1 / 3  # the weights moved from uniform
    # their learning rate was set by the search's length: 4 epochs of the training batches
    batches = -(-len(digits.user_ns["x"]) // 64)
    assert search.user_attrs[LEARNING_RATE] == pytest.approx(default_lr(4 * batches))
    # the architecture weights by epoch are in the search's checkpointed history
    state = json.loads((tmp_path / "runs/nas/trials/0/state.json").read_text())
    assert len(state["history"]) == 4 and "darts:block_0:skip" in state["history"][0]
    # the retrain: the same architecture and learning rate, trained from scratch, the best
    assert retrain.user_attrs[DERIVED_FROM] == 0
    assert retrain.params == search.params
    assert SUPERNET not in retrain.user_attrs
    best = json.loads((tmp_path / "runs/nas/best/params.json").read_text())
    assert best["trial"] == 1
    result = digits.user_ns["_automl"]
    assert result.best_trial.number == 1
    model = result.best_model
    assert not [layer for layer in model.layers if "darts" in layer.name]
    assert model.evaluate(digits.user_ns["x_val"], digits.user_ns["y_val"], verbose=0)[1] > 0.5


def test_the_panel_draws_the_architecture_weights(tmp_path: Path) -> None:
    from jupyter_automl import run_study
    from jupyter_automl.ui._panel import StudyPanel

    panel = StudyPanel(display=False)
    run_study(CELL, f"drawn --darts --trials 2 --seed 1 --runs-dir {tmp_path}",
              {**split(), "EPOCHS": 4}, listeners=[panel])
    figure = panel.figures["architecture"]
    names = [trace.name for trace in figure.data]
    assert len(names) == 6 and "block_1: skip" in names
    assert all(len(trace.y) == 4 for trace in figure.data)
    assert "search trial 0" in figure.layout.title.text


@pytest.mark.parametrize("options, message", [
    ('["relu", "tanh"]', "hp.choice('act') has options that are not Keras layers "
                         "('relu', 'tanh')"),
    ('[relu, identity]', "hp.choice('act') has options that do not return Keras layers "
                         "('relu')"),
])
def test_a_choice_that_is_not_of_layers(digits: Any, options: str, message: str) -> None:
    cell = (CELL + "def relu(): return 'relu'\ndef identity(): return layers.Identity()\n"
            f"hp.choice('act', {options})()\n")
    with pytest.raises(SpaceError) as raised:
        digits.run_cell_magic("automl", "bad --darts --trials 2", cell)
    assert message in str(raised.value)
    assert "drop --darts" in str(raised.value)


def test_no_validation_data(digits: Any) -> None:
    cell = CELL.replace("validation_data=(x_val, y_val)", "validation_split=0")
    with pytest.raises(SpaceError, match="validation_split=0.2"):
        digits.run_cell_magic("automl", "noval --darts --trials 2", cell)


def test_options_of_different_shapes(digits: Any) -> None:
    cell = CELL.replace('def skip(): return layers.Identity()',
                        'def skip(): return layers.Dense(16)')
    with pytest.raises(SpaceError, match="different shapes"):
        digits.run_cell_magic("automl", "shapes --darts --trials 2", cell)


SCRIPT = textwrap.dedent('''\
    import sys
    sys.path.insert(0, {tests!r})
    from digits import split
    from jupyter_automl import run_study
    namespace = {{**split(), "EPOCHS": 4}}
    run_study({cell!r}, "killed --darts --trials 2 --seed 0 --runs-dir {runs}", namespace)
''')


def test_a_kill_mid_search_resumes_with_its_architecture_weights(tmp_path: Path) -> None:
    """The search is killed (SIGKILL, by failpoint) once its 2nd epoch's checkpoint and
    state.json are both on disk (``checkpoint.saved``, in the writer's thread: a kill at
    ``epoch.saved`` may land between the two): the rerun restores its weights, architecture
    weights included, resumes it there, then retrains what it found."""
    runs = tmp_path / "runs"
    script = tmp_path / "study.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parents[1]), cell=CELL,
                                    runs=str(runs)))
    env = {**os.environ, "JUPYTER_AUTOML_FAILPOINTS": "checkpoint.saved@1=kill"}
    killed = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                            text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    with np.load(runs / "killed/trials/0/checkpoint.npz") as saved:
        epoch = int(saved["epoch"])
        alphas = [saved[k] for k in saved.files if k.startswith("w") and saved[k].shape == (3,)]
    assert epoch >= 1
    assert len(alphas) == 2 and all(np.abs(a).max() > 0 for a in alphas)  # they had moved
    env.pop("JUPYTER_AUTOML_FAILPOINTS")
    rerun = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "could not restore" not in rerun.stderr + rerun.stdout
    trials = study_of(runs, "killed").trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    resumed, retrain = trials[1], trials[2]
    assert resumed.user_attrs["resumed_at_epoch"] == epoch
    assert resumed.user_attrs[SUPERNET] is True
    # the resumed search's history holds the killed one's epochs, weights included
    history = json.loads((runs / "killed/trials/1/state.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    soft = np.exp(alphas[0]) / np.exp(alphas[0]).sum()
    assert [history[epoch - 1][f"darts:block_0:{o}"] for o in ("dense32", "dense32_tanh",
                                                               "skip")] == \
        pytest.approx(list(soft), abs=1e-6)
    assert retrain.user_attrs[DERIVED_FROM] == 1 and retrain.params == resumed.params


DATA = ("from sklearn.datasets import load_digits\n"
        "from sklearn.model_selection import train_test_split\n"
        "x, y = load_digits(return_X_y=True)\n"
        "x = (x / 16).astype('float32')\n"
        "x, x_val, y, y_val = train_test_split(x, y, test_size=0.25, random_state=0, "
        "stratify=y)\n"
        "EPOCHS = 3\n")


def test_searches_on_worker_kernels(ip: Any, tmp_path: Path) -> None:
    """Two worker kernels each run a search at once (at the learning rate the cell's line
    names); each queues its own retrain, and the best model, trained on a worker kernel, is a
    plain Keras model."""
    import keras

    ip.run_cell_magic("automl", "remote --darts --darts-lr 0.05 --kernels 2 --trials 4 "
                      "--seed 0 --maximize val_accuracy", DATA + CELL)
    trials = study_of(tmp_path / "runs", "remote").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    searches = {t.number: t for t in trials if t.user_attrs.get(SUPERNET)}
    retrains = [t for t in trials if DERIVED_FROM in t.user_attrs]
    assert len(searches) == 2 and len(retrains) == 2
    assert [t.user_attrs[LEARNING_RATE] for t in searches.values()] == [0.05, 0.05]
    assert sorted(t.user_attrs[DERIVED_FROM] for t in retrains) == sorted(searches)
    for retrain in retrains:
        assert retrain.params == searches[retrain.user_attrs[DERIVED_FROM]].params
    best = json.loads((tmp_path / "runs/remote/best/params.json").read_text())
    assert best["trial"] in {t.number for t in retrains}
    model = keras.models.load_model(tmp_path / "runs/remote/best/model.keras")
    assert not [layer for layer in model.layers if "darts" in layer.name]
    assert orphan_kernels() == []


def test_jupyter_automl_run_searches_then_retrains(tmp_path: Path) -> None:
    """Headless: the search and its retrain under papermill, and the saved notebook's report
    draws the architecture weights."""
    nb = notebook(tmp_path / "nas.ipynb", "%%automl nas --darts --trials 2 --seed 0 "
                  "--maximize val_accuracy\n" + CELL, parameters=DATA)  # the data, first
    done = cli("run", str(nb), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "study 'nas': 2/2 trials (2 complete" in done.stdout
    search, retrain = study_of(tmp_path / "automl_runs", "nas").trials
    assert search.user_attrs[SUPERNET] and retrain.user_attrs[DERIVED_FROM] == 0
    executed = (tmp_path / "nas.out.ipynb").read_text()
    assert "Architecture weights (search trial 0)" in executed
