"""`jupyter-automl sweep`: grids of parameters, real papermill runs of real notebooks."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import study_of
from test_cli import KILLER, notebook

from jupyter_automl.batch._sweep import load_grid, make_points, slug
from jupyter_automl.errors import AutomlError

pytestmark = pytest.mark.slow

BODY = '%%automl quad --trials {n_trials} --seed 0\nx = hp.float("x", -5, high)\n(x - 1) ** 2'


def sweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_automl.cli", "sweep", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def grid_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_grid_is_the_product_of_its_lists_in_file_order(tmp_path: Path) -> None:
    grid = grid_file(tmp_path / "g.yaml", "dataset: [wine, digits]\nlr: [0.01, 0.1]\n")
    assert load_grid(grid) == [{"dataset": "wine", "lr": 0.01}, {"dataset": "wine", "lr": 0.1},
                               {"dataset": "digits", "lr": 0.01},
                               {"dataset": "digits", "lr": 0.1}]
    points = grid_file(tmp_path / "p.yaml", "points:\n- {lr: 0.01, layers: 2}\n- {lr: 0.1}\n")
    assert load_grid(points) == [{"lr": 0.01, "layers": 2}, {"lr": 0.1}]


@pytest.mark.parametrize("text, message", [
    ("lr: 0.1\n", "'lr' must be a non-empty list of values, got 0.1; write lr: [0.1]"),
    ("lr: []\n", "'lr' must be a non-empty list of values"),
    ("- 1\n", "must hold a YAML mapping of parameter names to lists of values"),
    ("", "it holds nothing"),
    ("points: [{lr: 1}]\nlayers: [1, 2]\n", "has both 'points:' and grid parameters (layers)"),
    ("points: [1, 2]\n", "'points:' must be a non-empty list of mappings"),
    ("points: [{lr: 1}, {lr: 1}]\n", "points 1 and 2 are the same (lr=1); remove one"),
    ("my-lr: [1]\n", "parameter name 'my-lr' is not a Python variable name"),
])
def test_a_bad_grid_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AutomlError) as info:
        load_grid(grid_file(tmp_path / "g.yaml", text))
    assert message in str(info.value)


def test_point_folders_are_named_from_their_values_safely() -> None:
    assert slug({"dataset": "wine", "model": "mlp", "lr": 0.001}) == \
        "dataset=wine,model=mlp,lr=0.001"
    lossy = slug({"layers": [64, 32], "flag": True})
    assert lossy.startswith("layers=_64__32_,flag=true-") and len(lossy.rsplit("-")[-1]) == 8
    risky = slug({"path": "../etc/a b,c=d"})
    assert "/" not in risky and " " not in risky and risky.startswith("path=.._etc_a_b_c_d-")
    long = slug({"name": "x" * 300})
    assert len(long) <= 110
    points = make_points([{"n": 1}, {"n": "1"}], Path("/out"))
    assert len({p.folder for p in points}) == 2  # same text, different values
    assert [p.label.split()[0] for p in points] == ["[1/2]", "[2/2]"]


def test_a_sweep_runs_every_point_and_a_failing_one_does_not_stop_the_others(
        tmp_path: Path) -> None:
    nb = notebook(tmp_path / "tune.ipynb", BODY, parameters="n_trials = 2\nhigh = 5")
    grid = grid_file(tmp_path / "grid.yaml", "high: [2, -10, 3]\nn_trials: [2]\n")
    done = sweep(str(nb), "--grid", str(grid), "--parallel", "2", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    out = tmp_path / "tune_sweep"
    names = ["high=2,n_trials=2", "high=-10,n_trials=2", "high=3,n_trials=2"]
    assert f"sweep of tune.ipynb: 3 points, 2 at a time, in {out}" in done.stdout
    for i, name in enumerate(names, 1):
        assert f"[{i}/3] {name} started" in done.stdout
    assert "[1/3] high=2,n_trials=2 finished in " in done.stdout
    assert "[2/3] high=-10,n_trials=2 failed in " in done.stdout
    assert "SpaceError: hp.float('x'): low=-5 must be below high=-10" in done.stdout
    assert "sweep: 2/3 points finished, 1 failed: high=-10,n_trials=2" in done.stdout

    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["point"] for r in rows] == names
    assert [r["status"] for r in rows] == ["finished", "failed", "finished"]
    assert [r["high"] for r in rows] == ["2", "-10", "3"]
    assert rows[1]["error"].startswith("SpaceError: hp.float('x'): low=-5 must be below")
    assert [r["studies"] for r in rows] == ["quad"] * 3
    assert [r["trials"] for r in rows] == ["2/2", "0/2", "2/2"]
    assert float(rows[0]["best_value"]) >= 0 and "x" in json.loads(rows[0]["best_params"])
    assert rows[0]["notebook"] == str(out / names[0] / "tune.ipynb")
    page = (out / "summary.html").read_text()
    assert "2/3 points finished" in page and "<tr class='failed'>" in page
    assert "SpaceError: hp.float(&#x27;x&#x27;): low=-5" in page
    for name in names:  # each point: executed notebook, its own runs folder, its record
        assert (out / name / "tune.ipynb").exists()
        assert (out / name / "automl_runs" / "quad" / "study.db").exists()
    record = json.loads((out / names[1] / "point.json").read_text())
    assert record["parameters"] == {"high": -10, "n_trials": 2}
    assert record["status"] == "failed" and record["exit_code"] == 1
    assert not (tmp_path / "automl_runs").exists()  # no kernel worked beside the notebook

    stamps = {name: (out / name / "tune.ipynb").stat().st_mtime_ns for name in names}
    again = sweep(str(nb), "--grid", str(grid), cwd=tmp_path)
    assert again.returncode == 1, again.stderr
    assert f"[1/3] {names[0]} already finished (" in again.stdout
    assert f"[3/3] {names[2]} already finished (" in again.stdout
    assert f"[2/3] {names[1]} started" in again.stdout
    assert "high=2,n_trials=2 started" not in again.stdout
    after = {name: (out / name / "tune.ipynb").stat().st_mtime_ns for name in names}
    assert after[names[0]] == stamps[names[0]] and after[names[2]] == stamps[names[2]]
    assert after[names[1]] > stamps[names[1]]  # only the failed point ran again
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["status"] for r in rows] == ["finished", "failed", "finished"]
    assert rows[0]["trials"] == "2/2"


def test_a_point_whose_kernel_died_resumes_its_study_when_the_sweep_runs_again(
        tmp_path: Path) -> None:
    nb = notebook(tmp_path / "tune.ipynb", KILLER)
    grid = grid_file(tmp_path / "points.yaml", "points:\n- {n_trials: 4}\n")
    out = tmp_path / "runs"
    died = sweep(str(nb), "--grid", str(grid), "--output-dir", str(out), cwd=tmp_path)
    assert died.returncode == 1, died.stderr
    assert "[1/1] n_trials=4 failed in " in died.stdout
    assert "the kernel died in cell 4" in died.stdout
    row = next(csv.DictReader(open(out / "summary.csv")))
    assert row["status"] == "failed" and row["error"] == "the kernel died in cell 4"

    again = sweep(str(nb), "--grid", str(grid), "--output-dir", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "[1/1] n_trials=4 finished in " in again.stdout
    assert "sweep: 1/1 points finished\n" in again.stdout
    trials = study_of(out / "n_trials=4" / "automl_runs", "quad").trials
    assert [t.number for t in trials] == list(range(5))
    assert trials[3].user_attrs["retry_of"] == 2
    executed = nbformat.read(out / "n_trials=4" / "tune.ipynb", as_version=4)
    assert any("n_trials = 4" in c.source for c in executed.cells)
    row = next(csv.DictReader(open(out / "summary.csv")))
    assert row["status"] == "finished" and row["trials"] == "4/4"


@pytest.mark.parametrize("args, message", [
    (["--grid", "nope.yaml"], "grid file nope.yaml does not exist"),
    (["--grid", "bad.yaml"], "'lr' must be a non-empty list of values, got 0.1"),
    (["--grid", "bad.yaml", "--parallel", "0"], "--parallel 0: give at least 1 point at a time"),
    (["--grid", "good.yaml", "--kernel", "nope"], "there is no Jupyter kernel named 'nope'"),
])
def test_bad_sweep_input_is_a_clear_error(tmp_path: Path, args: list[str],
                                          message: str) -> None:
    nb = notebook(tmp_path / "tune.ipynb", BODY)
    grid_file(tmp_path / "bad.yaml", "lr: 0.1\n")
    grid_file(tmp_path / "good.yaml", "high: [1]\n")
    done = sweep(str(nb), *args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "tune_sweep").exists()
