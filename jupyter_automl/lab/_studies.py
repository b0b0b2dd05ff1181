"""The studies under the Jupyter server's root, for JupyterLab's AutoML sidebar.

A study is a folder with a ``spec.json`` (``automl_runs/<name>/``, wherever the notebook that
made it was). The tree is walked to a bounded depth, never into a study's own folder, hidden
folders or ``node_modules``, and never through a symbolic link; the folders found are kept for a
few seconds. A study's record is read from its storage again only when its files changed (its
spec, its SQLite database and journal, its runners' lock files) or, for a storage elsewhere
(PostgreSQL), once every few seconds: a root with thousands of files and hundreds of studies
answers in milliseconds once warm.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import AutomlError
from ..results import best_candidates_sql, load_result, own_trials_sql
from ..runs import WARM_START, StudyPaths, live_claims

MAX_DEPTH = 6  # folders below the root where runs folders are looked for
FOLDERS_TTL = 5.0  # seconds a walk of the tree is reused
REMOTE_TTL = 3.0  # seconds the record of a study in a database server is reused
SKIPPED = {"node_modules", "__pycache__", "site-packages", ".ipynb_checkpoints"}


class PathRefused(AutomlError):
    """A study path that leaves the server's root (``..``, an absolute path, a link out)."""


@dataclass
class _Cached:
    key: tuple[Any, ...]
    record: dict[str, Any]
    read_at: float


