"""`jupyter-automl run`: real papermill runs of real notebooks in subprocesses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import study_of

pytestmark = pytest.mark.slow


def notebook(path: Path, body: str, parameters: str = "n_trials = 2") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_automl"),
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
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
    assert "Executing: 100%" in done.stderr  # papermill's bar of cells
    assert "study quad: 3/3 trials, best " in done.stderr  # the watcher's line of trials
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
    assert "  | %%automl bad --trials {n_trials}\n  | hp.int('n', 5, 1)\n" in done.stderr
    assert f"partial output notebook: {tmp_path / 'out' / 'bad.ipynb'}" in done.stdout
    assert (tmp_path / "out" / "bad.ipynb").exists()


def test_a_missing_notebook_is_a_clear_error(tmp_path: Path) -> None:
    done = cli("run", "nope.ipynb", cwd=tmp_path)
    assert done.returncode == 2 and "notebook nope.ipynb does not exist" in done.stderr


def test_a_parameters_file_is_read_and_p_overrides_it(tmp_path: Path) -> None:
    body = "%%automl {study} --trials {n_trials} --seed 0\nx = hp.float('x', -5, 5)\n(x - 1) ** 2"
    nb = notebook(tmp_path / "tune.ipynb", body, parameters="n_trials = 2\nstudy = 'quad'")
    (tmp_path / "params.yaml").write_text("n_trials: 5\nstudy: from_file\n")
    done = cli("run", str(nb), "-f", "params.yaml", "-p", "n_trials", "3", "-p", "n_trails", "4",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "study 'from_file': 3/3 trials" in done.stdout
    assert "warning: parameter 'n_trails' is not set in the 'parameters' cell" in done.stderr
    assert "Passed unknown parameter" not in done.stderr  # papermill's own, said once is enough


@pytest.mark.parametrize("content, message", [
    (None, "parameters file params.yaml does not exist"),
    ("- 1\n- 2\n", "parameters file params.yaml must hold a YAML mapping of parameter names"),
    ("n trials: 3\n", "parameter name 'n trials' is not a Python variable name"),
    ("a: [1\n", "parameters file params.yaml is not valid YAML"),
])
def test_a_bad_parameters_file_is_a_clear_error(tmp_path: Path, content: str | None,
                                                message: str) -> None:
    nb = notebook(tmp_path / "tune.ipynb", QUAD)
    if content is not None:
        (tmp_path / "params.yaml").write_text(content)
    done = cli("run", str(nb), "-f", "params.yaml", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "tune.out.ipynb").exists()


def test_a_study_stopped_by_its_timeout_exits_non_zero(tmp_path: Path) -> None:
    body = ("%%automl slow --trials {n_trials} --timeout 1s\nimport time\ntime.sleep(0.6)\n"
            "hp.float('x', 0, 1)")
    nb = notebook(tmp_path / "slow.ipynb", body)
    done = cli("run", str(nb), "-p", "n_trials", "5", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert re.search(r"study 'slow' stopped at [12]/5 trials \(it has --timeout 1s\); run the "
                     r"same command again to continue it:\n  jupyter-automl run ", done.stderr)
    assert f"executed notebook: {tmp_path / 'slow.out.ipynb'}" in done.stdout


KILLER = """%%automl quad --trials {n_trials} --seed 0
import os, pathlib
x = hp.float("x", -5, 5)
calls = pathlib.Path("calls")
calls.write_text((calls.read_text() if calls.exists() else "") + "x")
if len(calls.read_text()) == 3 and not pathlib.Path("killed").exists():
    pathlib.Path("killed").touch()  # only the first time: the rerun must get through
    os.kill(os.getpid(), 9)
(x - 1) ** 2"""


def test_a_kernel_that_dies_is_reported_and_the_same_command_resumes(tmp_path: Path) -> None:
    nb = notebook(tmp_path / "tune.ipynb", KILLER)
    command = ("run", str(nb), "-p", "n_trials", "4")
    died = cli(*command, cwd=tmp_path)
    assert died.returncode == 1, died.stderr
    assert "the kernel died in cell 4 (killed, or out of memory)\n  | %%automl quad" in died.stderr
    assert "run the same command again to resume:\n  jupyter-automl run " in died.stderr
    assert f"partial output notebook: {tmp_path / 'tune.out.ipynb'}" in died.stdout
    assert (tmp_path / "tune.out.ipynb").exists()

    again = cli(*command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "study 'quad': 4/4 trials (4 complete" in again.stdout
    trials = study_of(tmp_path / "automl_runs", "quad").trials
    assert [t.number for t in trials] == list(range(5))  # no number reused
    assert trials[2].state.name == "FAIL"
    assert trials[2].user_attrs["failed_because"] == "its kernel died"
    assert trials[3].user_attrs["retry_of"] == 2


def test_jupyter_finds_the_automl_subcommand(tmp_path: Path) -> None:
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run([str(jupyter), "automl", "run", "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "-f PARAMS.yaml, --parameters-file PARAMS.yaml" in done.stdout


def test_the_watcher_reads_a_running_study_without_disturbing_it(tmp_path: Path) -> None:
    import datetime as dt
    import io
    import threading
    import time

    import optuna

    from jupyter_automl.batch import TrialWatcher, current_study
    from jupyter_automl.runs._paths import study_paths
    from jupyter_automl.runs._storage import open_storage

    started = time.time() - 1  # before the spec is written (creating the study can take 2 s)
    paths = study_paths(tmp_path / "automl_runs", "quad")
    paths.write_spec({"name": "quad", "trials": 60, "storage": None,
                      "updated": dt.datetime.now().isoformat(timespec="seconds")})
    study = optuna.create_study(study_name="quad", storage=open_storage(f"sqlite:///{paths.db}"))
    writer = threading.Thread(target=study.optimize, args=(
        lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2,), kwargs={"n_trials": 60})
    seen: list[int] = []
    stream = io.StringIO()
    with TrialWatcher(paths.root.parent, started, interval=0.01, stream=stream):
        writer.start()
        while writer.is_alive():  # as fast as it can: the writer must not notice
            progress = current_study(paths.root.parent, started)
            seen += [progress.done] if progress else []
        writer.join()
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 60
    assert seen == sorted(seen) and len(seen) > 10
    final = current_study(paths.root.parent, started)
    assert final is not None and (final.done, final.total) == (60, 60)
    assert final.best_value == study.best_value
    assert f"study quad: 60/60 trials, best {study.best_value:.6g}" in stream.getvalue()

    paths.db.write_bytes(b"not a database" * 100)  # unreadable: skipped, no exception
    assert current_study(paths.root.parent, started) is None


NOISE = ["without encryption", "cuInit", "absl::InitializeLog", "oneDNN", "cudart_stub",
         "cpu_feature_guard"]


def test_make_demo_shows_the_results_and_no_start_up_noise(tmp_path: Path) -> None:
    """A newcomer's first command: results, where they are, and nothing else of note (the
    kernel's and TensorFlow's start-up chatter is filtered; real errors would pass)."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(["make", "-s", "-o", ".venv/.installed-stamp", "demo",
                           f"DEMO_DIR={tmp_path}"], cwd=root, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "study 'digits': 8/8 trials" in done.stdout and "best val_accuracy = " in done.stdout
    assert f"executed notebook: {tmp_path / '01_quickstart.ipynb'}" in done.stdout
    shown = done.stdout + done.stderr
    assert not [word for word in NOISE if word in shown], shown
