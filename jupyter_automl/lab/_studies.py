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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import AutomlError
from ..results import StudyState, load_result, summary_of
from ..runs import StudyPaths, live_claims

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
        columns = list(dict.fromkeys(k for row in rows for k in row))  # a later row's too
        return {"study": self.record(folder), "columns": columns, "trials": rows}

    # -- one study ---------------------------------------------------------------------------
    def _read(self, paths: StudyPaths, running: int) -> dict[str, Any]:
        spec = paths.read_spec()
        summary = summary_of(paths, running)
        record = self._base(paths, spec)
        if summary.state is StudyState.UNREADABLE:
            return {**record, "state": str(summary.state), "error": summary.error}
        single = len(summary.directions) == 1
        return {**record, "done": summary.done, "total": summary.total,
                "complete": summary.complete, "pruned": summary.pruned,
                "failed": summary.failed, "discarded": summary.discarded,
                "running": summary.running,
                "best_value": summary.best_value if single else None,
                "best_params": summary.best_params if single else None,
                "front": None if single else len(summary.best),
                "state": str(summary.state), "remote": summary.remote,
                "updated": None if summary.updated is None
                else summary.updated.isoformat(timespec="seconds")}

    def _base(self, paths: StudyPaths, spec: dict[str, Any]) -> dict[str, Any]:
        objectives = spec.get("objectives") or [{}]
        notebook = self._notebook(spec.get("notebook"))
        return {
            "id": self.study_id(paths.root), "name": spec.get("name", paths.name),
            "folder": self.study_id(paths.root.parent) if paths.root.parent != self.root
            else "",
            "notebook": notebook, "state": "unknown", "done": 0, "total": None,
            "complete": 0, "pruned": 0, "failed": 0, "discarded": 0, "running": 0,
            "best_value": None,
            "best_params": None, "front": None, "metric": objectives[0].get("metric"),
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


__all__ = ["PathRefused", "Studies", "trial_rows_json"]
