"""Small file helpers: atomic writes so that a kill at any moment leaves old or new, never half."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=1, default=_jsonable).encode())


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or ``None`` when it is missing or unreadable (e.g. corrupt)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):  # NumPy scalars
        return obj.item()
    return repr(obj)
