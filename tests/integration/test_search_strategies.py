"""Evolution and REINFORCE where users run them: on real worker kernels (one population, one
policy across processes) and headless through `jupyter-automl run` (papermill), rerun to
resume."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import both_kernels, orphan_kernels, study_of
from test_cli import cli, notebook

from jupyter_automl.search import EVOLVED_FROM

pytestmark = pytest.mark.slow

CELL = ('ops = [hp.choice(f"op_{i}", ["conv3", "conv1", "skip", "pool"]) for i in range(4)]\n'
        'w = hp.int("w", 8, 64, step=8)\nsum(o == "conv3" for o in ops) + w / 64')


def test_worker_kernels_share_one_population(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "evo --trials 24 --kernels 2 --sampler evolution --population 6 "
                      "--tournament 2 --seed 0 --maximize score",
                      both_kernels(CELL, tmp_path / "ready"))
    trials = study_of(tmp_path / "runs", "evo").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 24
    assert {t.user_attrs["kernel"] for t in trials} == {"local kernel 0", "local kernel 1"}
    evolved = [t for t in trials if EVOLVED_FROM in t.user_attrs]
    assert len(evolved) >= 24 - 6 - 2  # random while the first 6 finish (2 run at a time)
    for child in evolved:
        parent = trials[child.user_attrs[EVOLVED_FROM]]
        # parents come from either kernel: the population lives in the study
        assert parent.number < child.number
        assert sum(child.params[k] != parent.params[k] for k in child.params) == 1
    # a child drawn on one kernel from a parent trained on the other: one population (16 or
    # more children, each parent from either kernel: all from their own one is ~2**-16)
    assert any(trials[c.user_attrs[EVOLVED_FROM]].user_attrs["kernel"] != c.user_attrs["kernel"]
               for c in evolved)
    assert orphan_kernels() == []


def test_reinforce_on_worker_kernels(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "rl --trials 12 --kernels 2 --sampler reinforce --seed 0 "
                      "--maximize score", both_kernels(CELL, tmp_path / "ready"))
    trials = study_of(tmp_path / "runs", "rl").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 12
    assert len({t.user_attrs["kernel"] for t in trials}) == 2


def test_jupyter_automl_run_evolves_and_a_rerun_continues(tmp_path: Path) -> None:
    nb = notebook(tmp_path / "search.ipynb", "%%automl evo --trials {n_trials} --sampler "
                  "evolution --population 5 --seed 0 --maximize score\n" + CELL,
                  parameters="n_trials = 10")

    def run(n: int) -> subprocess.CompletedProcess[str]:
        return cli("run", str(nb), "-p", "n_trials", str(n), cwd=tmp_path)

    first = run(10)
    assert first.returncode == 0, first.stderr
    assert "study 'evo': 10/10 trials (10 complete" in first.stdout
    executed = nbformat.read(tmp_path / "search.out.ipynb", as_version=4)
    html = "".join(o.get("data", {}).get("text/html", "") for c in executed.cells
                   for o in c.get("outputs", []))
    assert "mutated from " in html  # the static table shows each trial's origin
    again = run(16)
    assert again.returncode == 0, again.stderr
    trials = study_of(tmp_path / "automl_runs", "evo").trials
    assert [t.number for t in trials] == list(range(16))
    assert all(5 <= t.user_attrs[EVOLVED_FROM] < t.number for t in trials[10:])
