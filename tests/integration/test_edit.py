"""--space NAME and --edit: saved spaces drive studies; the builder writes back into the cell."""

from __future__ import annotations

import asyncio
import json
import queue
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import study_of

from jupyter_automl._edit import edit_cell, transform, without_edit
from jupyter_automl.errors import SpaceError
from jupyter_automl.space import _saved as spaces
from jupyter_automl.space._hp import ParamSpec

CELL = '%%automl ed --trials 3 --edit\nx = hp.int("x", 1, 3)  # depth\nx * 1.0\n'


def test_a_saved_space_replaces_the_cells_ranges(ip: Any, tmp_path: Path) -> None:
    spaces.save(tmp_path / "runs", "wide", [ParamSpec("x", "int", low=100, high=200)])
    ip.run_cell_magic("automl", "sp --trials 5 --space wide", 'x = hp.float("x", 0, 1)\nx')
    trials = study_of(tmp_path / "runs", "sp").trials
    assert all(isinstance(t.params["x"], int) and 100 <= t.params["x"] <= 200 for t in trials)
    spec = json.loads((tmp_path / "runs" / "sp" / "spec.json").read_text())
    assert spec["space_name"] == "wide" and spec["space"][0]["low"] == 100
    with pytest.raises(SpaceError, match="no saved space 'narrow'.*wide"):
        ip.run_cell_magic("automl", "sp --trials 6 --space narrow", 'hp.float("x", 0, 1)')


def test_edit_cells_become_an_awaited_builder() -> None:
    lines = CELL.splitlines(keepends=True)
    (line,) = transform(lines)
    assert line.startswith("await __import__('jupyter_automl._edit', fromlist=['edit_cell'])"
                           ".edit_cell(")
    assert "'%%automl ed --trials 3 --edit\\n" in line
    assert transform(["%%automl ed --trials 3\n", "x = 1\n"]) == ["%%automl ed --trials 3\n",
                                                                 "x = 1\n"]
    assert transform(["x = '--edit'\n"]) == ["x = '--edit'\n"]
    assert without_edit(CELL).splitlines()[0] == "%%automl ed --trials 3"


def test_write_to_cell_replaces_the_cell(ip: Any) -> None:
    def write(builder: Any) -> None:
        builder.rows[0].high.value = "9"
        builder.write_button.click()

    asyncio.run(edit_cell(CELL, on_shown=write))
    assert ip.rl_next_input == '%%automl ed --trials 3\nx = hp.int("x", 1, 9)  # depth\nx * 1.0\n'


@pytest.mark.slow
def test_edit_in_a_real_kernel_waits_for_the_click(kernels: Any) -> None:
    kernel = kernels()
    assert kernel.execute("%load_ext jupyter_automl").status == "ok"
    msg_id = kernel.submit(CELL)
    buttons: dict[str, str] = {}
    values: dict[str, str] = {}  # text field comm -> its value, as a front end would track it
    shown = False
    deadline = time.monotonic() + 60
    while not shown and time.monotonic() < deadline:
        try:
            msg = kernel.kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        content = msg["content"]
        if msg["msg_type"] in ("comm_open", "comm_msg"):
            state = content["data"].get("state", {})
            if state.get("_model_name") == "ButtonModel":
                buttons[state["description"]] = content["comm_id"]
            if "value" in state and isinstance(state["value"], str):
                values[content["comm_id"]] = state["value"]
        shown = msg["msg_type"] == "display_data"
    rows = [comm for comm, value in values.items() if value == "3"]
    assert "Write to cell" in buttons and rows, buttons
    # what a front end sends: the "high" field edited to 9, then a click on "Write to cell"
    for comm_id, data in ((rows[0], {"method": "update", "state": {"value": "9"},
                                     "buffer_paths": []}),
                          (buttons["Write to cell"], {"method": "custom",
                                                      "content": {"event": "click"}})):
        kernel.kc.shell_channel.send(kernel.kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": data}))
    reply = kernel.kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.kc.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok"
    (payload,) = reply["content"]["payload"]
    assert payload["source"] == "set_next_input" and payload["replace"] is True
    assert payload["text"] == '%%automl ed --trials 3\nx = hp.int("x", 1, 9)  # depth\nx * 1.0\n'


def test_space_builder_is_exported_lazily(ip: Any, tmp_path: Path) -> None:
    import jupyter_automl

    builder = jupyter_automl.SpaceBuilder(runs_dir=tmp_path)
    builder.add_row(ParamSpec("lr", "float", low=1e-4, high=1e-1, log=True))
    assert builder.to_code() == 'lr = hp.float("lr", 0.0001, 0.1, log=True)\n'
