"""The cost of the copy of ``study.db`` a runner keeps (runs/_backup.py), by the size of the
study, beside the time of one of its trials.

    .venv/bin/python benchmarks/backup.py          # 100, 1,000 and 10,000 finished trials

A runner copies at most every 60 s and keeps the copies under 2% of its run's time; this
prints what one copy costs (SQLite's online backup and ``PRAGMA quick_check`` of the copy),
the database's size, and the cost as a share of a minute of a run.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import optuna  # noqa: E402
from scaling import STUDY, fill  # noqa: E402 - the same filler as the scaling benchmark

from jupyter_automl.runs import backup_of, copy_database  # noqa: E402
from jupyter_automl.runs._backup import EVERY  # noqa: E402


def main() -> int:
    print("trials | study.db | one copy (median of 5) | share of a minute")
    for size in (100, 1_000, 10_000):
        with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
            db = Path(tmp) / "study.db"
            optuna.create_study(study_name=STUDY, storage=f"sqlite:///{db}")
            fill(f"sqlite:///{db}", size)
            times = []
            for _ in range(5):
                start = time.perf_counter()
                copy_database(db, backup_of(db))
                times.append(time.perf_counter() - start)
            cost = statistics.median(times)
            print(f"{size:>6} | {db.stat().st_size / 2**20:6.1f} MB | {cost * 1000:8.1f} ms | "
                  f"{cost / EVERY:.3%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
