"""The studies under a runs folder: list, show and delete them (``%automl`` and the CLI).

Listing and showing only read: the storage is opened read-only (see
:func:`jupyter_automl.runs.open_storage`), so a study running in another process is neither
blocked nor changed by them.
"""

from __future__ import annotations

import datetime as _dt
import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _optuna
from ..errors import AutomlError, StorageError, StudyNotFoundError
from ..runs import (
    DEFAULT_RUNS_DIR,
    StudyPaths,
    is_running,
    list_study_folders,
    live_claims,
    open_storage,
    storage_errors,
    study_paths,
)
from ._result import AutomlResult
from ._rows import STUDY_COLUMNS, cell_text, study_row, text_table
from ._summary import StudySummary

if TYPE_CHECKING:
    import optuna


class ReadOnlyResult(AutomlResult):
    """An :class:`AutomlResult` whose storage is opened read-only."""

    @functools.cached_property
    def study(self) -> optuna.Study:
        import optuna

        with storage_errors(self.url):
            study = optuna.load_study(study_name=self.name,
                                      storage=open_storage(self.url, read_only=True))
            _optuna.preload(study)  # a reader reads them all, in a few queries
            return study


def load_result(name: str, runs_dir: str | Path = DEFAULT_RUNS_DIR,
                storage: str | None = None) -> ReadOnlyResult:
    """The study ``name`` for reading; ``storage`` overrides the URL recorded in its spec."""
    loaded = AutomlResult.load(name, runs_dir, storage)  # says which studies exist if not
    stored = loaded.spec.get("storage") or ""
    if storage is None and "***" in stored:
        return _without_password(loaded, stored)
    return ReadOnlyResult(loaded.paths, loaded.url)


def _without_password(loaded: AutomlResult, stored: str) -> ReadOnlyResult:
    """A study whose spec has its storage URL redacted: the URL with the user name only, for
    the database client to find the password (libpq: ``PGPASSWORD``, ``~/.pgpass``)."""
    result = ReadOnlyResult(loaded.paths, stored.replace(":***@", "@"))
    try:
        _ = result.study  # connect now: a failure gets the hint below
    except KeyError:
        raise StudyNotFoundError(f"study {loaded.name!r} is not in its storage {stored}") from None
    except StorageError as exc:
        raise StorageError(f"{exc}. The password of the storage of study {loaded.name!r} is not "
                           f"kept in {loaded.paths.spec}: set PGPASSWORD (or ~/.pgpass), or "
                           "pass the full URL with --storage URL") from None
    return result


def rows(runs_dir: str | Path) -> list[dict[str, Any]]:
    """One row per study (:func:`.study_row`), an unreadable one saying why."""
    return [study_row(summary_of(paths)) for paths in list_study_folders(runs_dir)]


def summary_of(paths: StudyPaths, runners: int | None = None) -> StudySummary:
    """The summary of the study in ``paths`` (see :mod:`._summary`), an unreadable one saying
    why; ``runners``: its live runners, when counted already."""
    try:
        return load_result(paths.name, paths.root.parent).summarize(runners)
    except (AutomlError, KeyError) as exc:  # KeyError: the study is not in its storage
        return StudySummary.unreadable(paths, exc)


def list_text(runs_dir: str | Path) -> str:
    """The studies under ``runs_dir`` as a text table (``studies`` / ``%automl list``)."""
    table = rows(runs_dir)
    folder = Path(runs_dir).expanduser().absolute()
    if not table:
        return f"no studies in {folder}" + ("" if folder.is_dir() else " (no such folder)")
    shown = [c for c in STUDY_COLUMNS if c != "best params"]
    return text_table([shown, *([cell_text(c, r[c]) for c in shown] for r in table)])


def show_text(name: str, runs_dir: str | Path, storage: str | None = None) -> str:
    """One study as text: its summary, then its trial table (``jupyter-automl show``)."""
    result = load_result(name, runs_dir, storage)
    return f"{result.summary()}\n\n{result.trials!r}"


def delete(name: str, runs_dir: str | Path, yes: bool = False,
           ask: Callable[[str], str] = input, verb: str = "magic") -> bool:
    """Delete a study's folder after asking (``yes`` skips the question). Returns True if gone."""
    paths = study_paths(runs_dir, name)
    if not paths.spec.exists():
        raise StudyNotFoundError(f"no study {name!r} in {paths.root.parent}")
    try:
        running = is_running(load_result(name, runs_dir).study, paths)
    except (AutomlError, KeyError):  # an unreadable storage: its runners' locks still tell
        running = bool(live_claims(paths)[1])
    if running:
        raise AutomlError(f"study {name!r} is running in another process; stop it first")
    if not yes:
        trials = AutomlResult.load(name, runs_dir).done
        try:
            answer = ask(f"Delete {paths.root} and its {trials} finished trials? [y/N] ")
        except Exception as exc:  # e.g. StdinNotImplementedError under papermill
            said = "%automl" if verb == "magic" else "jupyter-automl"
            raise AutomlError(f"cannot ask for confirmation here ({type(exc).__name__}); "
                              f"use {said} delete {name} --yes") from None
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted")
            return False
    shutil.rmtree(paths.root)
    print(f"deleted {paths.root} ({_dt.datetime.now():%H:%M:%S})")
    return True
