"""`jupyter-automl run`: real papermill runs of real notebooks in subprocesses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import study_of

pytestmark = pytest.mark.slow


def notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_automl"),
        nbformat.v4.new_code_cell("n_trials = 2", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_automl.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


QUAD = '%%automl quad --trials {n_trials} --seed 0\nx = hp.float("x", -5, 5)\n(x - 1) ** 2'


def test_run_reports_the_study_and_a_rerun_resumes(tmp_path: Path) -> None:
    nb = notebook(tmp_path / "tune.ipynb", QUAD)
    done = cli("run", str(nb), "-p", "n_trials", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "study 'quad': 3/3 trials (3 complete" in done.stdout
    assert f"executed notebook: {tmp_path / 'tune.out.ipynb'}" in done.stdout
    assert f"runs folder: {tmp_path / 'automl_runs'}" in done.stdout
    executed = nbformat.read(tmp_path / "tune.out.ipynb", as_version=4)
    assert any("n_trials = 3" in c.source for c in executed.cells)  # papermill's injected cell
    outputs = [o for c in executed.cells if "%%automl" in c.source for o in c.outputs]
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert {"application/vnd.plotly.v1+json", "text/html"} <= kinds  # static charts, table
    assert "application/vnd.jupyter.widget-view+json" not in kinds  # no stale widgets
    assert "widgets" not in executed.metadata

    again = cli("run", str(nb), "-p", "n_trials", "5", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert [t.number for t in study_of(tmp_path / "automl_runs", "quad").trials] == \
        list(range(5))


def test_a_failing_notebook_exits_non_zero_and_keeps_its_output(tmp_path: Path) -> None:
    nb = notebook(tmp_path / "bad.ipynb", "%%automl bad --trials {n_trials}\nhp.int('n', 5, 1)")
    done = cli("run", str(nb), "--output", "out/bad.ipynb", cwd=tmp_path)
    assert done.returncode == 1
    assert "notebook failed in cell 3: SpaceError: hp.int('n', line 1): low=5" in done.stderr
    assert (tmp_path / "out" / "bad.ipynb").exists()


def test_a_missing_notebook_is_a_clear_error(tmp_path: Path) -> None:
    done = cli("run", "nope.ipynb", cwd=tmp_path)
    assert done.returncode == 2 and "notebook nope.ipynb does not exist" in done.stderr
