"""Every reader of a study says the same thing about it: ``jupyter-automl list`` (its rows),
``show``, the watcher of ``jupyter-automl run`` and JupyterLab's sidebar, over studies in every
state, each made by a real run: running, finished, stopped (interrupted), failed, one whose
runner was killed (``kill -9`` placed inside its second trial), a PBT study, a warm-started
one, one with two objectives, and one in PostgreSQL. Each SQLite study is read both ways, by
plain SQL and through Optuna, and the two agree."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for

from jupyter_automl import _optuna, run_study
from jupyter_automl.batch import current_study
from jupyter_automl.errors import StudyInterrupted, TooManyFailuresError
from jupyter_automl.lab import Studies
from jupyter_automl.results import StudyState, rows, show_text, summary_of
from jupyter_automl.runs import study_paths

pytestmark = pytest.mark.slow

QUADRATIC = 'x = hp.float("x", -3, 3)\n(x - 1) ** 2\n'


def readers(root: Path, runs: Path, name: str) -> dict[str, tuple[Any, ...]]:
    """What each reader says of study ``name`` in ``runs``: its state, trials done and total,
    and its best (6 digits, or the Pareto front's size)."""
    (row,) = rows(runs)
    shown = show_text(name, runs)
    watched = current_study(runs, 0)
    assert watched is not None
    record = Studies(root).record(study_paths(runs, name).root.absolute())
    return {
        "list": (row["state"], row["done"], row["total"], row["best"]),
        "show": (_shown_state(shown), *_shown_trials(shown), _shown_best(shown)),
        "watcher": (str(watched.state), watched.done, watched.total, watched.best_text()),
        "sidebar": (record["state"], record["done"], record["total"], _sidebar_best(record)),
    }


def _sidebar_best(record: dict[str, Any]) -> str:
    if record["front"] is not None:
        return f"Pareto front of {record['front']} trial{'s' * (record['front'] != 1)}"
    return "" if record["best_value"] is None else f"{record['best_value']:.6g}"


def _shown_state(text: str) -> str:
    line = next(line for line in text.splitlines() if line.startswith("state: "))
    return line[len("state: "):].split(",")[0]


def _shown_trials(text: str) -> tuple[int, int]:
    done, total = text.splitlines()[0].split(": ", 1)[1].split(" trials")[0].split("/")
    return int(done), int(total)


def _shown_best(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("best ") and " = " in line:
            return line.split(" = ")[1].split(" (trial")[0]
        if line.startswith("Pareto front of"):
            size = len(line.split("trials [")[1].rstrip("]").split(","))
            return f"Pareto front of {size} trial{'s' * (size != 1)}"
    return ""


def agree(root: Path, runs: Path, name: str, monkeypatch: pytest.MonkeyPatch,
          expected: tuple[Any, ...]) -> None:
    """The four readers say ``expected`` (state, done, total; the best when given), by plain
    SQL and through Optuna."""
    fast = readers(root, runs, name)
    with monkeypatch.context() as m:  # the SQL read refused: every reader goes through Optuna
        m.setattr(_optuna, "read_study", _refused)
        slow = readers(root, runs, name)
    said = set(fast.values()) | set(slow.values())
    assert len(said) == 1, f"the readers disagree about {name!r}: {fast} / {slow}"
    (seen,) = said
    assert seen[:len(expected)] == expected, f"{name!r}: {seen}, expected {expected}"


def _refused(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("the SQL read is off in this test")


def runs_of(tmp_path: Path, name: str) -> Path:
    """A runs folder of its own for each study: the watcher reads the latest of a folder."""
    return tmp_path / name / "automl_runs"


def test_the_readers_agree_on_finished_stopped_failed_and_warm_started_studies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = runs_of(tmp_path, "finished")
    run_study(QUADRATIC, f"finished --trials 3 --seed 1 --runs-dir {runs}", {}, listeners=[])
    best = f"{summary_of(study_paths(runs, 'finished')).best_value:.6g}"
    agree(tmp_path, runs, "finished", monkeypatch, ("finished", 3, 3, best))

    runs = runs_of(tmp_path, "stopped")  # interrupted in its second trial: retried next run
    body = 'x = hp.float("x", -3, 3)\nif trial.number == 1:\n    raise KeyboardInterrupt\nx\n'
    with pytest.raises(StudyInterrupted):
        run_study(body, f"stopped --trials 3 --seed 1 --runs-dir {runs}", {}, listeners=[])
    agree(tmp_path, runs, "stopped", monkeypatch, ("stopped", 1, 3))

    runs = runs_of(tmp_path, "failed")  # the cell's own error, trial after trial
    with pytest.raises(TooManyFailuresError):
        run_study('hp.float("x", 0, 1)\nraise ValueError("bad cell")\n',
                  f"failed --trials 4 --runs-dir {runs}", {}, listeners=[])
    agree(tmp_path, runs, "failed", monkeypatch, ("failed", 0, 4, ""))

    runs = runs_of(tmp_path, "warm")  # the 3 trials lent by "finished" are not its own
    source = study_paths(runs_of(tmp_path, "finished"), "finished").db
    run_study(QUADRATIC, f"warm --trials 2 --seed 2 --warm-start sqlite:///{source} "
                         f"--runs-dir {runs}", {}, listeners=[])
    summary = summary_of(study_paths(runs, "warm"))
    assert (summary.lent, summary.done) == (3, 2)
    agree(tmp_path, runs, "warm", monkeypatch,
          ("finished", 2, 2, f"{summary.best_value:.6g}"))

    runs = runs_of(tmp_path, "pareto")
    run_study('x = hp.float("x", -3, 3)\n(x - 1) ** 2, (x + 1) ** 2\n',
              f"pareto --trials 4 --seed 3 --minimize f --minimize g --runs-dir {runs}", {},
              listeners=[])
    front = len(summary_of(study_paths(runs, "pareto")).best)
    assert front >= 1
    agree(tmp_path, runs, "pareto", monkeypatch,
          ("finished", 4, 4, f"Pareto front of {front} trial{'s' * (front != 1)}"))


def test_the_readers_agree_on_a_running_study(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    runs = runs_of(tmp_path, "running")
    gate = threading.Event()
    run = run_study('gate.wait(120)\nhp.float("x", 0, 1)\n',
                    f"running --trials 2 --background --runs-dir {runs}", {"gate": gate},
                    listeners=[])
    try:
        paths = study_paths(runs, "running")
        wait_for(lambda: paths.db.exists() and summary_of(paths).running == 1, 60,
                 "the first trial to start")
        agree(tmp_path, runs, "running", monkeypatch, ("running", 0, 2, ""))
    finally:
        gate.set()
        run.wait(120)
    agree(tmp_path, runs, "running", monkeypatch, ("finished", 2, 2))


def test_the_readers_agree_on_a_study_whose_runner_was_killed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner kills itself (SIGKILL) inside its second trial: that trial stays RUNNING in
    the storage with no live runner, so the study is stopped, not running."""
    runs = runs_of(tmp_path, "dead")
    body = ('x = hp.float("x", 0, 1)\nif trial.number == 1:\n'
            '    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\nx\n')
    script = (f"import jupyter_automl\njupyter_automl.run_study({body!r}, "
              f"'dead --trials 3 --runs-dir {runs}', {{}}, display='text')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == -9, done.stderr
    summary = summary_of(study_paths(runs, "dead"))
    assert (summary.running, summary.done) == (1, 1)
    agree(tmp_path, runs, "dead", monkeypatch, ("stopped", 1, 3))


PBT = textwrap.dedent('''\
    import numpy as np
    import keras
    import jupyter_automl
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    body = """
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(hp.float("lr", 1e-2, 1e-1, log=True, mutable=True)),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, validation_split=0.25, epochs=2, batch_size=16)
    """
    jupyter_automl.run_study(body, "pbt --scheduler pbt --population 4 --interval 1 --seed 0 "
                             "--maximize val_accuracy --runs-dir RUNS", {"x": x, "y": y},
                             display="text")
    ''')


def test_the_readers_agree_on_a_pbt_study(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The best of a PBT study is among its members' final generations, for every reader."""
    runs = runs_of(tmp_path, "pbt")
    done = subprocess.run([sys.executable, "-c", PBT.replace("RUNS", str(runs))],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    from jupyter_automl.results import FINAL, load_result

    result = load_result("pbt", runs)
    best = result.best_trial
    assert best is not None and best.user_attrs.get(FINAL)
    agree(tmp_path, runs, "pbt", monkeypatch, ("finished", 8, 8, f"{best.value:.6g}"))


def test_the_readers_agree_on_a_study_in_postgresql(tmp_path: Path, postgres_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Read through Optuna (the SQL read is for a runs folder's own SQLite file); the spec
    keeps no password, so the readers find it where libpq looks (PGPASSWORD)."""
    runs = runs_of(tmp_path, "pg")
    run_study(QUADRATIC, f"pg --trials 3 --seed 4 --storage {postgres_url} --runs-dir {runs}",
              {}, listeners=[])
    monkeypatch.setenv("PGPASSWORD", postgres_url.split(":")[2].split("@")[0])
    summary = summary_of(study_paths(runs, "pg"))
    assert summary.remote and summary.state is StudyState.FINISHED
    agree(tmp_path, runs, "pg", monkeypatch, ("finished", 3, 3, f"{summary.best_value:.6g}"))
