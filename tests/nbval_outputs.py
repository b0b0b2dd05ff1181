"""Keep the tutorials nbval executes, with their outputs, for the documentation site.

``make real`` (and ``make notebooks``) run copies of ``notebooks/`` under nbval, in
``build/nbval/``: every cell in a real kernel, which is minutes of training the site should
not pay again. nbval checks the outputs but keeps none of them, and drops the messages a
display handle sends (``update_display_data``: the progress line of a study). This plugin
reads the same kernel messages nbval reads, builds each cell's outputs from them as nbclient
does (a display updated in place, cleared, streams joined), and, once every cell of a
tutorial has passed, writes ``build/executed/NAME.ipynb``; ``docs/tutorials.py`` renders it.
A tutorial that fails leaves no executed copy. The tutorials' kernels are told they are
headless, so a study shows static charts (a saved notebook holds no widget state).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

RECORD = "_automl_messages"
HEADLESS_ENV = "JUPYTER_AUTOML_HEADLESS"  # jupyter_automl.ui._where: static output, no widgets


def pytest_configure(config: pytest.Config) -> None:
    try:
        import nbval.kernel
        import nbval.plugin
    except ImportError:
        return
    _headless(nbval.kernel)
    _record_messages(nbval.kernel.RunningKernel)
    _keep_outputs(nbval.plugin.IPyNbCell)
    _write_when_done(nbval.plugin.IPyNbFile, config)


def _headless(kernel_module: Any) -> None:
    """The tutorials' kernels show a study as a kernel driven by a program does (static
    charts, no widget state), as they do under a single pytest: under xdist their parent is an
    execnet worker, which jupyter_automl cannot tell from a person's front end."""
    if getattr(kernel_module, "_automl_headless", False):
        return
    start = kernel_module.start_new_kernel

    def headless_start(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("env", {**os.environ, HEADLESS_ENV: "1"})
        return start(*args, **kwargs)

    kernel_module.start_new_kernel = headless_start
    kernel_module._automl_headless = True


def _record_messages(kernel_class: Any) -> None:
    """Every message nbval reads from a kernel, and the id of each cell's execute request."""
    if getattr(kernel_class, "_automl_recorded", False):
        return
    get_message, execute = kernel_class.get_message, kernel_class.execute_cell_input

    def recorded_get_message(self: Any, stream: str, timeout: float | None = None) -> Any:
        msg = get_message(self, stream, timeout=timeout)
        if stream == "iopub":
            self.__dict__.setdefault(RECORD, []).append(msg)
        return msg

    def recorded_execute(self: Any, cell_input: str, allow_stdin: Any = None) -> Any:
        self._automl_msg_id = execute(self, cell_input, allow_stdin=allow_stdin)
        return self._automl_msg_id

    kernel_class.get_message = recorded_get_message
    kernel_class.execute_cell_input = recorded_execute
    kernel_class._automl_recorded = True


def _keep_outputs(cell_class: Any) -> None:
    if getattr(cell_class, "_automl_kept", False):
        return
    runtest = cell_class.runtest

    def kept_runtest(self: Any) -> None:
        notebook = self.parent
        kernel = notebook.kernel
        start = len(kernel.__dict__.get(RECORD, [])) if kernel is not None else 0
        state: _State = notebook.__dict__.setdefault("_automl_state", _State())
        passed = False
        try:
            runtest(self)
            passed = True
        except pytest.skip.Exception:
            passed = True
            raise
        finally:
            if kernel is not None:
                state.cell_done(self.cell_num, kernel, start, passed)

    cell_class.runtest = kept_runtest
    cell_class._automl_kept = True


class _State:
    """The outputs of one notebook's cells, built from the kernel's messages."""

    def __init__(self) -> None:
        self.outputs: dict[int, list[Any]] = {}
        self.failed = False
        self.displays: dict[str, list[Any]] = {}  # display_id -> the outputs showing it

    def cell_done(self, number: int, kernel: Any, start: int, passed: bool) -> None:
        import nbformat

        messages = kernel.__dict__.get(RECORD, [])[start:]
        msg_id = getattr(kernel, "_automl_msg_id", None)
        outputs: list[Any] = []
        clear_pending = False
        for msg in messages:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "update_display_data":
                self._update(content)
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if kind == "clear_output":
                if content.get("wait"):
                    clear_pending = True
                else:
                    outputs.clear()
            elif kind in ("stream", "display_data", "execute_result", "error"):
                if clear_pending:
                    outputs.clear()
                    clear_pending = False
                output = nbformat.v4.output_from_msg(msg)
                if kind == "stream" and outputs and outputs[-1].get("name") == output.name \
                        and outputs[-1].output_type == "stream":
                    outputs[-1].text += output.text
                    continue
                display_id = (content.get("transient") or {}).get("display_id")
                if display_id:
                    self.displays.setdefault(display_id, []).append(output)
                outputs.append(output)
        self.outputs[number] = outputs
        self.failed = self.failed or not passed

    def _update(self, content: dict[str, Any]) -> None:
        display_id = (content.get("transient") or {}).get("display_id")
        for output in self.displays.get(display_id or "", []):
            output["data"] = content.get("data", {})
            output["metadata"] = content.get("metadata", {})


def _write_when_done(file_class: Any, config: pytest.Config) -> None:
    if getattr(file_class, "_automl_written", False):
        return
    teardown = file_class.teardown

    def written_teardown(self: Any) -> None:
        try:
            teardown(self)
        finally:
            _write(self, config)

    file_class.teardown = written_teardown
    file_class._automl_written = True


def _write(notebook_file: Any, config: pytest.Config) -> None:
    """build/executed/NAME.ipynb for a tutorial of build/nbval/ whose cells all passed."""
    import nbformat

    path = Path(str(notebook_file.fspath)).resolve()
    root = Path(config.rootpath).resolve()
    folder = os.environ.get("AUTOML_EXECUTED_DIR")  # another folder: any notebook, to it
    if folder is None and path.parent != root / "build" / "nbval":
        return
    target = Path(folder or root / "build" / "executed") / path.name
    state = notebook_file.__dict__.get("_automl_state")
    code = [cell for cell in notebook_file.nb.cells if cell.cell_type == "code"]
    if state is None or state.failed or len(state.outputs) != len(code):
        target.unlink(missing_ok=True)  # no stale copy of a tutorial that did not pass
        return
    nb = nbformat.from_dict(notebook_file.nb)
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(cells):
        cell.outputs = state.outputs[number]
        cell.execution_count = number + 1  # nbval's requests keep no history: all say 1
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    nbformat.write(nb, partial)
    partial.replace(target)
