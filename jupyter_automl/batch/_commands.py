"""``jupyter-automl run`` and ``sweep`` as commands: their arguments, and how a run is
reported on the terminal (its studies, where it failed, how to resume it) and what its exit
status says. The verbs' table (:mod:`jupyter_automl._verbs`) names these."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Any

from ..errors import AutomlError
from ._headless_kernel import forward_interrupts
from ._run import (
    NotebookRun,
    check_kernel,
    describe_unfinished,
    parameter_warnings,
    read_parameters_file,
    run_notebook,
)
from ._sweep import run_sweep

INTERRUPTED = 130  # the exit code of a run stopped by Ctrl-C, as shells give it


def run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("notebook", type=Path)
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"),
                     help="a notebook parameter (repeatable; overrides the parameters file)")
    run.add_argument("-f", "--parameters-file", type=Path, default=None, metavar="PARAMS.yaml",
                     help="a YAML mapping of notebook parameters, like 'n_trials: 20'")
    run.add_argument("--output", type=Path, default=None,
                     help="executed notebook (default: NB.out.ipynb beside NB)")
    _kernel_options(run)
    run.add_argument("--cwd", type=Path, default=None,
                     help="working directory of the kernel (default: the notebook's folder); "
                          "the runs folder is created there")


def sweep_arguments(sweep: argparse.ArgumentParser) -> None:
    sweep.add_argument("notebook", type=Path)
    sweep.add_argument("--grid", type=Path, required=True, metavar="PARAMS.yaml",
                       help="a YAML mapping of parameter names to lists of values (their "
                            "product is the grid), or 'points:', a list of mappings, one a point")
    sweep.add_argument("--parallel", type=int, default=1, metavar="K",
                       help="points run at a time (default 1)")
    sweep.add_argument("--output-dir", type=Path, default=None, metavar="DIR",
                       help="folder of the points and the summary (default: NB_sweep/ beside "
                            "NB)")
    _kernel_options(sweep)


def _kernel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")


def run_command(args: argparse.Namespace) -> int:
    """``jupyter-automl run``: the notebook run, its studies reported; the exit status says
    how it ended (0 finished, 130 interrupted, 1 otherwise)."""
    notebook: Path = args.notebook
    if not notebook.exists():
        raise AutomlError(f"notebook {notebook} does not exist")
    parameters = read_parameters_file(args.parameters_file) if args.parameters_file else {}
    parameters.update({name: parse_value(value) for name, value in args.parameter})
    check_kernel(notebook, args.kernel)
    for warning in parameter_warnings(notebook, list(parameters)):
        print(f"jupyter-automl: warning: {warning}", file=sys.stderr)
    with forward_interrupts():
        run = run_notebook(notebook, args.output or notebook.with_suffix(".out.ipynb"),
                           parameters, kernel=args.kernel, cwd=args.cwd, progress=True)
    _report(run, args.command_line)
    return 0 if run.ok else INTERRUPTED if run.status == "interrupted" else 1


def _report(run: NotebookRun, command: str) -> None:
    for result in run.studies:
        print(f"\n{result.summary()}")
    if run.status == "failed":
        _print_cell(f"notebook failed in cell {run.cell}: {run.error}", run.source)
    elif run.status == "interrupted":
        print(f"\ninterrupted in cell {run.cell}: {run.error}", file=sys.stderr)
        print(f"run the same command again to resume:\n  {command}", file=sys.stderr)
    elif run.status == "kernel died":
        _print_cell(f"the kernel died in cell {run.cell} (killed, or out of memory)", run.source)
        print(f"finished trials are kept, and a trial that was running is retried from its last "
              f"checkpoint: run the same command again to resume:\n  {command}", file=sys.stderr)
    for result in run.unfinished() if run.status == "unfinished" else []:
        print(f"\n{describe_unfinished(result)}; run the same command again to continue it:"
              f"\n  {command}", file=sys.stderr)
    label = "executed notebook" if run.status in ("finished", "unfinished") \
        else "partial output notebook"
    print(f"\n{label}: {run.output}")
    print(f"runs folder: {run.runs_dir}")


def _print_cell(headline: str, source: str, lines: int = 6) -> None:
    print(f"\n{headline}", file=sys.stderr)
    shown = source.splitlines()
    for line in shown[:lines]:
        print(f"  | {line}", file=sys.stderr)
    if len(shown) > lines:
        print(f"  | ... ({len(shown) - lines} more lines)", file=sys.stderr)


def sweep_command(args: argparse.Namespace) -> int:
    """``jupyter-automl sweep``: every point run; the exit status is 0 when all finished."""
    if not args.notebook.exists():
        raise AutomlError(f"notebook {args.notebook} does not exist")
    if args.parallel < 1:
        raise AutomlError(f"--parallel {args.parallel}: give at least 1 point at a time")
    with forward_interrupts():
        results = run_sweep(args.notebook, args.grid, parallel=args.parallel,
                            output_dir=args.output_dir, kernel=args.kernel)
    return 0 if all(r.ok for r in results) else 1


def parse_value(text: str) -> Any:
    """A parameter value as papermill's CLI reads it: a Python literal if it is one, else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
