"""Opening a study's storage, with clear errors for a corrupt, locked or unreachable database."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import random
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DiskFullError, StorageError, disk_full, disk_full_text

if TYPE_CHECKING:
    import optuna

_DRIVERS = {"postgresql": "'psycopg[binary]'", "mysql": "pymysql"}
_DRIVER_MODULES = {"psycopg", "psycopg2", "pg8000", "asyncpg", "pymysql", "MySQLdb", "oracledb",
                   "cx_Oracle", "pyodbc", "pymssql"}
SQLITE_TIMEOUT = 30.0  # seconds a write waits for another process's lock before failing
CREATE_ATTEMPTS = 8  # tries at opening a database that another runner may be creating now


def storage_url(storage: str | None, default_db: Path) -> str:
    """An SQLAlchemy URL: ``storage`` as given, a path made into ``sqlite:///``, or the default."""
    if storage is None:
        return f"sqlite:///{default_db}"
    if "://" in storage:
        return storage
    return f"sqlite:///{Path(storage).expanduser().absolute()}"


def open_storage(url: str, timeout: float | None = None,
                 read_only: bool = False) -> optuna.storages.RDBStorage:
    """Optuna's storage at ``url``; SQLite waits ``timeout`` seconds for another process's lock.

    ``read_only`` is for readers of a study that may be running elsewhere (listing, dashboard):
    an SQLite file is opened with ``mode=ro`` (it is neither created nor written, and a writer
    never waits on a write lock of ours), PostgreSQL sessions are read-only transactions, and
    no table is created or schema checked.
    """
    import optuna

    timeout = SQLITE_TIMEOUT if timeout is None else timeout
    kwargs: dict[str, Any] = {"connect_args": {"timeout": timeout}} \
        if url.startswith("sqlite") else {}
    if read_only:
        kwargs = _read_only_engine(url, timeout) or kwargs
    elif url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    with storage_errors(url):
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return optuna.storages.RDBStorage(url, engine_kwargs=kwargs,
                                                  skip_compatibility_check=read_only,
                                                  skip_table_creation=read_only)
            except Exception as exc:
                # Two runners creating the same new database at once: one of them creates the
                # tables and stamps the schema, the other fails on a duplicate; a second try
                # finds them made.
                if read_only or attempt + 1 == CREATE_ATTEMPTS or not _creation_race(exc):
                    raise
                time.sleep(random.uniform(0.05, 0.3))
    raise AssertionError("unreachable")


def _creation_race(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(words in text for words in ("already exists", "unique constraint",
                                           "duplicate key", "duplicate entry"))


def is_server(url: str) -> bool:
    """Whether ``url`` is a database server (PostgreSQL, MySQL...) that several machines can
    share, rather than an SQLite file or memory."""
    return "://" in url and not url.startswith("sqlite")


def sqlite_file(url: str) -> Path | None:
    """The database file of an ``sqlite:///`` URL (None for other URLs and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") \
            or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database).expanduser().absolute()


def opens_read_only(url: str) -> bool:
    """Whether ``open_storage(url, read_only=True)`` makes the database refuse writes."""
    return sqlite_file(url) is not None or _is_postgresql(url)


def _is_postgresql(url: str) -> bool:
    return url.split("://", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def _read_only_engine(url: str, timeout: float) -> dict[str, Any]:
    """Engine options whose connections cannot write ({} where none are known for ``url``)."""
    if _is_postgresql(url):
        return {"connect_args": {"options": "-c default_transaction_read_only=on"}}
    path = sqlite_file(url)
    if path is None:
        return {}
    if not path.is_file():
        raise StorageError(f"no study database at {path}: check the path, or the runs folder "
                           "(--runs-dir) the study was run in")
    # A URI filename, quoted here: SQLAlchemy would unquote it if it were part of the URL.
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"

    def connect() -> sqlite3.Connection:
        _roll_back_hot_journal(path, timeout)
        return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

    return {"creator": connect}


def _roll_back_hot_journal(path: Path, timeout: float) -> None:
    """Undo the transaction of a writer killed in the middle of it, as its next writer would.

    A process killed inside a write leaves ``study.db-journal`` behind, and a ``mode=ro``
    connection cannot roll it back: every read fails with "attempt to write a readonly
    database" until a runner opens the study again. SQLite rolls a journal back on the first
    read of a read-write connection, and only when no live process holds the database (the
    journal is "hot"), so this never touches a running writer's transaction, and restores the
    committed trials that a killed runner left."""
    journal = path.with_name(path.name + "-journal")
    try:
        if journal.stat().st_size == 0:
            return
        with contextlib.closing(sqlite3.connect(path, timeout=timeout)) as con:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except (OSError, sqlite3.Error):
        return  # no journal, or a folder we cannot write: the read says what is wrong


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn database errors in the block into one :class:`StorageError` saying what to do."""
    import optuna
    import sqlalchemy.exc

    try:
        yield
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError,
            sqlite3.Error) as exc:
        db = sqlite_file(url)
        if db is not None and disk_full(exc) is not None:
            raise DiskFullError(f"{disk_full_text(db.parent)}. The finished trials are kept in "
                                f"{db}; rerun to resume") from None
        raise StorageError(_explain(url, exc)) from None
    except ImportError as exc:  # Optuna's message for a missing database driver names none
        if exc.name not in _DRIVER_MODULES:
            raise
        scheme = url.split("://", 1)[0].split("+", 1)[0]
        driver = _DRIVERS.get(scheme, "the SQLAlchemy driver for it")
        raise StorageError(f"the storage {redact(url)} needs a database driver: "
                           f"pip install {driver}") from None


