"""``jupyter-automl sweep``: run a notebook once per point of a grid of its parameters.

The grid file is YAML: parameter names mapped to lists of values (the grid is their product), or
``points:``, a list of mappings, one per point. Each point runs headlessly in its own folder,
which is also its kernel's working directory (so it has its own runs folder)::

    NB_sweep/
      dataset=wine,model=mlp/   a point, named from its values
        NB.ipynb                the executed notebook
        automl_runs/            the point's studies
        point.json              parameters, status, error, exit code, start, finish, duration
      summary.csv               one row per point: parameters, status, studies, best, duration
      summary.html              the same table

A point whose ``point.json`` says it finished is skipped when the sweep runs again; a failed or
unfinished one runs again (its studies resume).
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import html
import itertools
import json
import re
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._utils.duration import format_duration
from .._utils.io import read_json, write_atomic, write_json
from ..errors import AutomlError
from ..results import StudyState, summary_of
from ..runs import DEFAULT_RUNS_DIR, list_study_folders
from ._run import (
    NotebookRun,
    check_kernel,
    check_names,
    describe_unfinished,
    parameter_warnings,
    read_yaml,
    run_notebook,
)

RECORD = "point.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")
_MAX_SLUG = 100


@dataclass(frozen=True)
class Point:
    number: int  # 1-based, in grid order
    count: int  # points in the sweep
    parameters: dict[str, Any]
    folder: Path

    @property
    def label(self) -> str:
        return f"[{self.number}/{self.count}] {self.folder.name}"

    @property
    def record_path(self) -> Path:
        return self.folder / RECORD

    def finished_before(self) -> dict[str, Any] | None:
        """The record of an earlier run of this point that finished, else None."""
        record = read_json(self.record_path)
        if isinstance(record, dict) and record.get("status") == "finished" \
                and record.get("parameters") == _plain(self.parameters):
            return record
        return None


@dataclass
class PointResult:
    point: Point
    notebook: Path
    status: str  # finished | failed
    error: str = ""
    duration: float = 0.0
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "finished"


# -- the grid -----------------------------------------------------------------------------------
def load_grid(path: Path) -> list[dict[str, Any]]:
    """The points of a grid file: the product of its lists, or its ``points:``."""
    data = read_yaml(path, "grid file")
    if not isinstance(data, dict) or not data:
        raise AutomlError(f"grid file {path} must hold a YAML mapping of parameter names to "
                          "lists of values, like 'lr: [0.01, 0.1]', or 'points:' with a list of "
                          f"mappings; it holds {'nothing' if data is None else repr(data)[:80]}")
    if "points" in data:
        if len(data) > 1:
            others = ", ".join(str(k) for k in data if k != "points")
            raise AutomlError(f"grid file {path} has both 'points:' and grid parameters "
                              f"({others}); write every point under 'points:', or keep only "
                              "the grid")
        points = _explicit_points(data["points"], path)
    else:
        points = _product(data, path)
    _check_distinct(points, path)
    return points


def _product(grid: dict[Any, Any], path: Path) -> list[dict[str, Any]]:
    check_names(grid, path)
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise AutomlError(f"grid file {path}: {name!r} must be a non-empty list of values, "
                              f"got {values!r}; write {name}: [{values!r}] for a single value")
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def _explicit_points(points: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(points, list) or not points or \
            not all(isinstance(p, dict) for p in points):
        raise AutomlError(f"grid file {path}: 'points:' must be a non-empty list of mappings, "
                          "like '- {lr: 0.01, layers: 2}'")
    for point in points:
        check_names(point, path)
    return [dict(p) for p in points]


def _check_distinct(points: list[dict[str, Any]], path: Path) -> None:
    seen: dict[str, int] = {}
    for i, point in enumerate(points, 1):
        key = json.dumps(_plain(point), sort_keys=True)
        if key in seen:
            raise AutomlError(f"grid file {path}: points {seen[key]} and {i} are the same "
                              f"({slug(point)}); remove one")
        seen[key] = i


def slug(parameters: dict[str, Any]) -> str:
    """A folder name from a point's values: ``dataset=wine,model=mlp``.

    Characters other than letters, digits and ``._+-`` become ``_``; a name that lost
    characters that way, or was cut, ends with a hash of the values so it stays unique.
    """
    if not parameters:
        return "no-parameters"
    parts = [(str(k), _text(v)) for k, v in parameters.items()]
    raw = ",".join(f"{k}={v}" for k, v in parts)
    safe = ",".join(f"{_UNSAFE.sub('_', k)}={_UNSAFE.sub('_', v)}" for k, v in parts)
    if safe == raw and len(safe) <= _MAX_SLUG:
        return safe
    return f"{safe[:_MAX_SLUG]}-{_digest(parameters)}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(_plain(value))


def _digest(parameters: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(_plain(parameters), sort_keys=True).encode()).hexdigest()[:8]


def _plain(value: Any) -> Any:
    """``value`` as JSON reads it back (YAML dates become text), for comparing records."""
    return json.loads(json.dumps(value, default=str))


def make_points(grid: list[dict[str, Any]], output_dir: Path) -> list[Point]:
    names = [slug(p) for p in grid]
    clashes = {n for n in names if names.count(n) > 1}  # e.g. 1 and "1": same text
    names = [f"{n}-{_digest(p)}" if n in clashes else n for n, p in zip(names, grid)]
    return [Point(i, len(grid), p, output_dir / name)
            for i, (p, name) in enumerate(zip(grid, names), 1)]


# -- running ------------------------------------------------------------------------------------
def run_sweep(notebook: Path, grid_file: Path, parallel: int = 1, output_dir: Path | None = None,
              kernel: str | None = None, say: Callable[[str], None] | None = None,
              ) -> list[PointResult]:
    """Run ``notebook`` at every point of ``grid_file``, ``parallel`` points at a time.

    A point that fails does not stop the others. Points that finished in an earlier run of the
    sweep are skipped. Writes ``summary.csv`` and ``summary.html`` and returns a result per
    point, in grid order.
    """
    output_dir = (output_dir or notebook.parent / f"{notebook.stem}_sweep").absolute()
    points = make_points(load_grid(grid_file), output_dir)
    check_kernel(notebook, kernel)
    say = say or _printer()
    names = list(dict.fromkeys(k for p in points for k in p.parameters))
    for warning in parameter_warnings(notebook, names):
        print(f"jupyter-automl: warning: {warning}", file=sys.stderr)
    say(f"sweep of {notebook.name}: {len(points)} points, {parallel} at a time, in {output_dir}")
    results: dict[int, PointResult] = {}
    todo = []
    for point in points:
        record = point.finished_before()
        if record is None:
            todo.append(point)
        else:
            results[point.number] = _skipped(point, notebook, record, say)
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="automl-point") as pool:
        for result in pool.map(lambda p: run_point(notebook, p, kernel, say), todo):
            results[result.point.number] = result
    ordered = [results[p.number] for p in points]
    csv_path, html_path = write_summary(output_dir, ordered)
    failed = [r.point.folder.name for r in ordered if not r.ok]
    say(f"sweep: {len(ordered) - len(failed)}/{len(ordered)} points finished"
        + (f", {len(failed)} failed: {', '.join(failed)}" if failed else ""))
    say(f"summary: {csv_path}\nsummary: {html_path}")
    return ordered


def run_point(notebook: Path, point: Point, kernel: str | None,
              say: Callable[[str], None]) -> PointResult:
    """Run one point in its folder and record how it ended in its ``point.json``."""
    say(f"{point.label} started")
    started = _now()
    _record(point, status="running", started=started)
    output = point.folder / notebook.name
    start = time.monotonic()
    try:
        run = run_notebook(notebook, output, point.parameters, kernel=kernel, cwd=point.folder)
        status, error = ("finished", "") if run.ok else ("failed", point_error(run))
    except Exception as exc:  # one point's trouble must not stop the sweep
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    result = PointResult(point, output, status, error, time.monotonic() - start)
    _record(point, status=status, error=error, exit_code=0 if result.ok else 1,
            started=started, finished=_now(), duration=round(result.duration, 1),
            notebook=notebook.name)
    ending = f"finished in {format_duration(result.duration)}" if result.ok \
        else f"failed in {format_duration(result.duration)}: {error}"
    say(f"{point.label} {ending}")
    return result


def point_error(run: NotebookRun) -> str:
    """One line saying why a run did not finish."""
    if run.status == "failed":
        return f"{run.error} (cell {run.cell})"
    if run.status == "kernel died":
        return f"the kernel died in cell {run.cell}"
    return "; ".join(describe_unfinished(r) for r in run.unfinished())


def _skipped(point: Point, notebook: Path, record: dict[str, Any],
             say: Callable[[str], None]) -> PointResult:
    say(f"{point.label} already finished ({record.get('finished', '?')}), skipped; delete "
        f"{point.record_path} to run it again")
    return PointResult(point, point.folder / record.get("notebook", notebook.name), "finished",
                       duration=float(record.get("duration") or 0.0), skipped=True)


def _record(point: Point, **fields: Any) -> None:
    write_json(point.record_path, {"parameters": _plain(point.parameters), **fields})


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def _printer() -> Callable[[str], None]:
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            print(text, flush=True)

    return say


# -- the summary --------------------------------------------------------------------------------
STUDY_COLUMNS = ["studies", "trials", "best_value", "best_params"]


def summary_table(results: list[PointResult]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the summary: a row per point, its studies read from its folder."""
    names = list(dict.fromkeys(k for r in results for k in r.point.parameters))
    columns = ["point", *names, "status", "error", *STUDY_COLUMNS, "duration_s", "notebook"]
    rows = []
    for r in results:
        row: dict[str, Any] = {"point": r.point.folder.name, **r.point.parameters,
                               "status": r.status, "error": r.error,
                               "duration_s": round(r.duration, 1), "notebook": str(r.notebook)}
        row.update(study_cells(r.point.folder / DEFAULT_RUNS_DIR))
        rows.append(row)
    return columns, rows


