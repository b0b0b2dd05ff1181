"""Discarding a trial and running one again, through the verbs (``%automl`` in a real shell,
``jupyter-automl`` on the command line), on real studies of a tiny NumPy objective: what every
reader then says, the best following, the next run training one more trial or the queued
rerun (even past the total), an undo putting the trial back as it was, the refusals, and the
same in a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for

from jupyter_automl import _optuna, run_study
from jupyter_automl.errors import AutomlError
from jupyter_automl.results import load_result, summary_of
from jupyter_automl.runs import DISCARDED, RERUN_OF, study_paths

QUADRATIC = 'x = hp.float("x", -3, 3)\n(x - 1) ** 2\n'


def study(runs: Path, name: str, trials: int = 4, storage: str = "") -> Any:
    options = f"{name} --trials {trials} --seed 1 --runs-dir {runs}"
    return run_study(QUADRATIC, options + (f" --storage {storage}" if storage else ""), {},
                     listeners=[])


def trials_of(runs: Path, name: str) -> dict[int, Any]:
    return {t.number: t for t in load_result(name, runs).study.get_trials(deepcopy=False)}


def rows_of(runs: Path, name: str) -> dict[int, dict[str, Any]]:
    return {r["number"]: r for r in load_result(name, runs).trials}


def test_a_discarded_best_leaves_every_reader_and_the_next_run_trains_one_more(
        ip: Any, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna

    runs = tmp_path / "runs"
    study(runs, "q")
    paths = study_paths(runs, "q")
    before = summary_of(paths)
    best = before.best[0]
    kept = trials_of(runs, "q")[best]
    # the best model on disk goes back to its trial's folder; the next best's comes from its
    (paths.best / "model.keras").write_bytes(b"model of the best")
    second = sorted((t for t in trials_of(runs, "q").values() if t.number != best),
                    key=lambda t: t.value)[0].number
    paths.trial_model(second).parent.mkdir(parents=True, exist_ok=True)
    paths.trial_model(second).write_bytes(b"model of the second")

    ip.run_line_magic("automl", f"discard q {best} --reason 'a noisy run'")
    said = capsys.readouterr().out
    assert f"trial {best} of study 'q'" in said and "is discarded (a noisy run)" in said
    assert f"the best trial is now {second}" in said

    after = summary_of(paths)
    assert (after.done, after.discarded, after.failed, after.best) == (3, 1, 0, (second,))
    assert str(after.state) == "stopped"  # below its total, and not a failed study
    with monkeypatch.context() as m:  # the same through Optuna as through plain SQL
        m.setattr(_optuna, "read_study", _refused)
        assert summary_of(paths) == after
    assert json.loads(paths.best_params.read_text())["trial"] == second
    assert (paths.best / "model.keras").read_bytes() == b"model of the second"
    assert paths.trial_model(best).read_bytes() == b"model of the best"
    # Optuna's own readers (optuna-dashboard's, the samplers') no longer see it
    stored = optuna.load_study(study_name="q", storage=f"sqlite:///{paths.db}")
    assert stored.best_trial.number == second
    assert best not in [t.number for t in stored.get_trials(
        states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))]
    row = rows_of(runs, "q")[best]
    assert row["state"] == "DISCARDED" and row["value"] == kept.value
    assert row["discarded"].startswith("a noisy run (by ")
    assert "discarded" in load_result("q", runs).trials.columns
    assert "1 discarded" in load_result("q", runs).summary()
    from jupyter_automl.ui import StudyModel  # the panel's table: the same row

    panel = StudyModel.from_result(load_result("q", runs))
    assert panel.table_rows()[best] == row and panel.columns[-1] == "discarded"
    assert (panel.done, panel.count(optuna.trial.TrialState.FAIL)) == (3, 0)

    study(runs, "q")  # the cell again: one more trial in the discarded one's place
    assert (summary_of(paths).done, len(trials_of(runs, "q"))) == (4, 5)

    ip.run_line_magic("automl", f"discard q {best} --undo")
    assert f"trial {best} of study 'q' is COMPLETE again" in capsys.readouterr().out
    back = trials_of(runs, "q")[best]
    assert (back.state, back.values, DISCARDED in back.user_attrs) == (
        kept.state, kept.values, False)
    assert summary_of(paths).best == (best,) and summary_of(paths).done == 5
    assert (paths.best / "model.keras").read_bytes() == b"model of the best"


def _refused(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("the SQL read is off in this test")


def test_a_rerun_trains_the_same_parameters_first_even_past_the_total(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    study(runs, "r", trials=3)
    params = trials_of(runs, "r")[1].params
    said = subprocess.run([sys.executable, "-m", "jupyter_automl", "rerun", "r", "1",
                           "--runs-dir", str(runs)], capture_output=True, text=True,
                          timeout=120)
    assert said.returncode == 0, said.stderr
    assert "queued to run again" in said.stdout and "as trial 3" in said.stdout
    assert "one more trial" in said.stdout and "trains it first" in said.stdout

    study(runs, "r", trials=3)  # finished at 3/3, yet the rerun runs
    rerun = trials_of(runs, "r")[3]
    assert (rerun.state.name, rerun.params, rerun.user_attrs[RERUN_OF]) == (
        "COMPLETE", params, 1)
    assert summary_of(study_paths(runs, "r")).done == 4
    study(runs, "r", trials=3)  # nothing queued any more: nothing more runs
    assert len(trials_of(runs, "r")) == 4

    from jupyter_automl._verbs import CLI, Invocation, dispatch

    dispatch(["rerun", "r", "0", "--discard", "--reason", "again", "--runs-dir", str(runs)],
             Invocation(CLI))
    study(runs, "r", trials=3)  # in the discarded trial's place: the total is 4 done again
    trials = trials_of(runs, "r")
    assert trials[0].user_attrs[DISCARDED]["reason"] == "again"
    assert trials[4].params == trials[0].params
    assert summary_of(study_paths(runs, "r")).done == 4


def test_what_cannot_be_discarded_or_rerun_says_why_and_what_to_do(tmp_path: Path) -> None:
    from jupyter_automl._verbs import CLI, Invocation, dispatch

    runs = tmp_path / "runs"

    def said(*words: str) -> str:
        with pytest.raises(AutomlError) as error:
            dispatch([*words, "--runs-dir", str(runs)], Invocation(CLI))
        return str(error.value)

    gate = threading.Event()
    body = 'x = hp.float("x", 0, 1)\nif trial.number == 1:\n    gate.wait(120)\nx\n'
    run = run_study(body, f"busy --trials 2 --background --runs-dir {runs}", {"gate": gate},
                    listeners=[])
    try:
        wait_for(lambda: (summary_of(study_paths(runs, "busy")).done,
                          summary_of(study_paths(runs, "busy")).running) == (1, 1), 60,
                 "the second trial to start")
        assert "is running: it cannot be discarded while it runs" in said("discard", "busy",
                                                                           "1")
        assert "is running: it cannot be rerun" in said("rerun", "busy", "1")
        # a finished trial of the running study can be: every reader counts it at once
        dispatch(["discard", "busy", "0", "--runs-dir", str(runs)], Invocation(CLI))
        assert summary_of(study_paths(runs, "busy")).discarded == 1
    finally:
        gate.set()
        run.wait(120)
    # its runner, alone on the study, read the storage again (edits.stamp told it): one more
    # trial, and its best (best/params.json) without the discarded one
    figures = summary_of(study_paths(runs, "busy"))
    assert (figures.done, len(trials_of(runs, "busy"))) == (2, 3)
    best = json.loads(study_paths(runs, "busy").best_params.read_text())
    assert best["trial"] == figures.best[0] != 0  # whichever value trial 0 had
    assert "no study 'nope'" in said("discard", "nope", "0")
    assert "has no trial 9; its trials are 0 to 2" in said("discard", "busy", "9")
    assert "is discarded already" in said("discard", "busy", "0")
    assert "is not discarded" in said("discard", "busy", "1", "--undo")
    assert "drop --reason" in said("discard", "busy", "1", "--undo", "--reason", "x")
    with pytest.raises(AutomlError, match="trials in a row failed"):
        run_study('hp.float("x", 0, 1)\nraise ValueError("bad")\n',
                  f"bad --trials 1 --runs-dir {runs}", {}, listeners=[])
    assert "failed: no best, total or sampler counts it" in said("discard", "bad", "0")
    dispatch(["rerun", "busy", "1", "--runs-dir", str(runs)], Invocation(CLI))
    assert "is queued and has not run yet" in said("discard", "busy", "3")


def test_discard_and_rerun_in_a_postgresql_study(tmp_path: Path, postgres_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The spec keeps the URL without its password: the edits find it where libpq does."""
    runs = tmp_path / "runs"
    study(runs, "pg", trials=3, storage=postgres_url)
    monkeypatch.setenv("PGPASSWORD", postgres_url.split(":")[2].split("@")[0])
    paths = study_paths(runs, "pg")
    best = summary_of(paths).best[0]
    from jupyter_automl.results import discard_trial, rerun_trial

    edit = discard_trial("pg", best, runs, reason="bad data")
    assert "is discarded (bad data)" in edit.said
    figures = summary_of(paths)
    assert (figures.remote, figures.done, figures.discarded) == (True, 2, 1)
    assert best not in figures.best
    queued = rerun_trial("pg", best, runs, postgres_url).queued
    study(runs, "pg", trials=3, storage=postgres_url)  # the rerun first: 3/3 again
    trials = trials_of(runs, "pg")
    assert trials[queued].params == trials[best].params and summary_of(paths).done == 3
    discard_trial("pg", best, runs, postgres_url, undo=True)
    assert trials_of(runs, "pg")[best].state.name == "COMPLETE"
    assert summary_of(paths).done == 4
