"""``benchmarks/search_quality.py --quick``: the benchmark keeps working (one table, two seeds,
20 evaluations, every side: ours through the real ``%%automl`` path, Optuna's, KerasTuner's
oracles)."""

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
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_quality.py"),
                           "--quick", "--jobs", "1", "--out", str(out), "--svg", str(svg)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    sides = {r["side"] for r in runs}
    assert {"automl", "automl-evolution", "automl-reinforce", "optuna-tpe", "optuna-random",
            "kt-random", "kt-bayes"} <= sides
    assert len(runs) == 2 * len(sides)
    for run in runs:  # the incumbent's regret after each of the 20 evaluations
        assert len(run["regret"]) == 20 and min(run["regret"]) >= 0
    assert "nb201/cifar10 (val_acc, maximized" in done.stdout
    assert "average rank at 20 evaluations" in done.stdout and "goals:" in done.stdout
    assert svg.read_text().startswith("<svg") and "polyline" in svg.read_text()
    # a rerun finds every run in its file and does none again
    again = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_quality.py"),
                            "--quick", "--out", str(out), "--svg", str(svg)],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert again.returncode == 0 and "0 runs to do" in again.stdout, again.stderr
