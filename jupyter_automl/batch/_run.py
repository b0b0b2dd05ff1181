"""Headless runs of notebooks with papermill: run one, watch its studies, find what it produced.

``jupyter-automl run`` and each point of ``jupyter-automl sweep`` are one :func:`run_notebook`.
While papermill executes the notebook, a :class:`TrialWatcher` thread of this process reads the
runs folder (``spec.json`` and the study's SQLite storage, read-only) and shows the trials of the
study running now; it never writes there, so it cannot disturb the kernel's study.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._utils.duration import format_duration
from ..errors import AutomlError, PathError, path_error
from ..results import AutomlResult, StudySummary, load_result
from ..runs import DEFAULT_RUNS_DIR, NOTEBOOK_ENV, StudyPaths, list_study_folders
from ..ui import HEADLESS_ENV
from ._headless_kernel import HeadlessKernelManager

POLL = 1.0  # seconds between two reads of the runs folder


@dataclass
class NotebookRun:
    """How one headless run of a notebook ended, and the studies it ran."""

    output: Path
    cwd: Path
    status: str = "finished"  # finished | failed | interrupted | kernel died | unfinished
    error: str = ""  # "SpaceError: ..." for a failed cell
    cell: int | None = None  # execution count of the failing cell
    source: str = ""  # that cell's source
    studies: list[AutomlResult] = field(default_factory=list)
    duration: float = 0.0

    @property
    def runs_dir(self) -> Path:
        return self.cwd / DEFAULT_RUNS_DIR

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def unfinished(self) -> list[AutomlResult]:
        """The studies this run left below their total (stopped early, e.g. by --timeout)."""
        return [r for r in self.studies if r.done < r.total]


def run_notebook(notebook: Path, output: Path, parameters: dict[str, Any] | None = None,
                 kernel: str | None = None, cwd: Path | None = None,
                 progress: bool = False) -> NotebookRun:
    """Execute ``notebook`` into ``output`` with papermill in a kernel working in ``cwd``.

    ``progress`` shows papermill's bar of cells and a line (a bar on a terminal) of the trials of
    the study running now, on stderr. A failing cell or a dead kernel is reported in the returned
    :class:`NotebookRun`, not raised; the partial ``output`` is kept. Safe to call from several
    threads at once: the kernel's working directory is passed to it, never ``chdir``'d.
    """
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    cwd = (cwd or notebook.parent).absolute()
    cwd.mkdir(parents=True, exist_ok=True)
    run = NotebookRun(output.absolute(), cwd)
    run.output.parent.mkdir(parents=True, exist_ok=True)
    os.environ[HEADLESS_ENV] = "1"  # the kernel inherits it: static charts, no widget state
    # ...and this, as a kernel Jupyter starts for a notebook does: the studies record it as the
    # notebook that made them (a sweep's threads all run the same notebook)
    os.environ[NOTEBOOK_ENV] = str(notebook.absolute())
    started = time.time()
    watcher = TrialWatcher(run.runs_dir, started) if progress else contextlib.nullcontext()
    try:
        with _papermill_warnings_off(), watcher:
            papermill.execute_notebook(
                str(notebook.absolute()), str(run.output), parameters=parameters or {},
                kernel_name=kernel, progress_bar=progress,
                resources={"metadata": {"path": str(cwd)}},
                kernel_manager_class=HeadlessKernelManager)
    except PapermillExecutionError as exc:
        run.status, run.cell, run.source = "failed", exc.exec_count, exc.source
        run.error = f"{exc.ename}: {exc.evalue}"
        if exc.ename == "StudyInterrupted":
            run.status = "interrupted"
    except DeadKernelError:
        run.status, run.error = "kernel died", "the kernel died"
        run.cell, run.source = running_cell(run.output)
    except OSError as exc:  # papermill saving the executed notebook: its disk full, say
        raise _not_written(exc, run) from None
    except Exception as exc:
        if type(exc).__name__ != "NoSuchKernel":
            raise
        raise AutomlError(_no_kernel(getattr(exc, "name", str(exc)))) from None
    run.duration = time.time() - started
    run.studies = studies_since(run.runs_dir, started)
    if run.ok and run.unfinished():
        run.status = "unfinished"
    return run


def _not_written(exc: OSError, run: NotebookRun) -> PathError:
    """The error of an executed notebook that could not be saved (papermill saves it after
    every cell; its write names no file): what to fix, and that the studies resume."""
    if exc.filename is None:
        exc.filename = str(run.output)
    error = path_error(exc)
    return type(error)(
        f"the executed notebook could not be saved: {error}. The finished trials of its "
        f"studies are kept in {run.runs_dir}; once that is fixed, run the same command "
        "again to resume them")


def check_kernel(notebook: Path, kernel: str | None) -> None:
    """Fail before any run when the kernel ``notebook`` would run in is not installed."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = kernel or nbformat.read(notebook, as_version=4).metadata.get("kernelspec", {}).get(
        "name")
    if name is None:  # papermill says what it needs
        return
    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise AutomlError(_no_kernel(name)) from None


