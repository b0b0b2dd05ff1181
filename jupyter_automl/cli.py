"""``jupyter-automl``: run tuning notebooks headlessly with papermill and report their studies.

Each subcommand maps option for option onto a library function.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path
from typing import Any

from .display import HEADLESS_ENV
from .errors import AutomlError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
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
                     metavar=("NAME", "VALUE"), help="a notebook parameter (repeatable)")
    run.add_argument("--output", type=Path, default=None,
                     help="executed notebook (default: NB.out.ipynb beside NB)")
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    run.add_argument("--cwd", type=Path, default=None,
                     help="working directory of the kernel (default: the notebook's folder); "
                          "the runs folder is created there")
    run.set_defaults(func=_run)
    studies = sub.add_parser("studies", help="list the studies under a runs folder")
    studies.add_argument("runs_dir", nargs="?", default="automl_runs")
    studies.set_defaults(func=_studies)
    from . import cli_study

    cli_study.add_commands(sub)
    return parser


def _run(args: argparse.Namespace) -> int:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .batch import studies_since

    notebook: Path = args.notebook
    if not notebook.exists():
        raise AutomlError(f"notebook {notebook} does not exist")
    output = args.output or notebook.with_suffix(".out.ipynb")
    cwd = (args.cwd or notebook.parent).absolute()
    cwd.mkdir(parents=True, exist_ok=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    parameters = {name: parse_value(value) for name, value in args.parameter}
    os.environ[HEADLESS_ENV] = "1"  # the kernel inherits it: static charts, no widget state
    started = time.time()
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   kernel_name=args.kernel, cwd=str(cwd), progress_bar=True)
    except PapermillExecutionError as exc:
        print(f"\nnotebook failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}",
              file=sys.stderr)
        print(f"partial output notebook: {output.absolute()}", file=sys.stderr)
        return 1
    ok = True
    for result in studies_since(cwd / "automl_runs", started):
        print(f"\n{result.summary()}")
        ok &= result.done >= result.total
    print(f"\nexecuted notebook: {output.absolute()}")
    print(f"runs folder: {(cwd / 'automl_runs').absolute()}")
    return 0 if ok else 1


def _studies(args: argparse.Namespace) -> int:
    from .catalog import list_text

    print(list_text(args.runs_dir))
    return 0


def parse_value(text: str) -> Any:
    """A parameter value as papermill's CLI reads it: a Python literal if it is one, else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


if __name__ == "__main__":
    sys.exit(main())