@dataclass
class Studies:
    """Finds and describes the studies under ``root``; safe to call from several threads."""

    root: Path
    max_depth: int = MAX_DEPTH
    _folders: list[Path] = field(default_factory=list)
    _walked_at: float = -1e9
    _records: dict[Path, _Cached] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser().resolve()

    # -- paths -------------------------------------------------------------------------------
    def folder(self, study_id: str) -> Path:
        """The folder of the study ``study_id`` (its path from the root, with ``/``); refuses
        any path that leaves the root, and a folder that is no study."""
        parts = PurePosixPath(study_id).parts
        if not parts or study_id.startswith("/") or any(p in ("..", ".", "") for p in parts) \
                or "\\" in study_id or "\0" in study_id:
            raise PathRefused(f"{study_id!r} is not a study path under the server's root")
        folder = self.root.joinpath(*parts)
        try:
            resolved = folder.resolve(strict=True)
        except (OSError, RuntimeError):
            raise FileNotFoundError(f"no study at {study_id!r}") from None
        if resolved != folder or not resolved.is_relative_to(self.root):
            raise PathRefused(f"{study_id!r} leaves the server's root (a link out of it)")
        if not (folder / "spec.json").is_file():
            raise FileNotFoundError(f"no study at {study_id!r}")
        return folder

    def study_id(self, folder: Path) -> str:
        return folder.relative_to(self.root).as_posix()

    # -- the listing -------------------------------------------------------------------------
    def folders(self) -> list[Path]:
        """The study folders under the root (walked again every ``FOLDERS_TTL`` seconds)."""
        with self._lock:
            if time.monotonic() - self._walked_at > FOLDERS_TTL:
                self._folders = sorted(_walk(self.root, self.max_depth))
                self._walked_at = time.monotonic()
                for gone in set(self._records) - set(self._folders):
                    del self._records[gone]
            return list(self._folders)

    def list(self) -> list[dict[str, Any]]:
        return [self.record(folder) for folder in self.folders()]

    def record(self, folder: Path) -> dict[str, Any]:
        """One study's summary; read from its storage only when its files changed."""
        paths = StudyPaths.at(folder)
        running = _runners(paths)
        key = (*_stamps(paths), running)
        cached = self._records.get(folder)
        remote = cached is not None and cached.record.get("remote")
        now = time.monotonic()
        if cached is not None and cached.key == key and (
                not remote or now - cached.read_at < REMOTE_TTL):
            return cached.record
        record = self._read(paths, running)
        self._records[folder] = _Cached(key, record, now)
        return record

    def detail(self, study_id: str) -> dict[str, Any]:
        """A study's summary and its trial rows (the rows of ``_automl.trials`` and ``show``)."""
        folder = self.folder(study_id)
        result = load_result(folder.name, folder.parent)
        rows = list(result.trials)
        columns = list(rows[0]) if rows else []
        return {"study": self.record(folder), "columns": columns, "trials": rows}

    # -- one study ---------------------------------------------------------------------------
    def _read(self, paths: StudyPaths, running: int) -> dict[str, Any]:
        spec = paths.read_spec()
        record = self._base(paths, spec)
        if not spec.get("storage") and paths.db.is_file():
            try:  # straight from SQLite: opening Optuna's storage costs 50-100 ms a study
                return {**record, **_from_sqlite(paths.db, record["name"], running, spec)}
            except (sqlite3.Error, LookupError, ValueError):
                pass  # a schema this reader does not know: Optuna reads it below
        try:
            result = load_result(paths.name, paths.root.parent)
            trials = [t for t in result.study.get_trials(deepcopy=False)
                      if WARM_START not in t.user_attrs]
        except (AutomlError, KeyError) as exc:
            return {**record, "state": "unreadable", "error": str(exc)}
        states = [t.state.name for t in trials]
        done = states.count("COMPLETE") + states.count("PRUNED")
        total = int(spec.get("trials") or 0) or None
        best = result.best_trial if len(result.directions) == 1 else None
        record.update(
            done=done, total=total, complete=states.count("COMPLETE"),
            pruned=states.count("PRUNED"), failed=states.count("FAIL"),
            running=states.count("RUNNING"),
            best_value=None if best is None else best.value,
            best_params=None if best is None else dict(best.params),
            updated=_updated(trials, spec),
            state=_state(running > 0 or result.status == "running", done, total, trials),
            remote=bool(spec.get("storage")),
        )
        return record

    def _base(self, paths: StudyPaths, spec: dict[str, Any]) -> dict[str, Any]:
        objectives = spec.get("objectives") or [{}]
        notebook = self._notebook(spec.get("notebook"))
        return {
            "id": self.study_id(paths.root), "name": spec.get("name", paths.name),
            "folder": self.study_id(paths.root.parent) if paths.root.parent != self.root
            else "",
            "notebook": notebook, "state": "unknown", "done": 0, "total": None,
            "complete": 0, "pruned": 0, "failed": 0, "running": 0, "best_value": None,
            "best_params": None, "metric": objectives[0].get("metric"),
            "direction": objectives[0].get("direction") if len(objectives) == 1 else None,
            "objectives": len(objectives), "updated": None,
            "command": None if notebook is None else f"jupyter-automl run {shlex.quote(notebook)}",
        }

    def _notebook(self, recorded: str | None) -> str | None:
        """The recorded notebook as a path from the root; None when it is elsewhere."""
        if not recorded:
            return None
        path = Path(recorded)
        if not path.is_absolute():
            path = self.root / path
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return None


