"""`jupyter-automl studies|show|export|dashboard`: the real CLI in subprocesses, on real studies.

The studies are made by real runs in subprocesses, once per module: a quick one without Keras
(and one whose trials all fail), and, for the slow tests, two tiny Keras studies on
scikit-learn's digits. TensorFlow is imported here only by the tests that load exported models.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import study_of, wait_for
from digits import CODE as DIGITS

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def cli(*args: str, cwd: Path, timeout: float = 300,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_automl.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env or ENV)


def python(code: str, cwd: Path,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env=env or ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


PLAIN_STUDIES = '''
import jupyter_automl
from jupyter_automl.errors import TooManyFailuresError

jupyter_automl.run_study('x = hp.float("x", -5, 5)\\n(x - 1) ** 2',
                         "quad --trials 3 --seed 0 --runs-dir runs", display="text")
try:  # every trial fails: no complete trial
    jupyter_automl.run_study('x = hp.float("x", 0, 1)\\n1 / 0',
                             "broken --trials 2 --runs-dir runs", display="text")
except TooManyFailuresError:
    pass
'''

KERAS_STUDIES = '''
import keras
import numpy as np

import jupyter_automl

''' + DIGITS + '''CELL = """
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(hp.int("units", 32, 64), activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.2, epochs=2, batch_size=64, verbose=0)
"""
ns = {"x": x, "y": y, "keras": keras}
jupyter_automl.run_study(CELL, "digits --trials 2 --seed 0 --runs-dir runs "
                         "--maximize val_accuracy", ns, display="text")
jupyter_automl.run_study(CELL, "pareto --trials 3 --seed 0 --runs-dir runs "
                         "--maximize val_accuracy --minimize val_loss", ns, display="text")
np.save("runs/sample.npy", x[:8])
'''


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose runs/ holds 'quad' (3 complete trials, no model) and 'broken' (failed)."""
    cwd = tmp_path_factory.mktemp("plain")
    python(PLAIN_STUDIES, cwd)
    return cwd


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose runs/ holds Keras studies 'digits' (one objective) and 'pareto' (two)."""
    cwd = tmp_path_factory.mktemp("keras")
    python(KERAS_STUDIES, cwd)
    return cwd


def usage_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    for fragment in fragments:
        assert fragment in done.stderr


# ---------------------------------------------------------------------------------------------
# studies, show


def test_studies_lists_name_state_trials_best_and_last_update(plain: Path) -> None:
    done = cli("studies", "runs", cwd=plain)
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split() == ["name", "state", "trials", "best", "last", "update"]
    rows = {line.split()[0]: line.split() for line in lines}
    assert set(rows) == {"broken", "quad"}
    quad = study_of(plain / "runs", "quad")
    name, state, trials, best, day, clock = rows["quad"]
    assert (state, trials, float(best)) == ("finished", "3/3", pytest.approx(quad.best_value,
                                                                              rel=1e-5))
    last = max(t.datetime_complete for t in quad.trials)
    assert f"{day} {clock}" == f"{last:%Y-%m-%d %H:%M:%S}"
    assert rows["broken"][1:3] == ["failed", "0/2"]  # no best value: the column is empty


def test_studies_of_an_empty_or_missing_folder(tmp_path: Path) -> None:
    done = cli("studies", "nowhere", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("jupyter-automl: nowhere: there is no such folder; give the "
                                   "runs folder the studies ran in (automl_runs, next to their "
                                   "notebook)")
    (tmp_path / "empty").mkdir()
    done = cli("studies", "empty", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"no studies in {tmp_path / 'empty'}"


def test_show_prints_the_summary_and_the_trial_table(plain: Path) -> None:
    done = cli("show", "quad", "--runs-dir", "runs", cwd=plain)
    assert done.returncode == 0, done.stderr
    summary, table = done.stdout.split("\n\n")
    assert summary.startswith("study 'quad': 3/3 trials (3 complete, 0 pruned, 0 failed)")
    assert "best value = " in summary
    header, *rows = table.strip().splitlines()
    assert header.split()[:4] == ["number", "state", "value", "params"]
    assert [row.split()[:2] for row in rows] == [[str(n), "COMPLETE"] for n in range(3)]


def test_show_and_dashboard_of_an_unknown_study_name_the_studies_there(plain: Path) -> None:
    for command in ("show", "dashboard"):
        done = cli(command, "nope", "--runs-dir", "runs", cwd=plain)
        usage_error(done, f"no study 'nope' in {plain / 'runs'}; studies there: broken, quad")


# ---------------------------------------------------------------------------------------------
# export: errors that need no model


def test_export_errors(plain: Path) -> None:
    usage_error(cli("export", "quad", "--runs-dir", "runs", "--format", "h5", cwd=plain),
                "--format: give one of keras, savedmodel, onnx, tflite (not 'h5')")
    usage_error(cli("export", "quad", "--runs-dir", "runs", cwd=plain),
                "--format: give one of keras, savedmodel, onnx, tflite;",
                "several, comma-separated, go with --bundle DIR")
    usage_error(cli("export", "quad", "--runs-dir", "runs", "--bundle", "b", "--format", "h5",
                    cwd=plain), "unknown bundle format 'h5'")
    usage_error(cli("export", "quad", "--runs-dir", "runs", "--format", "keras", "--quantize",
                    cwd=plain), "--quantize applies to --format tflite only")
    usage_error(cli("export", "quad", "--runs-dir", "runs", "--format", "tflite", cwd=plain),
                "study 'quad' has no saved model to export: its best trial",
                "trained no Keras model")
    usage_error(cli("export", "broken", "--runs-dir", "runs", "--format", "keras", cwd=plain),
                "study 'broken' has no complete trial yet")
    usage_error(cli("export", "nope", "--runs-dir", "runs", "--format", "keras", cwd=plain),
                "no study 'nope'", "studies there: broken, quad")
    assert not list(plain.glob("*.keras")) and not list(plain.glob("*.tflite"))


# ---------------------------------------------------------------------------------------------
# export: real models, loaded back


@pytest.fixture(scope="module")
def reference(trained: Path) -> tuple[Any, Any]:
    """The sample input and the best model's predictions on it, from best/model.keras."""
    import numpy as np

    from jupyter_automl._utils.process import import_keras

    keras = import_keras()
    sample = np.load(trained / "runs" / "sample.npy")
    model = keras.saving.load_model(trained / "runs" / "digits" / "best" / "model.keras")
    return sample, model.predict(sample, verbose=0)


