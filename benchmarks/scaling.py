"""Cost that stays flat as a study grows: ``%%automl`` at 100, 1,000 and 10,000 finished trials.

Run from the repository root::

    .venv/bin/python benchmarks/scaling.py                 # full run, about 10 minutes on 2 cores
    .venv/bin/python benchmarks/scaling.py --quick         # smoke test: 100 and 1,000 trials
    .venv/bin/python benchmarks/scaling.py --sizes 100,10000 --storage sqlite --samplers random,tpe

What is measured, at each size N (a study filled with N finished trials of ``(x - 2) ** 2``,
written straight into Optuna's tables, then continued):

* ``trials``: K more trials (``--trials``, default 30) through each side on the same kind of
  storage (SQLite file, or a PostgreSQL server started for the run on 127.0.0.1): ours is a
  ``%%automl`` cell run by the magic in an IPython shell (display text: the progress line),
  Optuna's is ``create_study(load_if_exists=True)`` + ``optimize``, with the same sampler (random
  isolates the storage and our bookkeeping; TPE's own cost grows with the trials). Per trial is
  the steady state, from the trials' own start times (first new trial to last, over K - 1
  intervals); the cell's whole time (opening the study, the summary) is shown beside it. The
  growth is ms per trial at the largest size over ms at the smallest; goal: ours grows no faster
  than Optuna's (at most 1.25 times its growth, for noise).
* ``panel``: the live panel's update after a trial (the trial's start and end events, then one
  refresh: header, best trial, charts and table, every widget message serialized to JSON as a
  kernel would send it) and the trial table alone; goal under 50 ms at 10,000 trials. The
  progress line (text display) is timed too. ``build`` is the panel's first drawing at study
  start (once per run).
* ``cli``: ``jupyter-automl studies DIR`` and ``jupyter-automl show NAME`` on the study, as
  subprocesses (Python's start-up included); goal under 2 s at 10,000 trials.
* ``memory``: a Keras study (a small Dense network on scikit-learn's digits, 2 epochs a trial) in
  a fresh process, ours and a hand-written Optuna loop (``keras.backend.clear_session()`` before
  each trial); the process's peak RSS seen during trial 20 and the last trial (``--memory-trials``,
  default 200). Goal: ours at most 5% apart.

The report always exits 0; a missed goal is printed as ``MISSED``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import glob
import io
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before keras is first imported (lazily)

CELL = 'x = hp.float("x", -10, 10)\n(x - 2) ** 2\n'
STUDY = "scale"
GROWTH_SLACK = 1.25  # ours may grow 25% more than Optuna's before it is called a miss (noise)
PANEL_GOAL_MS = 50.0
CLI_GOAL_S = 2.0
MEMORY_GOAL = 0.05
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2


def make_sampler(name: str) -> optuna.samplers.BaseSampler:
    """Optuna's side: the sampler the magic's ``--sampler NAME --seed 0`` makes."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=0)
    return optuna.samplers.TPESampler(seed=0)


# -- storages ------------------------------------------------------------------------------------
class Postgres:
    """A throwaway PostgreSQL server on 127.0.0.1 (as tests/postgres.py starts one); a fresh
    database for each study."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = Path(found[-1]).parent
        self.home = Path(tempfile.mkdtemp(prefix="scaling-pg-"))
        self.data, self.password = self.home / "data", secrets.token_hex(12)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.count = 0

    def _as_postgres(self, argv: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start(self) -> None:
        self.data.mkdir()
        pwfile = self.home / "pgpass"
        pwfile.write_text(self.password)
        if os.geteuid() == 0:
            for path in (self.home, self.data, pwfile):
                shutil.chown(path, "postgres")
        subprocess.run(self._as_postgres([
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "automl",
            "--auth=scram-sha-256", f"--pwfile={pwfile}"]), check=True, capture_output=True)
        subprocess.run(self._as_postgres([
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-l",
            str(self.data / "log"), "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}", "start"]),
            check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(self._as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data),
                                          "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://automl:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        self.count += 1
        name = f"scale{self.count}"
        with psycopg.connect(self.url().replace("postgresql://", "postgresql://", 1),
                             autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@dataclass
class Place:
    """Where one side's study lives: its storage URL and (ours) its runs folder."""

    url: str
    runs_dir: Path
    storage_option: str  # "" for the runs folder's SQLite file, else "--storage URL"