def trial_rows_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trial rows as JSON values (NaN and infinities become None)."""
    return [{k: _json_value(v) for k, v in row.items()} for row in rows]


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return value


# the study's own trials: not the observations --warm-start added from other studies
_OWN = own_trials_sql("")
_OWN_T = own_trials_sql("t")


def _from_sqlite(db: Path, name: str, running: int, spec: dict[str, Any]) -> dict[str, Any]:
    """A study's figures read from its SQLite file, read-only (Optuna's tables: studies,
    study_directions, trials, trial_values, trial_params)."""
    from optuna.distributions import json_to_distribution

    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1.0) as con:
        (study_id,) = con.execute("SELECT study_id FROM studies WHERE study_name = ?",
                                  (name,)).fetchone() or (None,)
        if study_id is None:
            raise LookupError(name)
        directions = [d for (d,) in con.execute(
            "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective",
            (study_id,))]
        trials = con.execute(
            "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
            f"WHERE study_id = ? AND {_OWN}", (study_id,)).fetchall()
        states = [t[2] for t in trials]
        best = None
        if len(directions) == 1:
            order = "DESC" if directions[0] == "MAXIMIZE" else "ASC"
            best = con.execute(
                "SELECT t.trial_id, v.value FROM trials t JOIN trial_values v ON "
                "v.trial_id = t.trial_id AND v.objective = 0 WHERE t.study_id = ? AND "
                f"t.state = 'COMPLETE' AND v.value IS NOT NULL AND {_OWN_T} AND "
                f"{best_candidates_sql('t')} "
                f"ORDER BY v.value {order}, "
                "t.number LIMIT 1", (study_id,)).fetchone()
        params = None
        if best is not None:
            params = {p: json_to_distribution(d).to_external_repr(v) for p, v, d in con.execute(
                "SELECT param_name, param_value, distribution_json FROM trial_params "
                "WHERE trial_id = ?", (best[0],))}
        last = con.execute(
            "SELECT t.trial_id, t.state FROM trials t WHERE t.study_id = ? AND "
            f"{_OWN_T} ORDER BY t.number DESC LIMIT 1",
            (study_id,)).fetchone()
        lost = last is not None and con.execute(
            "SELECT 1 FROM trial_user_attributes WHERE trial_id = ? AND key = "
            "'failed_because'", (last[0],)).fetchone() is not None
    done = states.count("COMPLETE") + states.count("PRUNED")
    total = int(spec.get("trials") or 0) or None
    stamps = [_dt.datetime.fromisoformat(s) for t in trials for s in (t[4] or t[3],) if s]
    if spec.get("updated"):
        stamps.append(_dt.datetime.fromisoformat(spec["updated"]))
    latest = max(stamps, default=None)
    if running:
        state = "running"
    elif total is not None and done >= total:
        state = "finished"
    elif last is not None and last[1] == "FAIL" and not lost:
        state = "failed"
    else:
        state = "stopped"
    return {"done": done, "total": total, "complete": states.count("COMPLETE"),
            "pruned": states.count("PRUNED"), "failed": states.count("FAIL"),
            "running": states.count("RUNNING"),
            "best_value": None if best is None else float(best[1]),
            "best_params": params, "state": state, "remote": False,
            "updated": None if latest is None else latest.astimezone().isoformat(
                timespec="seconds")}


def _walk(root: Path, max_depth: int) -> list[Path]:
    """Study folders under ``root``, at most ``max_depth`` folders down; links not followed."""
    found: list[Path] = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False) or entry.name.startswith(".") \
                    or entry.name in SKIPPED or ".old-" in entry.name:
                continue
            path = Path(entry.path)
            if (path / "spec.json").is_file():
                found.append(path)  # a study: nothing of interest below it
            elif depth + 1 < max_depth:
                stack.append((path, depth + 1))
    return found


def _stamps(paths: StudyPaths) -> tuple[int, ...]:
    """What changes when a study changes: its spec, database and journal, runners' locks."""
    stamps = []
    for path in (paths.spec, paths.db, paths.db.with_name("study.db-wal"),
                 paths.db.with_name("study.db-journal"), paths.runners, paths.stop_request):
        try:
            stamps.append(path.stat().st_mtime_ns)
        except OSError:
            stamps.append(0)
    return tuple(stamps)


def _runners(paths: StudyPaths) -> int:
    """Live runners of the study in its runs folder (their lock files say)."""
    try:
        return int(live_claims(paths)[1])
    except OSError:
        return 0


def _state(running: bool, done: int, total: int | None, trials: list[Any]) -> str:
    """running, finished (its total reached), failed (its last trial failed on an error of
    the cell) or stopped (interrupted, stopped, or its runner gone)."""
    if running:
        return "running"
    if total is not None and done >= total:
        return "finished"
    last = max(trials, key=lambda t: t.number, default=None)
    if last is not None and last.state.name == "FAIL" and "failed_because" not in last.user_attrs:
        return "failed"
    return "stopped"


def _updated(trials: list[Any], spec: dict[str, Any]) -> str | None:
    stamps = [t.datetime_complete or t.datetime_start for t in trials]
    if spec.get("updated"):
        stamps.append(_dt.datetime.fromisoformat(spec["updated"]))
    latest = max((s for s in stamps if s is not None), default=None)
    if latest is None:
        return None
    if latest.tzinfo is None:  # Optuna and the spec keep local times
        latest = latest.astimezone()
    return latest.isoformat(timespec="seconds")


__all__ = ["PathRefused", "Studies", "trial_rows_json"]
