"""``jupyter-automl``: run tuning notebooks headlessly with papermill and report their studies.

Each subcommand maps option for option onto a library function.
"""

from __future__ import annotations

import argparse
import ast
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AutomlError

INTERRUPTED = 130  # the exit code of a run stopped by Ctrl-C, as shells give it

if TYPE_CHECKING:
    from ..batch import _run as batch


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Said back in "run the same command again to resume" messages.
    args.command_line = shlex.join(["jupyter-automl", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except AutomlError as exc:
        print(f"jupyter-automl: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter-automl",
                                     description="Run AutoML notebooks headlessly.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a notebook with papermill and report its studies")
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
    run.set_defaults(func=_run)
    sweep = sub.add_parser("sweep", help="run a notebook once per point of a parameter grid")
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
    sweep.set_defaults(func=_sweep)
    studies = sub.add_parser("studies", help="list the studies under a runs folder")
    studies.add_argument("runs_dir", nargs="?", default="automl_runs")
    studies.set_defaults(func=_studies)
    from . import _study as cli_study

    cli_study.add_commands(sub)
    return parser


def _kernel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")


def _run(args: argparse.Namespace) -> int:
    from ..batch import _run as batch
    from ..batch._headless_kernel import forward_interrupts

    notebook: Path = args.notebook
    if not notebook.exists():
        raise AutomlError(f"notebook {notebook} does not exist")
    parameters = batch.read_parameters_file(args.parameters_file) \
        if args.parameters_file else {}
    parameters.update({name: parse_value(value) for name, value in args.parameter})
    batch.check_kernel(notebook, args.kernel)
    for warning in batch.parameter_warnings(notebook, list(parameters)):
        print(f"jupyter-automl: warning: {warning}", file=sys.stderr)
    with forward_interrupts():
        run = batch.run_notebook(notebook, args.output or notebook.with_suffix(".out.ipynb"),
                                 parameters, kernel=args.kernel, cwd=args.cwd, progress=True)
    _report(run, args.command_line)
    return 0 if run.ok else INTERRUPTED if run.status == "interrupted" else 1


def _report(run: batch.NotebookRun, command: str) -> None:
    from ..batch._run import describe_unfinished

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


def _sweep(args: argparse.Namespace) -> int:
    from ..batch._headless_kernel import forward_interrupts
    from ..batch._sweep import run_sweep

    if not args.notebook.exists():
        raise AutomlError(f"notebook {args.notebook} does not exist")
    if args.parallel < 1:
        raise AutomlError(f"--parallel {args.parallel}: give at least 1 point at a time")
    with forward_interrupts():
        results = run_sweep(args.notebook, args.grid, parallel=args.parallel,
                            output_dir=args.output_dir, kernel=args.kernel)
    return 0 if all(r.ok for r in results) else 1


def _studies(args: argparse.Namespace) -> int:
    from ..results._catalog import list_text

    print(list_text(args.runs_dir))
    return 0


def parse_value(text: str) -> Any:
    """A parameter value as papermill's CLI reads it: a Python literal if it is one, else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text

