"""A display never fails a study: a listener that raises, in any hook, is switched off with one
warning and the trials stand. The best-model exporter is the exception: its failure is a
clear error after the trial is told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import study_of

from jupyter_automl import run_study
from jupyter_automl.engine._events import Listener
from jupyter_automl.errors import ExportError
from jupyter_automl.ui._panel import StudyPanel
from jupyter_automl.ui._progress import ProgressLine
from jupyter_automl.ui._static import StaticReport

HOOKS = ["study_started", "trial_started", "epoch_ended", "trial_finished", "study_finished"]

KERAS = '''
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.int("units", 2, 8)),
                          keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=2, batch_size=32)
'''


@pytest.fixture
def namespace() -> dict[str, Any]:
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return {"keras": keras, "x": x, "y": (x[:, 0] > 0).astype("int64")}


class Recorder(Listener):
    """Counts the events it gets; raises in ``failing`` (once it is called there)."""

    title = "the recorder"

    def __init__(self, failing: str | None = None) -> None:
        self.failing = failing
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name in HOOKS:
            def hook(*args: Any) -> None:
                self.calls.append(name)
                if name == self.failing:
                    raise RuntimeError(f"boom in {name}")
            return hook
        return super().__getattribute__(name)


@pytest.mark.parametrize("hook", HOOKS)
def test_a_listener_raising_in_any_hook_is_switched_off(
        hook: str, namespace: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    failing, healthy = Recorder(hook), Recorder()
    run_study(KERAS, f"l --trials 3 --runs-dir {tmp_path} --maximize val_accuracy",
              namespace, listeners=[failing, healthy])
    trials = study_of(tmp_path, "l").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3  # the results stand
    assert failing.calls.count(hook) == 1  # called once, then never again
    assert len(failing.calls) == healthy.calls.index(hook) + 1
    assert healthy.calls.count("trial_finished") == 3 and healthy.calls[-1] == "study_finished"
    err = capsys.readouterr().err
    assert err.count("jupyter-automl: the recorder failed") == 1
    assert f"the recorder failed in {hook} and is switched off for the rest of this run; the " \
           "trials go on." in err
    assert f"RuntimeError: boom in {hook}" in err and "Traceback" in err


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("display", [ProgressLine, StudyPanel, StaticReport])
def test_each_display_failing_in_each_hook_leaves_the_study_alone(
        display: type[Listener], hook: str, namespace: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    def broken(*args: Any) -> None:
        raise KeyError("WAITING")

    monkeypatch.setattr(display, hook, broken)
    run_study(KERAS, f"d --trials 2 --runs-dir {tmp_path} --maximize val_accuracy",
              namespace, listeners=[display()])
    assert [t.state.name for t in study_of(tmp_path, "d").trials] == ["COMPLETE"] * 2
    err = capsys.readouterr().err
    assert err.count(f"{display.title} failed in {hook}") == 1
    assert "KeyError: 'WAITING'" in err


def test_the_panel_knows_a_queued_retry(namespace: dict[str, Any], tmp_path: Path,
                                        capsys: Any) -> None:
    """The bug that made this file: a WAITING trial (a retry queued after a crash) failed the
    panel's curves, and with them the retry."""
    first = run_study(KERAS, f"w --trials 1 --runs-dir {tmp_path}", namespace,
                      listeners=[])
    trial = first.study.trials[0]
    first.study.enqueue_trial(trial.params, user_attrs={"retry_of": 0})
    panel = StudyPanel(display=False)
    run_study(KERAS, f"w --trials 3 --runs-dir {tmp_path}", namespace, listeners=[panel])
    assert "failed in" not in capsys.readouterr().err
    assert [t.state.name for t in study_of(tmp_path, "w").trials] == ["COMPLETE"] * 3
    assert panel.model is not None and panel.model.records[1].state.name == "COMPLETE"
    assert len(panel.model.records[1].curve) == 2


def test_a_best_model_that_cannot_be_saved_is_a_clear_error_and_the_trial_stays(
        namespace: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "best").write_text("a file where the best/ folder goes")
    with pytest.raises(ExportError) as err:
        run_study(KERAS, f"x --trials 3 --runs-dir {tmp_path} --maximize val_accuracy",
                  namespace, listeners=[])
    message = str(err.value)
    assert "trial 0 finished (COMPLETE" in message and "is kept in the study" in message
    assert f"could not be saved in {tmp_path / 'x' / 'best'}" in message
    assert "rerun the cell: the study resumes, and saves this model first" in message
    assert [t.state.name for t in study_of(tmp_path, "x").trials] == ["COMPLETE"]
    (tmp_path / "x" / "best").unlink()  # the disk is fixed: the rerun goes on
    result = run_study(KERAS, f"x --trials 3 --runs-dir {tmp_path} --maximize val_accuracy",
                       namespace, listeners=[])
    assert "saved the best model of trial 0, which could not be saved before" in \
        capsys.readouterr().out
    assert result.done == 3 and (tmp_path / "x" / "best" / "model.keras").exists()


def test_every_reader_knows_a_queued_trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: Any) -> None:
    """A study with a queued retry (WAITING), as a rerun after a crash finds it, read by
    everything that maps trial states: the table, show, the static and live panels, list."""
    from jupyter_automl._verbs import show
    from jupyter_automl.batch import current_study
    from jupyter_automl.results import _catalog as catalog
    from jupyter_automl.runs._paths import study_paths

    result = run_study('hp.float("x", 0, 1)', f"q --trials 2 --runs-dir {tmp_path}", {},
                       listeners=[])
    result.study.enqueue_trial({"x": 0.5}, user_attrs={"retry_of": 1})
    assert [row["state"] for row in result.trials] == ["COMPLETE", "COMPLETE", "WAITING"]
    assert "WAITING" in catalog.show_text("q", tmp_path)
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    show("q", tmp_path, "static")
    panel = show("q", tmp_path, "widgets")
    assert [r["state"] for r in panel.table.rows] == ["COMPLETE", "COMPLETE", "WAITING"]
    (row,) = catalog.rows(tmp_path)
    assert (row["state"], row["done"], row["total"]) == ("finished", 2, 2)
    progress = current_study(study_paths(tmp_path, "q").root.parent, 0)
    assert progress is not None and progress.done == 2
    assert "failed in" not in capsys.readouterr().err
