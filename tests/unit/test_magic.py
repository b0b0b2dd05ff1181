"""The magics through a real IPython shell, with cells that do not need TensorFlow."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import study_of

from jupyter_automl.errors import (
    AutomlError,
    MetricError,
    OptionError,
    SpaceError,
    StorageError,
    StudyConflictError,
    StudyNotFoundError,
    TooManyFailuresError,
)
from jupyter_automl.runs import _storage as storage

QUAD = 'x = hp.float("x", -10, 10)\nk = hp.choice("k", ["a", "b"])\n(x - 2) ** 2 + (k == "b")'


def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def test_load_ext_imports_no_heavy_module() -> None:
    code = ("import sys\nfrom IPython.testing.globalipapp import start_ipython\n"
            "ip = start_ipython()\nip.run_line_magic('load_ext', 'jupyter_automl')\n"
            "assert 'automl' in ip.magics_manager.magics['cell']\n"
            "assert 'automl_setup' in ip.magics_manager.magics['cell']\n"
            "assert 'automl' in ip.magics_manager.magics['line']\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'plotly', 'optuna', 'ipywidgets')"
            " if m in sys.modules]\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_study_runs_and_sets_automl(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "quad --trials 12 --seed 1", QUAD)
    result = ip.user_ns["_automl"]
    assert result.done == 12 and len(result.trials) == 12
    assert set(result.best_params) == {"x", "k"}
    assert result.best_value == min(r["value"] for r in result.trials)
    spec = json.loads((runs(tmp_path) / "quad" / "spec.json").read_text())
    assert spec["trials"] == 12 and [p["name"] for p in spec["space"]] == ["x", "k"]
    assert json.loads((runs(tmp_path) / "quad/best/params.json").read_text())["params"] == \
        result.best_params


def test_trials_is_the_studys_total(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "quad --trials 8 --seed 1", QUAD)
    ip.run_cell_magic("automl", "quad --trials 10 --seed 1", QUAD)
    trials = study_of(runs(tmp_path), "quad").trials
    assert [t.number for t in trials] == list(range(10))
    # A resumed seeded study draws new points rather than replaying its first ones.
    assert len({t.params["x"] for t in trials}) == 10
    ip.run_cell_magic("automl", "quad", QUAD)  # the stored total is kept
    assert len(study_of(runs(tmp_path), "quad").trials) == 10


def test_seed_makes_studies_repeatable(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "a --trials 5 --seed 7 --sampler random", QUAD)
    ip.run_cell_magic("automl", "b --trials 5 --seed 7 --sampler random", QUAD)
    a, b = (study_of(runs(tmp_path), n) for n in "ab")
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid", "cmaes", "nsga2", "qmc",
                                     "evolution", "reinforce", "tpe+evolution"])
def test_every_sampler_runs(ip: Any, sampler: str, tmp_path: Path) -> None:
    body = 'x = hp.int("x", 0, 4)\ny = hp.float("y", 0.0, 1.0, step=0.25)\nx + y'
    ip.run_cell_magic("automl", f"s --trials 6 --sampler {sampler} --seed 0", body)
    assert ip.user_ns["_automl"].done == 6


@pytest.mark.parametrize("pruner", ["hyperband", "median", "sha", "patient", "none"])
def test_every_pruner_is_accepted(ip: Any, pruner: str) -> None:
    ip.run_cell_magic("automl", f"p --trials 3 --pruner {pruner}", QUAD)
    assert ip.user_ns["_automl"].done == 3


def test_multi_objective_tuple(ip: Any, tmp_path: Path) -> None:
    body = 'x = hp.float("x", 0, 1)\n(x, 1 - x ** 2)'
    ip.run_cell_magic("automl", "mo --trials 10 --maximize a --maximize b --seed 0", body)
    result = ip.user_ns["_automl"]
    assert result.directions == ["maximize", "maximize"]
    assert result.best_trial is None and len(result.best_values) >= 1
    params = json.loads((runs(tmp_path) / "mo/best/params.json").read_text())
    assert {p["trial"] for p in params["pareto"]} == {t.number for t in result.study.best_trials}


def test_named_values_from_a_dict(ip: Any) -> None:
    body = 'x = hp.float("x", 0, 1)\n{"acc": x, "size": 10 * x}'
    ip.run_cell_magic("automl", "d --trials 4 --maximize acc --minimize size", body)
    trial = ip.user_ns["_automl"].study.trials[0]
    assert trial.values[1] == pytest.approx(10 * trial.values[0])


def test_a_raising_cell_fails_its_trial_and_the_study_goes_on(ip: Any, capsys: Any) -> None:
    body = ('x = hp.float("x", 0, 1)\nif x > 0.6:\n    raise RuntimeError(f"boom at {x:.2f}")\n'
            'x')
    ip.run_cell_magic("automl", "f --trials 10 --sampler random --seed 0", body)
    result = ip.user_ns["_automl"]
    failed = [t for t in result.study.trials if t.state.name == "FAIL"]
    assert result.done == 10 and failed
    err = capsys.readouterr().err
    assert err.count("RuntimeError: boom at") == len(failed)
    assert 'line 3, in <module>\n    raise RuntimeError(f"boom at {x:.2f}")' in err
    assert "jupyter_automl" not in err  # our own frames are not shown
    assert "RuntimeError: boom at" in failed[0].user_attrs["error"]


def test_several_failures_in_a_row_stop_the_study(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "ok --trials 2", QUAD)
    with pytest.raises(TooManyFailuresError,
                       match=r"(?s)3 trials in a row failed.*ZeroDivisionError.*--check"):
        ip.run_cell_magic("automl", "ok --trials 6", 'hp.float("x", -10, 10)\n1 / 0')
    trials = study_of(runs(tmp_path), "ok").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 2 + ["FAIL"] * 3


@pytest.mark.parametrize("body,message", [
    ('hp.float("x", 0, 1)\nfloat("nan")', r"the value is nan: the trial diverged"),
    ('hp.float("x", 0, 1)\n"high"', r"last expression is a str, not a value"),
    ('hp.float("x", 0, 1)\n(1.0, 2.0)', r"returned 2 value\(s\) but the study has 1 objective"),
    ('hp.float("x", 0, 1)\nNone', r"the cell gave no value"),
])
def test_invalid_values_fail_with_a_message(ip: Any, body: str, message: str) -> None:
    with pytest.raises(TooManyFailuresError, match=message):
        ip.run_cell_magic("automl", "v --trials 3", body)


BAD_CELLS = [
    ("--trails 3", QUAD, OptionError, r"unknown option --trails \(did you mean --trials\?\)"),
    ("", 'hp.int("n", 5, 1)', SpaceError, r"hp.int\('n', line 1\): low=5 must be below high=1"),
    ("", 'hp.float("lr", 0, 1, log=True)', SpaceError, r"log=True needs low > 0"),
    ("", 'hp.choice("a", [])', SpaceError, r"the list of options is empty"),
    ("", 'a = hp.int("n", 1, 2)\nb = hp.float("n", 0, 1)', SpaceError,
     r"'n' is defined twice with different ranges"),
    ("", "x = (", AutomlError, r"syntax error on line 1"),
    ("--sampler grid", 'hp.float("lr", 0.1, 1)', SpaceError, r"needs a step for float"),
    ("--maximize acc", 'hp.float("x", 0, 1)\n{"accuracy": 1}', MetricError,
     r"metric 'acc' is in neither .*; available: accuracy"),
    ("", 'lo = 3\nhp.int("n", lo, 1)', SpaceError, r"hp.int\('n'\): low=3 must be below high=1"),
]


@pytest.mark.parametrize("line,body,error,message", BAD_CELLS)
def test_bad_inputs_get_clear_errors(ip: Any, line: str, body: str, error: type,
                                     message: str) -> None:
    with pytest.raises(error, match=message):
        ip.run_cell_magic("automl", f"bad {line}", body)


def test_bad_input_loses_no_finished_trial(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "keep --trials 3", QUAD)
    with pytest.raises(SpaceError):
        ip.run_cell_magic("automl", "keep --trials 5", 'hp.int("n", 5, 1)')
    assert len(study_of(runs(tmp_path), "keep").trials) == 3


def test_changing_the_objective_is_a_conflict(ip: Any) -> None:
    ip.run_cell_magic("automl", "c --trials 2", QUAD)
    with pytest.raises(StudyConflictError,
                       match=r"created to minimize the value, but this cell asks to maximize "
                             r"score.*--fresh"):
        ip.run_cell_magic("automl", "c --trials 3 --maximize score", QUAD)


def test_fresh_keeps_the_old_folder(ip: Any, tmp_path: Path, capsys: Any) -> None:
    ip.run_cell_magic("automl", "fr --trials 3", QUAD)
    ip.run_cell_magic("automl", "fr --trials 2 --fresh --maximize score", "hp.int('n', 1, 3)")
    kept = [p for p in runs(tmp_path).iterdir() if p.name.startswith("fr.old-")]
    assert len(kept) == 1 and (kept[0] / "study.db").exists()
    assert f"kept as {kept[0]}" in capsys.readouterr().out
    assert len(study_of(runs(tmp_path), "fr").trials) == 2


def test_check_runs_one_trial_without_touching_the_study(ip: Any, tmp_path: Path,
                                                         capsys: Any) -> None:
    ip.run_cell_magic("automl", "chk --check", QUAD)
    assert "--check passed" in capsys.readouterr().out
    assert not (runs(tmp_path) / "chk").exists()
    with pytest.raises(AutomlError, match=r"(?s)--check failed.*ZeroDivisionError"):
        ip.run_cell_magic("automl", "chk --check", "hp.int('n', 1, 2)\n1 / 0")


def test_timeout_stops_starting_trials(ip: Any, capsys: Any) -> None:
    body = 'import time\ntime.sleep(0.3)\nhp.float("x", 0, 1)'
    ip.run_cell_magic("automl", "slow --trials 50 --timeout 1s", body)
    assert 1 <= ip.user_ns["_automl"].done < 10
    assert "--timeout reached" in capsys.readouterr().out


def test_corrupt_storage_gets_a_clear_error(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "cor --trials 2", QUAD)
    (runs(tmp_path) / "cor" / "study.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match=r"study.db is corrupt .*--fresh"):
        ip.run_cell_magic("automl", "cor --trials 3", QUAD)
    ip.run_cell_magic("automl", "cor --trials 2 --fresh", QUAD)  # the way out works
    assert ip.user_ns["_automl"].done == 2


def test_locked_storage_gets_a_clear_error(ip: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ip.run_cell_magic("automl", "lock --trials 2", QUAD)
    monkeypatch.setattr(storage, "SQLITE_TIMEOUT", 0.2)
    holder = sqlite3.connect(runs(tmp_path) / "lock" / "study.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match=r"is locked by another process"):
            ip.run_cell_magic("automl", "lock --trials 4", QUAD)
    finally:
        holder.rollback()
        holder.close()
    ip.run_cell_magic("automl", "lock --trials 4", QUAD)
    assert ip.user_ns["_automl"].done == 4


def test_setup_cells_run_here_and_are_recorded(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl_setup", "", "offset = 5")
    ip.run_cell_magic("automl", "su --trials 2", 'hp.float("x", 0, 1) + offset')
    assert ip.user_ns["_automl"].best_value >= 5
    assert (runs(tmp_path) / "su" / "setup" / "00.py").read_text() == "offset = 5"
    with pytest.raises(OptionError, match="takes no options"):
        ip.run_cell_magic("automl_setup", "--x", "pass")


def test_hp_works_in_helpers_defined_in_other_cells(ip: Any) -> None:
    ip.run_cell("def pick():\n    return hp.int('depth', 1, 4)")
    ip.run_cell_magic("automl", "helper --trials 3", "pick() * 1.0")
    assert set(ip.user_ns["_automl"].best_params) == {"depth"}


def test_list_show_delete(ip: Any, tmp_path: Path, capsys: Any) -> None:
    ip.run_cell_magic("automl", "one --trials 2", QUAD)
    ip.run_cell_magic("automl", "two --trials 3 --maximize score", 'hp.float("x", 0, 1)')
    capsys.readouterr()
    ip.run_line_magic("automl", "list")
    out = capsys.readouterr().out
    assert "one   finished  2/2" in out and "two   finished  3/3" in out
    ip.run_line_magic("automl", "show two")
    assert "study 'two': 3/3 trials" in capsys.readouterr().out
    ip.user_ns["__answer"] = "n"
    from jupyter_automl.results import _catalog as catalog

    assert not catalog.delete("one", runs(tmp_path), ask=lambda _: "n")
    assert catalog.delete("one", runs(tmp_path), ask=lambda _: "y")
    ip.run_line_magic("automl", "delete two --yes")
    assert not (runs(tmp_path) / "two").exists()
    with pytest.raises(StudyNotFoundError, match="no study 'two'"):
        ip.run_line_magic("automl", "show two")
    with pytest.raises(OptionError, match="unknown command"):
        ip.run_line_magic("automl", "frobnicate")


def test_result_function(ip: Any, tmp_path: Path) -> None:
    import jupyter_automl

    ip.run_cell_magic("automl", "res --trials 3", QUAD)
    result = jupyter_automl.result("res", runs(tmp_path))
    assert result.done == 3 and "study 'res': 3/3" in repr(result)
    assert "<table" in result._repr_html_()
    with pytest.raises(StudyNotFoundError, match="studies there: res"):
        jupyter_automl.result("nope", runs(tmp_path))


def test_run_study_without_ipython(tmp_path: Path) -> None:
    import jupyter_automl

    result = jupyter_automl.run_study(QUAD, f"lib --trials 3 --runs-dir {tmp_path}")
    assert result is not None and result.done == 3


def test_storage_elsewhere(ip: Any, tmp_path: Path) -> None:
    db = tmp_path / "shared" / "studies.db"
    ip.run_cell_magic("automl", f"ext --trials 3 --storage {db}", QUAD)
    assert db.exists() and not (runs(tmp_path) / "ext" / "study.db").exists()
    import jupyter_automl

    assert jupyter_automl.result("ext", runs(tmp_path)).done == 3


def test_storage_passwords_stay_out_of_messages_and_files(ip: Any, tmp_path: Path) -> None:
    url = "postgresql://bob:s3cret@127.0.0.1:9/db"
    with pytest.raises(StorageError) as info:
        ip.run_cell_magic("automl", f"pg --trials 1 --storage {url}", QUAD)
    assert "s3cret" not in str(info.value) and "bob:***@127.0.0.1:9/db" in str(info.value)
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or b"s3cret" not in path.read_bytes()


def test_a_metric_named_like_a_table_column_keeps_its_values(ip: Any, capsys: Any) -> None:
    body = 'x = hp.float("x", 0, 1)\n{"acc": x, "params": int(100 * x)}'
    # seeded: two draws with the same whole params would leave only 2 trials on the front
    ip.run_cell_magic("automl", "cols --trials 3 --maximize acc --minimize params --seed 0",
                      body)
    table = ip.user_ns["_automl"].trials
    assert table.columns[:4] == ["number", "state", "acc", "params (value)"]
    assert table[0]["params (value)"] == int(100 * table[0]["params"]["x"])
    capsys.readouterr()
    ip.run_line_magic("automl", "list")
    assert "cols  finished  3/3     Pareto front of 3 trials" in capsys.readouterr().out
