"""``%%automl --edit``: the space builder on the cell's own ``hp`` calls, written back into it.

A magic cannot wait for a click: the kernel handles widget messages only while a cell
*awaits* (ipykernel 7+). So ``%load_ext`` adds an input transformer that turns an
``%%automl ... --edit`` cell into ``await ...edit_cell(<cell>)``: it shows the builder and
awaits "Write to cell" (or Cancel). The new source then replaces the cell through the same
``set_next_input(replace=True)`` payload that ``%load`` uses, with ``--edit`` dropped from
its magic line, ready to run.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Callable
from typing import Any

from .engine import parse_options
from .errors import AutomlError
from .runs import DEFAULT_RUNS_DIR
from .ui import in_kernel

_EDIT = re.compile(r"\s--edit(?=\s|$)")


def transform(lines: list[str]) -> list[str]:
    """IPython input transformer: an ``%%automl ... --edit`` cell becomes an awaited edit."""
    if not lines or not lines[0].startswith("%%automl ") or "--edit" not in lines[0]:
        return lines
    try:
        words = shlex.split(lines[0])
    except ValueError:
        return lines  # the magic reports the bad line itself
    if "--edit" not in words:
        return lines
    source = "".join(lines)
    call = "__import__('jupyter_automl._edit', fromlist=['edit_cell']).edit_cell"
    return [f"await {call}({source!r})\n"]


def without_edit(source: str) -> str:
    """``source`` with ``--edit`` removed from its magic line."""
    first, newline, rest = source.partition("\n")
    return _EDIT.sub("", first) + newline + rest


async def edit_cell(source: str, on_shown: Callable[[Any], None] | None = None) -> None:
    """Show the builder for ``source``; when "Write to cell" is clicked, replace the cell.

    ``on_shown`` receives the builder once it is displayed (tests click through it).
    """
    from IPython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    _check_front_end(shell, on_shown)
    magic = shell.magics_manager.registry.get("Automl") if shell is not None else None
    line = without_edit(source).partition("\n")[0][len("%%automl"):]
    options = parse_options(line, default_runs_dir=getattr(magic, "runs_dir", DEFAULT_RUNS_DIR))
    written = asyncio.get_running_loop().create_future()
    view = _view(source, options.runs_dir, written)
    display(view)
    if on_shown is not None:
        on_shown(view.builder)
    new_source = await written
    view.close()
    if new_source is None:
        print("--edit cancelled: the cell is unchanged")
        return
    shell.set_next_input(without_edit(new_source), replace=True)
    print("the edited space is written into the cell (without --edit): run it to tune")


def _view(source: str, runs_dir: str, written: asyncio.Future[str | None]) -> Any:
    import ipywidgets as w

    from .ui.space_builder import SpaceBuilder

    def resolve(value: str | None) -> None:
        if not written.done():
            written.set_result(value)

    builder = SpaceBuilder(source=source, runs_dir=runs_dir, on_write=resolve)
    cancel = w.Button(description="Cancel", tooltip="leave the cell as it is")
    cancel.on_click(lambda _: resolve(None))
    note = w.HTML("Edit the ranges, then <b>Write to cell</b>; <b>Save as...</b> keeps the "
                  "space for <code>--space NAME</code>.")
    view = w.VBox([note, builder, cancel])
    view.builder = builder  # type: ignore[attr-defined]
    return view


def _check_front_end(shell: Any, on_shown: Any) -> None:
    if on_shown is not None:
        return
    if shell is None or not in_kernel():
        raise AutomlError("--edit shows a form and waits for its 'Write to cell' button: it needs "
                          "a live Jupyter front end (JupyterLab, Notebook 7, VS Code)")
    import ipykernel

    if int(ipykernel.__version__.split(".")[0]) < 7:
        raise AutomlError(f"--edit needs ipykernel 7 or newer (this kernel has "
                          f"{ipykernel.__version__}): pip install -U ipykernel")