def new_place(kind: str, folder: Path, postgres: Postgres | None, side: str) -> Place:
    folder.mkdir(parents=True)
    if kind == "postgresql":
        assert postgres is not None
        url = postgres.new_database()
        return Place(url, folder, f"--storage {url}")
    if side == "ours":
        return Place(f"sqlite:///{folder / STUDY / 'study.db'}", folder, "")
    return Place(f"sqlite:///{folder / 'optuna.db'}", folder, "")


def fill(url: str, count: int) -> None:
    """Add ``count`` finished trials of the quadratic to the study, in one transaction of bulk
    inserts into Optuna's tables (``add_trials`` takes minutes for 10,000 trials)."""
    from optuna.distributions import FloatDistribution, distribution_to_json
    from optuna.storages._rdb import models
    from sqlalchemy import func, insert, select

    storage = optuna.storages.RDBStorage(url)
    sid = storage.get_study_id_from_name(STUDY)
    trials, params = models.TrialModel.__table__, models.TrialParamModel.__table__
    values = models.TrialValueModel.__table__
    dist = distribution_to_json(FloatDistribution(-10, 10))
    xs = np.random.default_rng(count).uniform(-10, 10, count)
    now = _dt.datetime.now()
    with storage.engine.begin() as con:
        last = con.execute(select(func.max(trials.c.number))
                           .where(trials.c.study_id == sid)).scalar()
        first = 0 if last is None else last + 1
        con.execute(insert(trials), [
            {"number": first + i, "study_id": sid, "state": TrialState.COMPLETE,
             "datetime_start": now, "datetime_complete": now} for i in range(count)])
        ids = dict(con.execute(select(trials.c.number, trials.c.trial_id).where(
            trials.c.study_id == sid, trials.c.number >= first)).all())
        con.execute(insert(params), [
            {"trial_id": ids[first + i], "param_name": "x", "param_value": float(x),
             "distribution_json": dist} for i, x in enumerate(xs)])
        con.execute(insert(values), [
            {"trial_id": ids[first + i], "objective": 0, "value": float((x - 2) ** 2),
             "value_type": models.TrialValueModel.TrialValueType.FINITE}
            for i, x in enumerate(xs)])
    storage.engine.dispose()


def steady_ms(url: str, k: int) -> float:
    """ms per trial of the last ``k`` trials, from their start times (k - 1 intervals)."""
    study = optuna.load_study(study_name=STUDY, storage=url)
    last = study.get_trials(deepcopy=False)[-k:]
    assert all(t.state.name == "COMPLETE" for t in last), [t.state for t in last]
    span = last[-1].datetime_start - last[0].datetime_start  # type: ignore[operator]
    return span.total_seconds() / (k - 1) * 1000


# -- the two sides -------------------------------------------------------------------------------
def start_shell() -> Any:
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.run_line_magic("load_ext", "jupyter_automl")
    ip.run_line_magic("config", 'Automl.display = "text"')
    return ip


@dataclass
class Side:
    """One side's study at one size: made once, continued by each timed run."""

    name: str  # "ours" | "optuna"
    place: Place
    sampler: str
    trials: int = 0  # finished trials in the study now

    def create(self, ip: Any, size: int) -> None:
        if self.name == "ours":  # the magic makes the study, its spec and its runs folder
            self._magic(ip, 1)
            fill(self.place.url, size - 1)
        else:
            optuna.create_study(storage=self.place.url, study_name=STUDY)
            fill(self.place.url, size)
        self.trials = size

    def run(self, ip: Any, k: int) -> tuple[float, float]:
        """K more trials; the wall time of the whole run (s) and the steady ms per trial."""
        start = time.perf_counter()
        if self.name == "ours":
            self._magic(ip, self.trials + k)
        else:
            study = optuna.create_study(storage=self.place.url, study_name=STUDY,
                                        load_if_exists=True, sampler=make_sampler(self.sampler),
                                        pruner=optuna.pruners.NopPruner())
            study.optimize(quadratic, n_trials=k)
        wall = time.perf_counter() - start
        self.trials += k
        return wall, steady_ms(self.place.url, k)

    def _magic(self, ip: Any, total: int) -> None:
        line = (f"{STUDY} --trials {total} --sampler {self.sampler} --seed 0 --pruner none "
                f"--runs-dir {self.place.runs_dir} {self.place.storage_option}")
        with contextlib.redirect_stdout(io.StringIO()):
            ip.run_cell_magic("automl", line, CELL)


