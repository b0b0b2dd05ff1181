"""The studies under a runs folder: list, show and delete them (`%automl` and the CLI)."""

from __future__ import annotations

import datetime as _dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import AutomlError, StudyNotFoundError
from .recovery import live_claims
from .results import AutomlResult
from .runs import list_study_folders, study_paths


def rows(runs_dir: str | Path) -> list[dict[str, Any]]:
    """One row per study: name, state, done, total, best, updated."""
    out = []
    for paths in list_study_folders(runs_dir):
        result = AutomlResult.load(paths.name, runs_dir)
        row: dict[str, Any] = {"name": paths.name, "total": result.total,
                               "updated": result.spec.get("updated", "")}
        try:
            row["done"] = result.done
            trial = result.best_trial
            row["best"] = trial.value if trial else (
                f"front of {len(result.best_values)}" if len(result.directions) > 1 else None)
        except AutomlError as exc:
            row.update(done=None, best=None, state=f"unreadable: {exc}")
            out.append(row)
            continue
        _, live = live_claims(paths)
        row["state"] = "running" if live else ("finished" if row["done"] >= row["total"]
                                               else "stopped")
        out.append(row)
    return out


def list_text(runs_dir: str | Path) -> str:
    table = rows(runs_dir)
    if not table:
        return f"no studies in {Path(runs_dir).absolute()}"
    lines = [("name", "state", "trials", "best", "updated")]
    for r in table:
        best = r["best"] if isinstance(r["best"], str) else (
            "" if r["best"] is None else f"{r['best']:.6g}")
        done = "?" if r["done"] is None else r["done"]
        lines.append((r["name"], r["state"], f"{done}/{r['total']}", best, r["updated"]))
    widths = [max(len(str(line[i])) for line in lines) for i in range(5)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in lines)


def show_text(name: str, runs_dir: str | Path) -> str:
    result = AutomlResult.load(name, runs_dir)
    return f"{result.summary()}\n\n{result.trials!r}"


def show(name: str, runs_dir: str | Path, display: str = "auto") -> Any:
    """Redraw a study from its storage: the panel, static charts or text, as ``display`` says.

    Returns the panel (widgets mode) so that it can be inspected."""
    from .display import display_mode

    mode = display_mode(display)
    if mode == "text":
        print(show_text(name, runs_dir))
        return None
    from .ui.model import StudyModel

    result = AutomlResult.load(name, runs_dir)
    model = StudyModel.from_result(result)
    print(result.summary())
    if mode == "static":
        from .ui.static import show as show_static

        show_static(model, result.study)
        return None
    from .ui.panel import StudyPanel

    panel = StudyPanel()
    panel.attach(model, result.study)
    return panel


def delete(name: str, runs_dir: str | Path, yes: bool = False,
           ask: Callable[[str], str] = input) -> bool:
    """Delete a study's folder after asking (``yes`` skips the question). Returns True if gone."""
    paths = study_paths(runs_dir, name)
    if not paths.spec.exists():
        raise StudyNotFoundError(f"no study {name!r} in {paths.root.parent}")
    _, live = live_claims(paths)
    if live:
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