def storage_failure(exc: BaseException) -> BaseException | None:
    """The database error in ``exc`` or what caused it (a connection cut, a server down) when
    it came from Optuna's storage (a trial's report or draw): the storage's fault, not the
    cell's. A database error of the cell's own code is the cell's."""
    if not _through_optuna_storage(exc):
        return None
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if type(cause).__module__.split(".")[0] in ("sqlalchemy", "psycopg", "psycopg2",
                                                    "sqlite3", "pymysql") or \
                type(cause).__name__ == "StorageInternalError":
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _through_optuna_storage(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside Optuna's storages (a frame of its traceback is)."""
    tb = exc.__traceback__
    while tb is not None:
        if f"optuna{os.sep}storages" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def root_cause(exc: BaseException) -> str:
    """The first line of what started ``exc`` (Optuna wraps a database error in its own,
    whose words guess at a cause: "invalid data in the commit" for a server that is down)."""
    cause = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    return str(cause).splitlines()[0] if str(cause) else type(cause).__name__


def _explain(url: str, exc: BaseException) -> str:
    text = root_cause(exc)
    shown = redact(url)
    if "locked" in text:
        return (f"the study database {shown} is locked by another process ({text}). Wait for "
                "the other run to finish, or stop it (%automl stop / its kernel), then rerun.")
    if "not a database" in text or "malformed" in text or "file is encrypted" in text:
        return (f"the study database {shown} is corrupt ({text}). "
                + _restore_hint(sqlite_file(url))
                + "Or move it away to start that study afresh, or rerun the cell with --fresh "
                "(the old folder is kept, renamed).")
    if "connection" in text.lower() and sqlite_file(url) is None:
        return (f"the study's database server {shown} cannot be reached ({text}). Check that it "
                "runs and that this machine reaches it, then rerun: the finished trials are "
                "kept there, and the trial cut short resumes from its checkpoint.")
    return f"cannot use the study storage {shown}: {text}"


def _restore_hint(db: Path | None) -> str:
    """How to put back the copy of ``db`` the runners keep beside it, if there is one."""
    from ._backup import backup_of

    if db is None or not backup_of(db).is_file():
        return ""
    taken = _dt.datetime.fromtimestamp(backup_of(db).stat().st_mtime)
    name = db.parent.name
    return (f"A copy of it taken at {taken:%Y-%m-%d %H:%M:%S} is kept beside it: "
            f"'jupyter-automl restore {name} --runs-dir {db.parent.parent}' (or "
            f"'%automl restore {name}') puts it back, losing only the trials since. ")


def redact(url: str) -> str:
    """``url`` without its password, fit for messages and logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