@dataclass
class TrialRow:
    storage: str
    sampler: str
    size: int
    ours_ms: float
    optuna_ms: float
    ours_wall: float
    optuna_wall: float


def bench_trials(ip: Any, kind: str, sampler: str, size: int, k: int, repeat: int,
                 folder: Path, postgres: Postgres | None) -> tuple[TrialRow, Side]:
    sides = {name: Side(name, new_place(kind, folder / f"{name}-{sampler}-{size}", postgres,
                                        name), sampler) for name in ("ours", "optuna")}
    for side in sides.values():
        side.create(ip, size)
    best: dict[str, tuple[float, float]] = {}
    for i in range(repeat):
        for name in (("ours", "optuna"), ("optuna", "ours"))[i % 2]:  # ABBA
            wall, ms = sides[name].run(ip, k)
            old = best.get(name, (np.inf, np.inf))
            best[name] = (min(old[0], wall), min(old[1], ms))
    print(f"  {kind:<10} {sampler:<6} {size:>6}: ours {best['ours'][1]:7.2f} ms/trial "
          f"({best['ours'][0]:.2f} s), optuna {best['optuna'][1]:7.2f} ms/trial "
          f"({best['optuna'][0]:.2f} s)", flush=True)
    row = TrialRow(kind, sampler, size, best["ours"][1], best["optuna"][1], best["ours"][0],
                   best["optuna"][0])
    return row, sides["ours"]


# -- the panel and the progress line ----------------------------------------------------------
class _JsonComm:
    """Widgets' comm: each message serialized as the kernel's session would (no front end)."""

    sent = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from comm.base_comm import BaseComm

        class JsonComm(BaseComm):  # type: ignore[misc]
            def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                            buffers: Any = None, **keys: Any) -> None:
                _JsonComm.sent += len(json.dumps(data, default=_jsonable))
                for buffer in buffers or []:
                    _JsonComm.sent += memoryview(buffer).nbytes

        return JsonComm(*args, **kwargs)


