"""A recent consistent copy of a study's SQLite file, and putting it back.

A runner copies ``study.db`` to ``study.db.backup`` between trials with SQLite's online backup
(a consistent snapshot even while other processes write), checks the copy
(``PRAGMA quick_check``) and renames it into place, so a kill mid-copy leaves the previous
copy whole. The copies are spaced by at least :data:`EVERY` seconds and keep to
:data:`SHARE` of the run's time (a copy of a 10,000-trial study takes tens of milliseconds).
When ``study.db`` is damaged (a disk error, a truncated file, an editor that saved over it),
``jupyter-automl restore NAME`` keeps the damaged file aside and puts the copy back: the study
loses the trials finished since the copy, never the rest.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .._utils.failpoints import hit as failpoint
from ..errors import AutomlError
from ._paths import StudyPaths

EVERY = 60.0  # seconds at least between two copies
SHARE = 0.02  # the most of a run's time the copies may take


def backup_of(db: Path) -> Path:
    """Where the copy of the SQLite file ``db`` is kept."""
    return db.with_name(db.name + ".backup")


def copy_database(db: Path, to: Path) -> None:
    """Copy the SQLite file ``db`` to ``to`` consistently, or raise ``sqlite3.Error`` (``to``
    untouched) when ``db`` cannot be read or the copy does not check."""
    fd, tmp = tempfile.mkstemp(dir=to.parent, prefix=f".{to.name}.", suffix=".tmp")
    os.close(fd)
    try:
        source = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            with contextlib.closing(sqlite3.connect(tmp)) as copy:
                source.backup(copy)
                failpoint("study.backup")
                (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
        finally:
            source.close()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"the copy of {db} does not check: {verdict}")
        os.replace(tmp, to)
    finally:
        Path(tmp).unlink(missing_ok=True)


class Backups:
    """The copies of one run's study: :meth:`maybe` between trials, :meth:`take` at its end."""

    def __init__(self, paths: StudyPaths) -> None:
        self.db = paths.db
        self.started = time.monotonic()
        self._last = self.started
        self._spent = 0.0  # seconds the copies have taken in this run
        self.failed: str | None = None  # why the last copy failed (said once)

    def maybe(self) -> None:
        """A copy if one is due: :data:`EVERY` seconds since the last, and the copies within
        :data:`SHARE` of the run's time."""
        now = time.monotonic()
        if now - self._last >= EVERY and self._spent <= SHARE * (now - self.started):
            self.take()

    def take(self) -> None:
        """A copy now; a copy that fails keeps the previous one and says why, once."""
        start = time.monotonic()
        try:
            copy_database(self.db, backup_of(self.db))
        except (sqlite3.Error, OSError) as exc:
            if self.failed is None:
                print(f"jupyter-automl: the copy of {self.db} failed ({exc}); the previous "
                      "copy is kept", flush=True)
            self.failed = str(exc)
        self._last = time.monotonic()
        self._spent += self._last - start


@dataclass(frozen=True)
class Restored:
    """What :func:`restore` did."""

    damaged: Path | None  # where the damaged file is kept (None: there was none)
    trials: int  # trials in the copy put back
    taken: str  # when the copy was taken
    set_aside: list[Path]  # trial folders of trials the copy does not have, kept aside

    def describe(self, name: str) -> str:
        lines = [f"study {name!r}: restored the copy of {self.taken} ({self.trials} trials)"]
        if self.damaged is not None:
            lines.append(f"the damaged database is kept as {self.damaged}")
        if self.set_aside:
            lines.append(f"the folders of {len(self.set_aside)} trial(s) the copy does not "
                         f"have are kept aside as {', '.join(p.name for p in self.set_aside)}")
        lines.append("rerun the study to run the trials it lost")
        return "\n".join(lines)


def restore(paths: StudyPaths) -> Restored:
    """Put the copy of the study's database back, keeping the damaged file (and the folders of
    trials the copy does not have) aside under new names."""
    backup = backup_of(paths.db)
    if not backup.is_file():
        raise AutomlError(f"{paths.root} has no copy of its database ({backup.name}): a copy is "
                          "taken between trials once a run has lasted a minute, and at its end")
    try:
        with contextlib.closing(sqlite3.connect(f"{backup.as_uri()}?mode=ro", uri=True)) as con:
            (verdict,) = con.execute("PRAGMA quick_check").fetchone()
            (trials,) = con.execute("SELECT COUNT(*) FROM trials").fetchone()
    except sqlite3.Error as exc:
        raise AutomlError(f"the copy {backup} cannot be read either ({exc}); the study cannot "
                          "be restored") from None
    if verdict != "ok":
        raise AutomlError(f"the copy {backup} does not check ({verdict}); it is not restored")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    taken = _dt.datetime.fromtimestamp(backup.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
    damaged = None
    if paths.db.exists():
        damaged = paths.db.with_name(f"{paths.db.name}.damaged-{stamp}")
        os.replace(paths.db, damaged)
    for extra in ("-wal", "-shm", "-journal"):  # the damaged file's, not the copy's
        side = paths.db.with_name(paths.db.name + extra)
        if side.exists():
            os.replace(side, side.with_name(f"{side.name}.damaged-{stamp}"))
    shutil.copyfile(backup, paths.db)
    set_aside = []
    for folder in sorted(paths.trials.iterdir()) if paths.trials.is_dir() else []:
        if folder.name.isdigit() and int(folder.name) >= trials:
            kept = folder.with_name(f"{folder.name}.lost-{stamp}")
            os.replace(folder, kept)
            set_aside.append(kept)
    return Restored(damaged, int(trials), taken, set_aside)
