"""The JupyterLab extension's settings schema (labextension/schema/plugin.json) against what it
names elsewhere: the server's export formats, and the commands the extension adds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jupyter_automl.deploy._formats import format_choices

LAB = Path(__file__).resolve().parents[2] / "labextension"
SCHEMA = json.loads((LAB / "schema" / "plugin.json").read_text())


def test_the_default_export_format_offers_the_servers_formats() -> None:
    offered = [{"id": choice["const"], "label": choice["title"]}
               for choice in SCHEMA["properties"]["defaultExportFormat"]["oneOf"]]
    assert offered == format_choices(), (
        "labextension/schema/plugin.json: defaultExportFormat's oneOf must list the server's "
        "export formats (deploy/_formats.py's format_choices(), as const/title pairs, in order)")
    assert SCHEMA["properties"]["defaultExportFormat"]["default"] in [c["id"] for c in offered]


def commands_in(item: Any) -> list[str]:
    if isinstance(item, dict):
        own = [item["command"]] if isinstance(item.get("command"), str) else []
        return own + [c for value in item.values() for c in commands_in(value)]
    if isinstance(item, list):
        return [c for value in item for c in commands_in(value)]
    return []


def test_the_menus_and_toolbar_name_commands_the_extension_adds() -> None:
    source = (LAB / "src" / "commands.ts").read_text()
    added = set(re.findall(r"export const \w+ = '(jupyter-automl:[\w-]+)'", source))
    placed = commands_in([SCHEMA["jupyter.lab.menus"], SCHEMA["jupyter.lab.toolbars"]])
    assert placed and set(placed) <= added, set(placed) - added