def _jsonable(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


@dataclass
class PanelRow:
    size: int
    build_s: float
    update_ms: float
    table_ms: float
    line_ms: float
    sent_kb: float


def bench_panel(url: str, size: int, k: int) -> PanelRow:
    """The panel of a study of ``size`` trials: built as at study start, then K trial updates."""
    import comm

    from jupyter_automl.engine import Outcome
    from jupyter_automl.ui._model import StudyModel
    from jupyter_automl.ui._panel import StudyPanel

    comm.create_comm = _JsonComm
    StudyPanel(display=False).attach(StudyModel(STUDY, [None], ["minimize"], 1))  # imports
    study = optuna.load_study(study_name=STUDY, storage=url)
    start = time.perf_counter()
    model = StudyModel(STUDY, [None], ["minimize"], size + k)
    for trial in study.get_trials(deepcopy=False):  # what study_started does
        model.add_frozen(trial)
    panel = StudyPanel(interval=3600, display=False)  # only the refreshes asked for below
    panel.attach(model, study)
    build = time.perf_counter() - start
    runner = types.SimpleNamespace(total=size + k)
    updates, tables = [], []
    _JsonComm.sent = 0
    for number in range(model_next(model), model_next(model) + k):
        trial = types.SimpleNamespace(number=number, params={"x": 2.5}, user_attrs={})
        start = time.perf_counter()
        panel.trial_started(runner, trial)
        panel.trial_finished(runner, trial, Outcome(TrialState.COMPLETE, values=[0.25],
                                                    duration=0.01))
        panel.refresh(force=True)
        updates.append(time.perf_counter() - start)
        start = time.perf_counter()
        panel.table.set_rows(model.columns, model.table_rows())
        tables.append(time.perf_counter() - start)
    sent = _JsonComm.sent / k
    return PanelRow(size, build, statistics.median(updates) * 1000,
                    statistics.median(tables) * 1000, bench_line(size, k) * 1000, sent / 1024)


def model_next(model: Any) -> int:
    return max(model.records, default=-1) + 1


def bench_line(size: int, k: int) -> float:
    """The progress line's work for one trial (text display), median seconds."""
    from collections import Counter

    from jupyter_automl.engine import Outcome
    from jupyter_automl.ui import ProgressLine

    line = ProgressLine(stream=io.StringIO())
    runner = types.SimpleNamespace(name=STUDY, total=size + k,
                                   counts=Counter({TrialState.COMPLETE: size}),
                                   best_text="best 0.001", done=size, elapsed=10.0, eta=5.0)
    line.study_started(runner)
    times = []
    for number in range(size, size + k):
        trial = types.SimpleNamespace(number=number)
        start = time.perf_counter()
        line.trial_started(runner, trial)
        runner.counts[TrialState.COMPLETE] += 1
        line.trial_finished(runner, trial, Outcome(TrialState.COMPLETE, values=[1.0]))
        line._draw(runner, force=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- the command line ----------------------------------------------------------------------------
@dataclass
class CliRow:
    storage: str
    size: int
    studies_s: float
    show_s: float


def bench_cli(kind: str, side: Side, password: str | None) -> CliRow:
    env = {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)
    runs = str(side.place.runs_dir)
    times = []
    for argv in (["studies", runs], ["show", STUDY, "--runs-dir", runs]):
        start = time.perf_counter()
        done = subprocess.run([str(BIN / "jupyter-automl"), *argv], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            print(f"  jupyter-automl {argv[0]} failed:\n{done.stderr[-2000:]}")
            times[-1] = float("nan")
    return CliRow(kind, side.trials, times[0], times[1])


# -- memory --------------------------------------------------------------------------------------
KERAS_CELL = """\
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(hp.int("units", 16, 64, log=True), activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-2, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.2, epochs=2, batch_size=64, verbose=0)
"""


def memory_child(side: str, trials: int, out: Path) -> None:
    """In a fresh process: the Keras study, one peak RSS (MB) per trial written to ``out``."""
    import psutil
    import tensorflow as tf
    from sklearn.datasets import load_digits

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="scaling-mem-"))
    if side == "ours":
        ip = start_shell()
        ip.user_ns.update(x=x, y=y, keras=keras)
        with contextlib.redirect_stdout(io.StringIO()):
            ip.run_cell_magic("automl", f"mem --trials {trials} --sampler random --seed 0 "
                              f"--pruner none --maximize val_accuracy --runs-dir {folder}",
                              KERAS_CELL)
        peaks = [json.loads((folder / "mem" / "trials" / str(n) / "state.json").read_text())
                 ["peak_mb"] for n in range(trials)]
    else:
        peaks = []

        def objective(trial: optuna.Trial) -> float:
            keras.backend.clear_session()
            model = keras.Sequential([
                keras.Input((64,)),
                keras.layers.Dense(trial.suggest_int("units", 16, 64, log=True),
                                   activation="relu"),
                keras.layers.Dense(10, activation="softmax")])
            model.compile(keras.optimizers.Adam(trial.suggest_float("lr", 1e-3, 1e-2, log=True)),
                          "sparse_categorical_crossentropy", metrics=["accuracy"])
            history = model.fit(x, y, validation_split=0.2, epochs=2, batch_size=64, verbose=0)
            peaks.append(psutil.Process().memory_info().rss / 2**20)
            return float(max(history.history["val_accuracy"]))

        study = optuna.create_study(storage=f"sqlite:///{folder / 'mem.db'}",
                                    sampler=optuna.samplers.RandomSampler(seed=0),
                                    direction="maximize")
        study.optimize(objective, n_trials=trials)
    out.write_text(json.dumps(peaks))
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class MemoryRow:
    side: str
    early: float  # MB at trial 20 (or a tenth of the way)
    late: float  # MB at the last trial
    early_at: int
    trials: int
    seconds: float

    @property
    def growth(self) -> float:
        return self.late / self.early - 1

    @property
    def per_trial(self) -> float:
        return (self.late - self.early) / max(1, self.trials - self.early_at)


def bench_memory(side: str, trials: int, folder: Path) -> MemoryRow:
    out = folder / f"memory-{side}.json"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--memory-child", side,
                           "--memory-trials", str(trials), "--memory-out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {side} memory run failed:\n{done.stderr[-3000:]}")
    peaks = json.loads(out.read_text())
    early_at = min(20, max(1, trials // 10))
    return MemoryRow(side, peaks[early_at - 1], peaks[-1], early_at, trials,
                     time.perf_counter() - start)


# -- the report ----------------------------------------------------------------------------------
@dataclass
class Report:
    trials: list[TrialRow] = field(default_factory=list)
    panels: list[PanelRow] = field(default_factory=list)
    clis: list[CliRow] = field(default_factory=list)
    memory: list[MemoryRow] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attempt(self, what: str, step: Callable[..., Any], *args: Any) -> Any:
        """Run one step; an error is printed, kept as a miss, and the report goes on."""
        try:
            return step(*args)
        except Exception:  # a report: show the failure, go on with the next step
            traceback.print_exc()
            self.errors.append(f"ERROR {what} (traceback above)")
            return None


def growth_lines(report: Report) -> list[str]:
    """Per-trial ms by size, and the growth (largest / smallest size) of each side."""
    lines = ["storage    | sampler | trials | ours ms/trial | optuna ms/trial | ours/optuna | "
             "ours cell s | optuna s",
             "-----------|---------|--------|---------------|-----------------|-------------|"
             "-------------|---------"]
    for r in report.trials:
        lines.append(f"{r.storage:<10} | {r.sampler:<7} | {r.size:>6} | {r.ours_ms:13.2f} | "
                     f"{r.optuna_ms:15.2f} | {r.ours_ms / r.optuna_ms:11.2f} | "
                     f"{r.ours_wall:11.2f} | {r.optuna_wall:8.2f}")
    lines.append("")
    groups: dict[tuple[str, str], list[TrialRow]] = {}
    for r in report.trials:
        groups.setdefault((r.storage, r.sampler), []).append(r)
    for (storage, sampler), rows in groups.items():
        if len(rows) < 2:
            continue
        small, large = min(rows, key=lambda r: r.size), max(rows, key=lambda r: r.size)
        ours, theirs = large.ours_ms / small.ours_ms, large.optuna_ms / small.optuna_ms
        ok = ours <= theirs * GROWTH_SLACK
        lines.append(f"growth {storage} {sampler} ({large.size} / {small.size} trials): ours "
                     f"x{ours:.2f}, optuna x{theirs:.2f} {'ok' if ok else 'MISSED'}")
        if not ok:
            report.missed.append(f"MISSED per-trial growth {storage} {sampler}: ours x{ours:.2f}"
                                 f" > optuna x{theirs:.2f} x {GROWTH_SLACK}")
    return lines


def panel_lines(report: Report) -> list[str]:
    lines = ["trials | panel build s | update ms | table ms | progress line ms | sent KB/update",
             "-------|---------------|-----------|----------|------------------|---------------"]
    for r in report.panels:
        lines.append(f"{r.size:>6} | {r.build_s:13.2f} | {r.update_ms:9.1f} | {r.table_ms:8.1f}"
                     f" | {r.line_ms:16.3f} | {r.sent_kb:14.0f}")
        if r.size >= 10_000 and max(r.update_ms, r.table_ms) > PANEL_GOAL_MS:
            report.missed.append(f"MISSED panel at {r.size} trials: update {r.update_ms:.1f} ms,"
                                 f" table {r.table_ms:.1f} ms > {PANEL_GOAL_MS:.0f} ms")
    return lines


def cli_lines(report: Report) -> list[str]:
    lines = ["storage    | trials | studies s | show s",
             "-----------|--------|-----------|-------"]
    for r in report.clis:
        lines.append(f"{r.storage:<10} | {r.size:>6} | {r.studies_s:9.2f} | {r.show_s:6.2f}")
        worst = max(r.studies_s, r.show_s)
        if r.size >= 10_000 and not worst <= CLI_GOAL_S:
            report.missed.append(f"MISSED cli {r.storage} at {r.size} trials: studies "
                                 f"{r.studies_s:.2f} s, show {r.show_s:.2f} s > {CLI_GOAL_S} s")
    return lines


def memory_lines(report: Report) -> list[str]:
    lines = ["side   | trials | RSS at early MB | RSS at last MB | apart | MB/trial | s",
             "-------|--------|-----------------|----------------|-------|----------|-----"]
    for r in report.memory:
        lines.append(f"{r.side:<6} | {r.trials:>6} | {r.early:11.0f} (#{r.early_at:<2}) | "
                     f"{r.late:14.0f} | {r.growth:5.1%} | {r.per_trial:8.2f} | {r.seconds:3.0f}")
        if r.side == "ours" and r.growth > MEMORY_GOAL:
            report.missed.append(f"MISSED memory: ours {r.growth:.1%} apart (trial {r.early_at}"
                                 f" {r.early:.0f} MB, trial {r.trials} {r.late:.0f} MB) > "
                                 f"{MEMORY_GOAL:.0%}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 100 and 1,000 trials, K=10, 30 Keras trials")
    parser.add_argument("--sizes", default=None, metavar="N,N,...",
                        help="finished trials before the timed ones (default 100,1000,10000)")
    parser.add_argument("--storage", default="sqlite,postgresql", metavar="KINDS",
                        help="sqlite, postgresql or both (default both)")
    parser.add_argument("--samplers", default="random", metavar="NAMES",
                        help="random, tpe or both (default random)")
    parser.add_argument("--trials", type=int, default=None, metavar="K",
                        help="timed trials per run (default 30, 10 with --quick)")
    parser.add_argument("--repeat", type=int, default=2, metavar="N",
                        help="timed runs per side, ABBA; the minimum is kept (default 2)")
    parser.add_argument("--memory-trials", type=int, default=None, metavar="N",
                        help="Keras trials of the memory check (default 200, 30 with --quick; "
                             "0 skips it)")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-out", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_sizes(report: Report, args: argparse.Namespace, folder: Path) -> None:
    sizes = [int(s) for s in (args.sizes or ("100,1000" if args.quick else "100,1000,10000"))
             .split(",")]
    k = max(3, args.trials or (10 if args.quick else 30))
    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    ip = start_shell()
    for kind in [s.strip() for s in args.storage.split(",") if s.strip()]:
        postgres = Postgres() if kind == "postgresql" else None
        if postgres is not None and not report.attempt("starting PostgreSQL",
                                                       lambda pg: pg.start() or True, postgres):
            continue
        try:
            for sampler in samplers:
                for size in sizes:
                    run_size(report, ip, kind, sampler, size, k, args.repeat, folder, postgres,
                             first=sampler == samplers[0])
        finally:
            if postgres is not None:
                postgres.stop()


def run_size(report: Report, ip: Any, kind: str, sampler: str, size: int, k: int, repeat: int,
             folder: Path, postgres: Postgres | None, first: bool) -> None:
    """The trials at one size; then (``first`` sampler) the CLI and, on SQLite, the panel."""
    made = report.attempt(f"trials {kind} {sampler} {size}", bench_trials, ip, kind, sampler,
                          size, k, max(1, repeat), folder / kind, postgres)
    if made is None:
        return
    row, ours = made
    report.trials.append(row)
    if not first:
        return
    cli = report.attempt(f"cli {kind} {size}", bench_cli, kind, ours,
                         postgres.password if postgres else None)
    if cli is not None:
        report.clis.append(cli)
    if kind == "sqlite":
        panel = report.attempt(f"panel {size}", bench_panel, ours.place.url, size, k)
        if panel is not None:
            report.panels.append(panel)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.memory_trials, Path(args.memory_out))
        return 0
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        print("per-trial cost at each size (steady state, min of the runs):", flush=True)
        run_sizes(report, args, Path(tmp))
        memory = args.memory_trials if args.memory_trials is not None else (
            30 if args.quick else 200)
        if memory > 0:
            print(f"memory: {memory} Keras trials a side, each in a fresh process", flush=True)
            for side in ("ours", "optuna"):
                row = report.attempt(f"memory {side}", bench_memory, side, memory, Path(tmp))
                if row is not None:
                    report.memory.append(row)
    for lines in (growth_lines(report), panel_lines(report), cli_lines(report),
                  memory_lines(report) if report.memory else []):
        print("\n" + "\n".join(lines))
    print("\n" + "\n".join(report.errors + report.missed or ["all goals met"]))
    print(f"(python {sys.version.split()[0]}, optuna {optuna.__version__}, {os.cpu_count()} cpus,"
          f" {time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
