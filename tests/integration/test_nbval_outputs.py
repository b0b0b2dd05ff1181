"""tests/nbval_outputs.py: nbval's run of a notebook kept with its outputs, for the site.

A real nbval run in a pytest of its own, on a real kernel: the notebook it writes back is read
with nbformat, as docs/tutorials.py reads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

TESTS = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

CELLS = [
    'from IPython.display import display\n'
    'handle = display({"text/plain": "starting"}, raw=True, display_id=True)',
    'handle.update({"text/plain": "digits: 8/8 trials"}, raw=True)\nprint("a")\nprint("b")',
    'import os\nos.environ.get("JUPYTER_AUTOML_HEADLESS")',
]


def nbval(tmp_path: Path, cells: list[str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "tutorial.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "executed"
    env = {**os.environ, "PYTHONPATH": str(TESTS), "AUTOML_EXECUTED_DIR": str(out)}
    env.pop("JUPYTER_AUTOML_HEADLESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "nbval_outputs",
         "--nbval-lax", "--rootdir", str(tmp_path), str(path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return done, out / "tutorial.ipynb"


def test_a_passing_notebook_is_written_with_its_outputs(tmp_path: Path) -> None:
    done, executed = nbval(tmp_path, CELLS)
    assert done.returncode == 0, done.stdout + done.stderr
    cells = nbformat.read(executed, as_version=4).cells
    assert [cell.execution_count for cell in cells] == [1, 2, 3]
    shown = cells[0].outputs
    assert len(shown) == 1 and shown[0].data["text/plain"] == "digits: 8/8 trials"  # updated
    assert [(o.output_type, o.text) for o in cells[1].outputs] == [("stream", "a\nb\n")]
    assert cells[2].outputs[0].data["text/plain"] == "'1'"  # the kernel was told: headless


def test_a_notebook_that_fails_leaves_no_copy(tmp_path: Path) -> None:
    done, executed = nbval(tmp_path, [*CELLS[:1], "raise ValueError('broken tutorial')"])
    assert done.returncode != 0 and "broken tutorial" in done.stdout
    assert not executed.exists()