def study_cells(runs_dir: Path) -> dict[str, Any]:
    """Name, trials, best value and best params of the studies of one point (``; `` between)."""
    cells: dict[str, list[str]] = {c: [] for c in STUDY_COLUMNS}
    for paths in list_study_folders(runs_dir):
        cells["studies"].append(paths.name)
        summary = summary_of(paths)
        if summary.state is StudyState.UNREADABLE:
            values = ["", "", f"unreadable: {summary.error}"]
        else:
            values = [summary.trials_text, summary.best_text(exact=True),
                      json.dumps(_plain(summary.best_params or {}))]
        for column, value in zip(STUDY_COLUMNS[1:], values):
            cells[column].append(value)
    return {c: "; ".join(v) for c, v in cells.items()}


def write_summary(output_dir: Path, results: list[PointResult]) -> tuple[Path, Path]:
    columns, rows = summary_table(results)
    output_dir.mkdir(parents=True, exist_ok=True)
    csv_path = output_dir / "summary.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows({c: _csv_cell(row.get(c)) for c in columns} for row in rows)
    html_path = output_dir / "summary.html"
    write_atomic(html_path, summary_html(columns, rows, output_dir).encode())
    return csv_path, html_path


def _csv_cell(value: Any) -> Any:
    return json.dumps(_plain(value)) if isinstance(value, (list, dict)) else value


def summary_html(columns: list[str], rows: list[dict[str, Any]], output_dir: Path) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr class='{html.escape(str(row['status']))}'>"
        + "".join(f"<td>{_html_cell(c, row.get(c), output_dir)}</td>" for c in columns)
        + "</tr>\n" for row in rows)
    failed = sum(row["status"] != "finished" for row in rows)
    title = f"Sweep in {output_dir.name}: {len(rows) - failed}/{len(rows)} points finished"
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_CSS}</style></head>\n<body><h1>{html.escape(title)}</h1>\n"
            f"<table><tr>{head}</tr>\n{body}</table></body></html>\n")


_CSS = ("body{font-family:sans-serif} table{border-collapse:collapse} "
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left} "
        "tr.failed td{background:#fdd}")


def _html_cell(column: str, value: Any, output_dir: Path) -> str:
    if column == "notebook" and value:
        path = Path(value)
        href = path.relative_to(output_dir) if path.is_relative_to(output_dir) else path
        link = html.escape(urllib.parse.quote(href.as_posix()))
        return f"<a href='{link}'>{html.escape(str(href))}</a>"
    if column == "duration_s" and value is not None:
        return html.escape(format_duration(float(value)))
    return "" if value is None else html.escape(str(_csv_cell(value)))
