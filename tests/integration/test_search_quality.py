"""``benchmarks/search_quality.py`` and ``constrained_search.py`` keep working: one table, one
seed, 20 evaluations, every side (ours through the real ``%%automl`` path, Optuna's,
KerasTuner's oracles). Their ``--quick`` is the same with two seeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_benchmark_runs_every_side(tmp_path: Path) -> None:
    out, svg = tmp_path / "runs.jsonl", tmp_path / "curves.svg"
    small = ["--tasks", "nb201/cifar10", "--seeds", "1", "--evals", "20"]
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_quality.py"),
                           *small, "--jobs", "1", "--out", str(out), "--svg", str(svg)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    sides = {r["side"] for r in runs}
    assert {"automl", "automl-evolution", "automl-reinforce", "optuna-tpe", "optuna-random",
            "kt-random", "kt-bayes"} <= sides
    assert len(runs) == len(sides)
    for run in runs:  # the incumbent's regret after each of the 20 evaluations
        assert len(run["regret"]) == 20 and min(run["regret"]) >= 0
    assert "nb201/cifar10 (val_acc, maximized" in done.stdout
    assert "average rank at 20 evaluations" in done.stdout and "goals:" in done.stdout
    assert svg.read_text().startswith("<svg") and "polyline" in svg.read_text()
    # a rerun finds every run in its file and does none again
    again = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_quality.py"),
                            *small, "--out", str(out), "--svg", str(svg)],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert again.returncode == 0 and "0 runs to do" in again.stdout, again.stderr


def test_the_quick_constrained_benchmark_runs_every_side(tmp_path: Path) -> None:
    """``benchmarks/constrained_search.py``, one seed: the constrained, by-models-trained and
    two-objective searches on NAS-Bench-201, ours through the real cell with --constraint
    and two objectives, Optuna's beside them; the regrets and hypervolume regrets are what a
    run can reach."""
    out = tmp_path / "constrained.jsonl"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "constrained_search.py"),
                           "--tasks", "nb201/cifar10", "--seeds", "1", "--evals", "20",
                           "--jobs", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = {(r["kind"], r["side"]) for r in runs}
    assert {("constrained", s) for s in ("automl", "automl-evolution", "automl-filter",
                                         "optuna-tpe", "optuna-random")} <= kinds
    assert {("front", s) for s in ("automl", "optuna-nsga2", "optuna-tpe",
                                   "optuna-random")} <= kinds
    assert len(runs) == 14  # 5 constrained, 5 trained, 4 two-objective sides
    for run in runs:
        assert 1 <= len(run["regret"]) <= 20 and min(run["regret"]) >= 0
        if run["kind"] != "trained":  # every evaluation counts; a trained run, its feasible
            assert len(run["regret"]) == 20
        if run["kind"] == "front":  # a front only grows: its hypervolume never falls
            assert all(b <= a + 1e-12 for a, b in zip(run["regret"], run["regret"][1:]))
    assert "latency <= 0.0158 (the median; best feasible val_acc 91.06)" in done.stdout
    assert "hypervolume regret (true front 0.9520)" in done.stdout and "goals:" in done.stdout
