"""``benchmarks/gpu.py``, the GPU checks no GPU has run yet: its dry run (the studies on the
CPU) works, so it is ready the day a GPU is lent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"


def test_its_dry_run_works_without_a_gpu(tmp_path: Path) -> None:
    """Its Ray check: Keras trials on two Ray actors. (Its other checks' dry runs, and its
    exit 2 without ``--dry-run`` on a machine without a GPU, are left out here for make
    test's time; ``--dry-run`` alone runs them all.)"""
    dry = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--checks",
                          "ray-fractional", "--samples", "256", "--epochs", "1"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert dry.returncode == 0, dry.stdout + dry.stderr[-2000:]
    assert "ray-fractional  pass     4/4 complete" in dry.stdout  # on 2 Ray actors
