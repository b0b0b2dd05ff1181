"""Opening a study's database read-only after its writer was killed inside a transaction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna

from jupyter_automl.runs._storage import open_storage

# A writer that spills a big uncommitted transaction into the file (a cache of 10 pages), then
# dies by SIGKILL inside it: SQLite leaves the rollback journal "hot" beside the database.
KILLED_WRITER = """
import os, signal, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size = 10")
con.execute("BEGIN IMMEDIATE")
con.execute("UPDATE trials SET state = 'FAIL'")
con.execute("CREATE TABLE spill (x)")
con.executemany("INSERT INTO spill VALUES (?)", [("x" * 100,)] * 20000)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_reader_sees_the_committed_trials_of_a_writer_killed_mid_transaction(
        tmp_path: Path) -> None:
    """A ``mode=ro`` connection cannot roll back a hot journal: every read failed with
    "attempt to write a readonly database" (``jupyter-automl studies``, ``show``, the dashboard
    and the fault tests' reader) until a runner opened the study again."""
    db = tmp_path / "study.db"
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{db}")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    study.ask()  # a trial RUNNING when its runner dies
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)])
    assert killed.returncode == -9
    journal = db.with_name("study.db-journal")
    assert journal.stat().st_size > 0

    read = optuna.load_study(study_name="s", storage=open_storage(f"sqlite:///{db}",
                                                                  read_only=True))
    assert [t.state.name for t in read.trials] == ["COMPLETE", "COMPLETE", "RUNNING"]
    assert not journal.exists() or journal.stat().st_size == 0
