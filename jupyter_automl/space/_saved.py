"""Saved search spaces: ``<runs_dir>/spaces/<name>.json``, next to the studies.

A space built once (in the space builder, or read from a cell) can be reused by other cells
and notebooks. Files are written atomically and checked with the ``hp`` rules both ways, so a
hand-edited file that cannot be sampled fails on load with the same message as in a cell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._utils.io import read_json, write_json
from ..errors import SpaceError
from ._hp import ParamSpec, check_space

FOLDER = "spaces"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def folder(runs_dir: str | Path) -> Path:
    """Where the saved spaces of ``runs_dir`` live (its study folders ignore it: no spec)."""
    return Path(runs_dir).expanduser().absolute() / FOLDER


def save(runs_dir: str | Path, name: str, specs: Sequence[ParamSpec]) -> Path:
    """Write ``specs`` as the space ``name``; an existing one of that name is replaced."""
    path = _path(runs_dir, name)
    check_space(list(specs))
    write_json(path, {"name": name, "params": [_to_dict(s) for s in specs]})
    return path


def load(runs_dir: str | Path, name: str) -> list[ParamSpec]:
    """The space saved as ``name``; the error lists the saved ones when it is missing."""
    path = _path(runs_dir, name)
    if not path.exists():
        saved = names(runs_dir)
        listing = f"saved spaces: {', '.join(saved)}" if saved else "none is saved there yet"
        raise SpaceError(f"no saved space {name!r} in {path.parent}; {listing}")
    data = read_json(path)
    params = data.get("params") if isinstance(data, dict) else None
    if not isinstance(params, list) or not all(isinstance(p, dict) for p in params):
        raise SpaceError(f"the saved space {path} is unreadable (not a space file); "
                         "save it again or delete it")
    specs = [_from_dict(p, path) for p in params]
    check_space(specs)
    return specs


def names(runs_dir: str | Path) -> list[str]:
    """Names of the saved spaces, sorted."""
    root = folder(runs_dir)
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.glob("*.json") if _NAME.fullmatch(p.stem))


def _path(runs_dir: str | Path, name: str) -> Path:
    """The file of ``name``; a name must be a plain file name, never a path out of the folder."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpaceError(f"space name {name!r} must be letters, digits, '_', '-' or '.', "
                         "not starting with '.' or '-'")
    return folder(runs_dir) / f"{name}.json"


def _to_dict(spec: ParamSpec) -> dict[str, Any]:
    """The spec without its cell line (meaningless elsewhere).

    ``exact`` and a fixed value are kept explicitly: ``to_dict`` drops False and None values.
    """
    data = spec.to_dict()
    data.pop("line", None)
    data["exact"] = spec.exact
    if spec.kind == "fixed":
        data["value"] = spec.value
    return data


def _from_dict(data: dict[str, Any], path: Path) -> ParamSpec:
    if not isinstance(data.get("name"), str) or not isinstance(data.get("kind"), str):
        raise SpaceError(f"the saved space {path} has a parameter without a name or kind: "
                         f"{data!r}; save it again")
    return ParamSpec.from_dict({k: v for k, v in data.items() if k != "line"})
