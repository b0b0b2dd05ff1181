"""One exception family for everything a user can get wrong.

Every class derives from IPython's ``UsageError`` and renders itself as its message alone (IPython
shows a bare message only for ``UsageError`` itself, so subclasses say so through
``_render_traceback_``): no internal traceback. Messages name the bad value and the fix.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

try:  # IPython is a dependency, but the library API also works where it is absent.
    from IPython.core.error import UsageError as _Base
except ImportError:  # pragma: no cover - exercised only without IPython
    _Base = Exception  # type: ignore[misc,assignment]


class AutomlError(_Base):  # type: ignore[misc,valid-type]
    """Base class of every error jupyter-automl raises for bad input or a bad state.

    In a notebook it shows as its message alone, without a traceback (it is an IPython
    ``UsageError``); ``jupyter-automl`` prints it and exits with status 2. Catch it to handle
    any of them.

    Example:
        >>> import jupyter_automl
        >>> try:
        ...     jupyter_automl.run_study("1.0", "quad --trials 0")
        ... except jupyter_automl.AutomlError as exc:
        ...     print(type(exc).__name__, "-", exc)  # doctest: +ELLIPSIS
        OptionError - %%automl: argument --trials: '0': give a whole number, at least 1
        usage: %%automl ...
    """

    def _render_traceback_(self) -> list[str]:
        return f"{type(self).__name__}: {self}".splitlines()


class OptionError(AutomlError):
    """A magic option that is unknown or malformed."""


class SpaceError(AutomlError):
    """A search-space definition that cannot be sampled."""


class MetricError(AutomlError):
    """An objective metric that the trial's logs or return value do not have."""


class TrialValueError(AutomlError):
    """A trial produced a value that is not a finite number."""


class StorageError(AutomlError):
    """The study's storage cannot be opened or written."""


class StudyConflictError(AutomlError):
    """The cell asks for a study that contradicts the stored one (directions, metrics)."""


class PbtError(AutomlError):
    """A cell population-based training cannot run (no mutable parameter, no Keras fit)."""


class TooManyFailuresError(AutomlError):
    """Several trials in a row failed: the cell is probably broken for every parameter set."""


class StudyInterrupted(AutomlError):
    """The user interrupted the study; finished trials are kept and a rerun resumes."""


class StudyNotFoundError(AutomlError):
    """No study of that name exists in the runs folder."""


class ExportError(AutomlError):
    """The study's best model could not be written (disk full, permissions)."""


class TrackingError(AutomlError):
    """An experiment tracker (``--mlflow``, ``--tensorboard``) that cannot be used: a server that
    does not answer or refuses the credentials, a folder that cannot be written. Said before the
    first trial starts."""


class PathError(AutomlError):
    """A file or folder the user named (or its runs folder) cannot be read or written."""


class DiskFullError(PathError):
    """The disk holding the study's files (or a path the user named) is full: the run stops,
    its cut trials queued to resume once there is space."""


FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException | None) -> BaseException | None:
    """The full-disk error (no space, or the quota used up; SQLite's ``database or disk is
    full``) in ``exc`` or what caused it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.errno in FULL or "database or disk is full" in str(
                exc):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def disk_full_text(folder: Path, needed: int | None = None) -> str:
    """``the disk holding FOLDER is full (4.0 KB free; about 3.1 MB needed ...): free some
    space ...``, with ``needed`` bytes (:meth:`StudyPaths.space_needed`) if known."""
    import shutil

    where = folder
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = format_bytes(shutil.disk_usage(where).free)
    except OSError:
        free = "no space"
    need = "" if needed is None else (f"; about {format_bytes(needed)} needed to go on: two "
                                      "copies of a trial's checkpoint and room for study.db's "
                                      "journal")
    return (f"the disk holding {folder} is full ({free} free{need}): free some space (df -h "
            f"{where} shows it), or move the study to another disk (--runs-dir, "
            "--checkpoint-dir)")


def format_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover (the loop returns)


def path_error(exc: OSError) -> PathError:
    """``exc`` (an ``OSError`` on a path) as a message naming the path and the fix."""
    path = exc.filename
    why = {
        errno.EACCES: "permission denied: choose a path you can write to, or fix its folder's "
                      "permissions",
        errno.EPERM: "not permitted: choose a path you can write to, or fix its folder's "
                     "permissions",
        errno.EROFS: "the file system is read-only: choose a path on a writable disk",
        errno.ENOSPC: "no space left on the device: free some, or choose a folder on another "
                      "disk (df -h shows what is free)",
        errno.EDQUOT: "your disk quota is used up: free some space, or choose another folder",
        errno.ENOENT: "it does not exist: check the path",
        errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
        errno.EEXIST: "it is a file, not a folder: choose another path",
        errno.EISDIR: "it is a folder: give a file name",
    }.get(exc.errno or 0, exc.strerror or os.strerror(exc.errno or 0))
    return (DiskFullError if exc.errno in FULL else PathError)(f"{path}: {why}")