def export(trained: Path, *args: str) -> Path:
    done = cli("export", "digits", "--runs-dir", "runs", *args, cwd=trained)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # TensorFlow's chatter is kept off
    line = done.stdout.strip()
    assert line.startswith("exported study 'digits' trial ")
    path = Path(line.split(": ", 1)[1].rsplit(" (", 1)[0])
    size = path.stat().st_size if path.is_file() else None
    if size is not None:
        assert line.endswith(f"({size / 1024:.1f} KiB)")
    return path


@pytest.mark.slow
def test_export_keras_copies_the_best_model(trained: Path, reference: tuple[Any, Any]) -> None:
    import numpy as np

    from jupyter_automl._utils.process import import_keras

    path = export(trained, "--format", "keras")
    assert path == trained / "digits.keras"
    sample, expected = reference
    model = import_keras().saving.load_model(path)
    np.testing.assert_allclose(model.predict(sample, verbose=0), expected, rtol=1e-6)


@pytest.mark.slow
def test_export_savedmodel_serves_the_same_predictions(trained: Path,
                                                       reference: tuple[Any, Any]) -> None:
    import numpy as np
    import tensorflow as tf

    path = export(trained, "--format", "savedmodel", "--output", "out/sm")
    assert path == trained / "out" / "sm" and (path / "saved_model.pb").exists()
    sample, expected = reference
    loaded = tf.saved_model.load(str(path))  # kept: serve() needs its variables alive
    np.testing.assert_allclose(loaded.serve(sample).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert export(trained, "--format", "savedmodel", "--output", "out/sm") == path  # replaced
    (trained / "models").mkdir()  # a folder that is not a SavedModel receives the default name
    assert export(trained, "--format", "savedmodel", "--output", "models") == \
        trained / "models" / "digits_savedmodel"
    (trained / "notes.txt").write_text("mine")
    usage_error(cli("export", "digits", "--runs-dir", "runs", "--format", "savedmodel",
                    "--output", "notes.txt", cwd=trained), "notes.txt exists and is not a "
                "SavedModel: choose another --output")
    assert (trained / "notes.txt").read_text() == "mine"


def tflite_predict(path: Path, sample: Any) -> Any:
    from jupyter_automl.deploy import tflite_interpreter

    interpreter, _ = tflite_interpreter(path)  # LiteRT where installed, as the product does
    source, = interpreter.get_input_details()
    interpreter.resize_tensor_input(source["index"], list(sample.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], sample)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.slow
def test_export_tflite_float_and_quantized(trained: Path, reference: tuple[Any, Any]) -> None:
    import numpy as np

    sample, expected = reference
    plain = export(trained, "--format", "tflite")
    assert plain == trained / "digits.tflite"
    np.testing.assert_allclose(tflite_predict(plain, sample), expected, rtol=1e-4, atol=1e-5)

    (trained / "models").mkdir(exist_ok=True)
    quantized = export(trained, "--format", "tflite", "--quantize", "--output", "models")
    assert quantized == trained / "models" / "digits-quant.tflite"
    assert quantized.stat().st_size < 0.7 * plain.stat().st_size
    predicted = tflite_predict(quantized, sample)
    np.testing.assert_allclose(predicted, expected, atol=0.05)
    assert (predicted.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.75


@pytest.mark.slow
def test_export_of_a_multi_objective_study_needs_a_front_trial(trained: Path) -> None:
    front = sorted(int(p.parent.name)
                   for p in (trained / "runs" / "pareto" / "best").glob("*/model.keras"))
    assert front
    listed = ", ".join(map(str, front))
    base = ("export", "pareto", "--runs-dir", "runs", "--format", "keras")
    usage_error(cli(*base, cwd=trained),
                f"study 'pareto' has 2 objectives, so no single best model: pick one of its "
                f"Pareto front with --trial N (N in {listed})")
    usage_error(cli(*base, "--trial", "99", cwd=trained),
                f"trial 99 has no model on the Pareto front of study 'pareto'; pick --trial N "
                f"with N in {listed}")
    done = cli(*base, "--trial", str(front[0]), cwd=trained)
    assert done.returncode == 0, done.stderr
    written = trained / f"pareto-trial{front[0]}.keras"
    assert f"exported study 'pareto' trial {front[0]} as keras: {written}" in done.stdout
    best = trained / "runs" / "pareto" / "best" / str(front[0]) / "model.keras"
    assert written.read_bytes() == best.read_bytes()


# ---------------------------------------------------------------------------------------------
# dashboard


class Dashboard:
    """``jupyter-automl dashboard`` in a subprocess, with the URL it printed."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_automl.cli", "dashboard", *args, "--port", "0"],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or ENV)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        serving = self._wait_for_line("serving at ", timeout=60)
        self.url = serving.split("serving at ", 1)[1].split()[0]
        self.root = self.url.split("/dashboard", 1)[0]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _wait_for_line(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for line in list(self.lines):
                if marker in line:
                    return line
            time.sleep(0.1)
        self.proc.kill()
        _, err = self.proc.communicate()
        raise AssertionError(f"no {marker!r} line; stdout {self.lines}, stderr {err}")

    def get(self, path: str) -> tuple[int, str]:
        with urllib.request.urlopen(self.root + path, timeout=30) as reply:
            return reply.status, reply.read().decode()

    def stop(self, signum: int = signal.SIGTERM) -> subprocess.CompletedProcess[str]:
        self.proc.send_signal(signum)
        self.proc.wait(timeout=30)
        self.reader.join(30)  # it has taken the last lines (the pipe closed)
        err = self.proc.stderr.read() if self.proc.stderr else ""
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode,
                                           "\n".join(self.lines), err)


def assert_read_only(dashboard: Dashboard, study_id: int) -> None:
    """The dashboard cannot delete the study: its storage refuses writes."""
    request = urllib.request.Request(f"{dashboard.root}/api/studies/{study_id}", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 500
    assert dashboard.get(f"/api/studies/{study_id}")[0] == 200


@pytest.fixture
def dashboards() -> Iterator[Any]:
    started: list[Dashboard] = []

    def start(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Dashboard:
        started.append(Dashboard(cwd, *args, env=env))
        return started[-1]

    yield start
    for dashboard in started:
        if dashboard.proc.poll() is None:
            dashboard.proc.kill()
            dashboard.proc.communicate()


@pytest.mark.slow
def test_dashboard_serves_the_study_on_localhost(plain: Path, dashboards: Any) -> None:
    dashboard = dashboards(plain, "quad", "--runs-dir", "runs")
    db = plain / "runs" / "quad" / "study.db"
    assert dashboard.lines[0] == f"optuna-dashboard for study 'quad' in sqlite:///{db}, read-only"
    assert dashboard.url.startswith("http://127.0.0.1:")
    assert "token" not in dashboard.url
    status, page = dashboard.get("/")  # redirected to /dashboard, the single-page app
    assert status == 200 and "<html" in page.lower()
    status, body = dashboard.get("/api/studies")
    assert status == 200
    (summary,) = json.loads(body)["study_summaries"]
    assert summary["study_name"] == "quad"
    assert dashboard.url.endswith(f"/dashboard/studies/{summary['study_id']}")
    status, body = dashboard.get(f"/api/studies/{summary['study_id']}")
    assert status == 200 and len(json.loads(body)["trials"]) == 3
    assert_read_only(dashboard, summary["study_id"])
    stopped = dashboard.stop()
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip().endswith("dashboard stopped")


@pytest.mark.slow
def test_dashboard_of_a_db_file_never_prints_a_password(plain: Path, dashboards: Any) -> None:
    dashboard = dashboards(plain, "runs/broken/study.db")
    assert dashboard.lines[0].startswith("optuna-dashboard for the studies in sqlite:///")
    assert dashboard.url.endswith("/dashboard")
    assert "broken" in dashboard.get("/api/studies")[1]
    assert dashboard.stop(signal.SIGINT).returncode == 0  # Ctrl-C
    done = cli("dashboard", "postgresql://someone:s3cret@127.0.0.1:1/nodb", cwd=plain)
    usage_error(done, "postgresql://someone:***@127.0.0.1:1/nodb")
    assert "s3cret" not in done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------
# readers while a study runs

# Its trials are slow until the test has read it a few times while it runs (the file
# "release"), however slowly a loaded machine starts the readers.
BUSY_STUDY = '''
import os
import time
import jupyter_automl

jupyter_automl.run_study(
    "time.sleep(0.05 if os.path.exists('release') else 0.5)\\nhp.float('x', 0, 1)",
    "busy --trials 20 --seed 0 --runs-dir runs", {"time": time, "os": os}, display="text")
'''


class Poller(threading.Thread):
    """GETs the dashboard's study list and study endpoints in a loop, keeping every status."""

    def __init__(self, dashboard: Dashboard, study_id: int) -> None:
        super().__init__(daemon=True)
        self.dashboard, self.study_id = dashboard, study_id
        self.statuses: list[int | str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for path in ("/api/studies", f"/api/studies/{self.study_id}"):
                try:
                    self.statuses.append(self.dashboard.get(path)[0])
                except (urllib.error.URLError, OSError) as exc:
                    self.statuses.append(repr(exc))
            time.sleep(0.05)


@pytest.mark.slow
def test_readers_do_not_disturb_a_running_study(tmp_path: Path, dashboards: Any) -> None:
    runs = tmp_path / "runs"
    study = subprocess.Popen([sys.executable, "-c", BUSY_STUDY], cwd=tmp_path, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (runs / "busy" / "spec.json").exists(), 60, "the study to start")
        dashboard = dashboards(tmp_path, "busy", "--runs-dir", "runs")
        study_id = int(dashboard.url.rsplit("/", 1)[1])
        poller = Poller(dashboard, study_id)
        poller.start()
        listings = []
        while study.poll() is None:
            listings.append(cli("studies", "runs", cwd=tmp_path, timeout=120))
            if len(listings) >= 3 and len(poller.statuses) >= 10:
                (tmp_path / "release").touch()
        poller.stop.set()
        poller.join(timeout=60)
        out, err = study.communicate(timeout=60)
    finally:
        if study.poll() is None:
            study.kill()
    assert study.returncode == 0, out + err
    assert "locked" not in out + err
    trials = study_of(runs, "busy").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 20

    assert listings and all(done.returncode == 0 and done.stderr == "" for done in listings), \
        [done.stderr for done in listings]
    rows = [done.stdout.splitlines()[1].split() for done in listings]
    assert all(row[0] == "busy" for row in rows)
    assert any(row[1] == "running" for row in rows), rows
    assert len(poller.statuses) >= 10 and set(poller.statuses) == {200}, poller.statuses
    final = cli("studies", "runs", cwd=tmp_path).stdout.splitlines()[1].split()
    assert final[1:3] == ["finished", "20/20"]
    assert dashboard.stop(signal.SIGINT).returncode == 0


@pytest.mark.slow
def test_a_postgresql_study_is_read_with_its_password_never_shown(
        postgres_url: str, tmp_path: Path, dashboards: Any) -> None:  # noqa: F811
    password = postgres_url.split(":")[2].split("@")[0]
    url = postgres_url.replace(f":{password}@", "@")  # libpq takes the password from PGPASSWORD
    with_password = {**ENV, "PGPASSWORD": password}
    python(f"""
import jupyter_automl
jupyter_automl.run_study('x = hp.float("x", -5, 5)\\n(x - 1) ** 2',
                         "pg --trials 2 --seed 0 --runs-dir runs --storage {url}", display="text")
""", tmp_path, env=with_password)
    outputs = []

    listed = cli("studies", "runs", cwd=tmp_path, env=with_password)
    assert listed.stdout.splitlines()[1].split()[:3] == ["pg", "finished", "2/2"], listed.stdout
    shown = cli("show", "pg", "--runs-dir", "runs", cwd=tmp_path, env=with_password)
    assert shown.returncode == 0 and "study 'pg': 2/2 trials" in shown.stdout, shown.stderr
    dashboard = dashboards(tmp_path, "pg", "--runs-dir", "runs", env=with_password)
    assert dashboard.lines[0].startswith(
        f"optuna-dashboard for study 'pg' in {url.replace('automl@', 'automl:***@')}, read-only")
    assert '"study_name": "pg"' in dashboard.get("/api/studies")[1]
    assert_read_only(dashboard, int(dashboard.url.rsplit("/", 1)[1]))
    outputs += [listed, shown, dashboard.stop()]
    dashboard = dashboards(tmp_path, postgres_url)  # the full URL, password included
    assert "pg" in dashboard.get("/api/studies")[1]
    outputs.append(dashboard.stop())

    refused = cli("show", "pg", "--runs-dir", "runs", cwd=tmp_path)  # no PGPASSWORD
    usage_error(refused, "set PGPASSWORD (or ~/.pgpass), or pass the full URL with --storage URL")
    given = cli("show", "pg", "--runs-dir", "runs", "--storage", postgres_url, cwd=tmp_path)
    assert given.returncode == 0, given.stderr
    outputs += [refused, given]
    assert all(password not in done.stdout + done.stderr for done in outputs)
    assert password not in (tmp_path / "runs" / "pg" / "spec.json").read_text()
