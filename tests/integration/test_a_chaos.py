"""A smoke of the randomized fault campaign (benchmarks/chaos.py): four runs, modes, studies and
faults drawn from a fixed seed, every invariant of the fault matrix checked after each run. A
failure prints the command that replays the run that broke one. The campaign itself is
``make chaos`` (200 runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHAOS = Path(__file__).resolve().parents[2] / "benchmarks" / "chaos.py"


def test_four_runs_of_the_fault_campaign_break_no_invariant() -> None:
    done = subprocess.run([sys.executable, str(CHAOS), "--runs", "4", "--seed", "3"],
                          capture_output=True, text=True, timeout=2400)
    report = "\n".join(line for line in done.stdout.splitlines()
                       if line.startswith(("run ", "    ", "4 runs")))
    assert done.returncode == 0, report + done.stderr[-2000:]
    assert "4 runs, 0 with a violation" in report, report