def _no_kernel(name: str) -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
    return (f"there is no Jupyter kernel named {name!r} (installed: {known}); pick one with "
            "--kernel NAME, or install it (python -m ipykernel install --user --name NAME)")


def running_cell(output: Path) -> tuple[int | None, str]:
    """Execution count and source of the last cell papermill started in the ``output`` notebook."""
    import nbformat

    try:
        nb = nbformat.read(output, as_version=4)
    except (OSError, ValueError):
        return None, ""
    started = [c for c in nb.cells if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return None, ""
    return started[-1].get("execution_count"), started[-1].source


def studies_since(runs_dir: Path, started: float) -> list[AutomlResult]:
    """The studies under ``runs_dir`` whose spec was written at or after ``started``."""
    since = _dt.datetime.fromtimestamp(int(started))
    found = []
    for paths in list_study_folders(runs_dir):
        if _updated(paths) >= since:
            found.append(AutomlResult.load(paths.name, runs_dir))
    return found


def _updated(paths: StudyPaths) -> _dt.datetime:
    try:
        return _dt.datetime.fromisoformat(paths.read_spec().get("updated", "1970-01-01"))
    except ValueError:
        return _dt.datetime(1970, 1, 1)


# -- parameters ---------------------------------------------------------------------------------
def read_parameters_file(path: Path) -> dict[str, Any]:
    """The parameters of a YAML file holding a mapping ``name: value`` (``-f params.yaml``)."""
    data = read_yaml(path, "parameters file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AutomlError(f"parameters file {path} must hold a YAML mapping of parameter names "
                          f"to values, like 'n_trials: 20'; it holds a {type(data).__name__}")
    check_names(data, path)
    return data


def read_yaml(path: Path, what: str) -> Any:
    import yaml

    if not path.is_file():
        raise AutomlError(f"{what} {path} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise AutomlError(f"{what} {path} is not valid YAML: {exc}") from None


def check_names(parameters: dict[Any, Any], source: Path) -> None:
    """Every name must be a Python identifier: papermill writes ``name = value`` lines."""
    for name in parameters:
        if not isinstance(name, str) or not name.isidentifier():
            raise AutomlError(f"{source}: parameter name {name!r} is not a Python variable name; "
                              "use letters, digits and underscores, like n_trials")


def parameter_warnings(notebook: Path, names: list[str]) -> list[str]:
    """Warnings for parameters the notebook's ``parameters`` cell does not define."""
    import nbformat
    import papermill

    if not names:
        return []
    nb = nbformat.read(notebook, as_version=4)
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        return [f"{notebook} has no cell tagged 'parameters'; the parameters are set in a cell "
                "papermill adds at the top. Tag the cell that sets their defaults 'parameters'."]
    known = set(papermill.inspect_notebook(str(notebook)))
    return [f"parameter {name!r} is not set in the 'parameters' cell of {notebook} (it has: "
            f"{', '.join(sorted(known)) or 'none'}); it is passed anyway: check its spelling"
            for name in names if name not in known]


class _DropParameterWarnings(logging.Filter):
    """papermill's own unknown-parameter warnings: :func:`parameter_warnings` says it better."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Passed unknown parameter")
                    or "does not contain a cell with tag 'parameters'" in message)


@contextlib.contextmanager
def _papermill_warnings_off() -> Iterator[None]:
    logger = logging.getLogger("papermill")
    drop = _DropParameterWarnings()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


# -- watching the trials of a running study -------------------------------------------------------
def current_study(runs_dir: Path, started: float,
                  opened: dict[Path, AutomlResult] | None = None) -> StudySummary | None:
    """The summary of the study updated last at or after ``started``, None if none is (or it
    cannot be read now: being created, a hot journal after a crash; the next poll tries
    again). ``opened`` keeps the results read before, so a storage is opened once."""
    since = _dt.datetime.fromtimestamp(int(started))
    touched = [(_updated(p), p) for p in list_study_folders(runs_dir)]
    touched = [(when, p) for when, p in touched if when >= since]
    if not touched:
        return None
    paths = max(touched, key=lambda item: item[0])[1]
    opened = {} if opened is None else opened
    try:
        if paths.root not in opened:
            opened[paths.root] = load_result(paths.name, paths.root.parent)
        return opened[paths.root].summarize()
    except (AutomlError, KeyError):
        return None


class TrialWatcher:
    """A thread showing the trials of the study a headless run is running, every ``interval``.

    On a terminal it is a tqdm bar under papermill's bar of cells; otherwise (a log, CI) a line
    each time the figures change. Use it as a context manager around the run.
    """

    def __init__(self, runs_dir: Path, started: float, interval: float = POLL,
                 stream: Any = None) -> None:
        self.runs_dir = runs_dir
        self.started = started
        self.interval = interval
        self.stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="automl-trial-watcher",
                                        daemon=True)
        self._shown: StudySummary | None = None
        self._opened: dict[Path, AutomlResult] = {}
        self._bar: Any = None
        self._show: Callable[[StudySummary], None] = (
            self._show_bar if _isatty(self.stream) else self._show_line)

    def __enter__(self) -> TrialWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()  # the last figures, after the kernel is done
        if self._bar is not None:
            self._bar.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        try:
            progress = current_study(self.runs_dir, self.started, self._opened)
        except Exception:  # a folder or file half-written right now: the next poll sees it
            return
        if progress is not None and (self._shown is None or (
                progress.name, progress.progress_text) != (self._shown.name,
                                                           self._shown.progress_text)):
            self._show(progress)
            self._shown = progress

    def _show_line(self, progress: StudySummary) -> None:
        from tqdm import tqdm

        tqdm.write(progress.progress_text, file=self.stream)

    def _show_bar(self, progress: StudySummary) -> None:
        from tqdm import tqdm

        if self._bar is None or self._shown is None or self._shown.name != progress.name:
            if self._bar is not None:
                self._bar.close()
            # initial: a resumed study's earlier trials do not count in the rate
            self._bar = tqdm(total=progress.total, initial=progress.done, unit="trial",
                             desc=f"study {progress.name}", file=self.stream)
        self._bar.total = progress.total
        self._bar.n = progress.done
        best = progress.progress_text.partition(", ")[2]
        self._bar.set_postfix_str(best, refresh=False)
        self._bar.refresh()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def describe_unfinished(result: AutomlResult) -> str:
    """``study 'quad' stopped at 2/5 trials (it has --timeout 1s)``."""
    timeout = result.spec.get("timeout")
    why = f" (it has --timeout {format_duration(float(timeout))})" if timeout else ""
    return f"study {result.name!r} stopped at {result.done}/{result.total} trials{why}"
