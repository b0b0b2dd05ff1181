"""The studies under a runs folder: list, show and delete them (`%automl` and the CLI).

Listing and showing only read: the storage is opened read-only (see :func:`.open_storage`), so
a study running in another process is neither blocked nor changed by them.
"""

from __future__ import annotations

import datetime as _dt
import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine._recovery import is_running, live_claims
from ..errors import AutomlError, StorageError, StudyNotFoundError
from ..runs._paths import list_study_folders, study_paths
from ..runs._storage import open_storage, storage_errors
from ._result import AutomlResult

if TYPE_CHECKING:
    import optuna


class ReadOnlyResult(AutomlResult):
    """An :class:`AutomlResult` whose storage is opened read-only."""

    @functools.cached_property
    def study(self) -> optuna.Study:
        import optuna

        with storage_errors(self.url):
            return optuna.load_study(study_name=self.name,
                                     storage=open_storage(self.url, read_only=True))


def load_result(name: str, runs_dir: str | Path = "automl_runs",
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
    """One row per study: name, state, done, total, best, updated (its latest trial event)."""
    return [_row(paths.name, runs_dir) for paths in list_study_folders(runs_dir)]


def _row(name: str, runs_dir: str | Path) -> dict[str, Any]:
    paths = study_paths(runs_dir, name)
    spec = paths.read_spec()
    row: dict[str, Any] = {"name": name, "total": int(spec.get("trials", 0)),
                           "updated": spec.get("updated", "")}
    try:
        result = load_result(name, runs_dir)
        row.update(done=result.done, best=_best(result), updated=_last_update(result))
    except (AutomlError, KeyError) as exc:  # KeyError: the study is not in its storage
        row.update(done=None, best=None, state=f"unreadable: {exc}")
        return row
    row["state"] = "running" if is_running(result.study, paths) else (
        "finished" if row["done"] >= row["total"] else "stopped")
    return row


def _best(result: AutomlResult) -> float | str | None:
    trial = result.best_trial
    if trial is not None:
        return trial.value
    return f"front of {len(result.best_values)}" if len(result.directions) > 1 else None


def _last_update(result: AutomlResult) -> str:
    """When the study last changed: its latest trial start or end, else when it was opened."""
    stamps = [t.datetime_complete or t.datetime_start
              for t in result.study.get_trials(deepcopy=False)]
    opened = result.spec.get("updated")
    if opened:
        stamps.append(_dt.datetime.fromisoformat(opened))
    latest = max((s for s in stamps if s is not None), default=None)
    return "" if latest is None else f"{latest:%Y-%m-%d %H:%M:%S}"


def list_text(runs_dir: str | Path) -> str:
    """The studies under ``runs_dir`` as a text table (``jupyter-automl studies``)."""
    table = rows(runs_dir)
    folder = Path(runs_dir).expanduser().absolute()
    if not table:
        return f"no studies in {folder}" + ("" if folder.is_dir() else " (no such folder)")
    lines = [("name", "state", "trials", "best", "last update")]
    for r in table:
        best = r["best"] if isinstance(r["best"], str) else (
            "" if r["best"] is None else f"{r['best']:.6g}")
        done = "?" if r["done"] is None else r["done"]
        lines.append((r["name"], r["state"], f"{done}/{r['total']}", best, r["updated"]))
    widths = [max(len(str(line[i])) for line in lines) for i in range(5)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)


def show_text(name: str, runs_dir: str | Path, storage: str | None = None) -> str:
    """One study as text: its summary, then its trial table (``jupyter-automl show``)."""
    result = load_result(name, runs_dir, storage)
    return f"{result.summary()}\n\n{result.trials!r}"


def show(name: str, runs_dir: str | Path, display: str = "auto") -> Any:
    """Redraw a study from its storage: the panel, static charts or text, as ``display`` says.

    Returns the panel (widgets mode) so that it can be inspected."""
    from ..ui._display import display_mode

    mode = display_mode(display)
    if mode == "text":
        print(show_text(name, runs_dir))
        return None
    from ..ui._model import StudyModel

    result = AutomlResult.load(name, runs_dir)
    model = StudyModel.from_result(result)
    print(result.summary())
    if mode == "static":
        from ..ui._static import show as show_static

        show_static(model, result.study)
        return None
    from ..ui._panel import StudyPanel

    panel = StudyPanel()
    panel.attach(model, result.study)
    return panel


def delete(name: str, runs_dir: str | Path, yes: bool = False,
           ask: Callable[[str], str] = input) -> bool:
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
            raise AutomlError(f"cannot ask for confirmation here ({type(exc).__name__}); "
                              f"use %automl delete {name} --yes") from None
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted")
            return False
    shutil.rmtree(paths.root)
    print(f"deleted {paths.root} ({_dt.datetime.now():%H:%M:%S})")
    return True
