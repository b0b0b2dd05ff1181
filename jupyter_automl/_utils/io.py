"""Small file helpers: atomic writes so that a kill at any moment leaves old or new, never half."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .failpoints import hit


def write_atomic(path: Path, data: bytes, failpoint: str | None = None) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, then a rename.
    ``failpoint``: the name of the failpoints ``NAME.write`` (the temporary file written) and
    ``NAME.rename`` (between the write and the rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if failpoint:
                hit(f"{failpoint}.write")
            f.write(data)
        if failpoint:
            hit(f"{failpoint}.rename")
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:  # a failed write names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any, failpoint: str | None = None) -> None:
    write_atomic(path, json_text(obj).encode(), failpoint)


def json_text(obj: Any) -> str:
    """``obj`` as JSON, NumPy scalars as numbers (as every JSON file of a study is written)."""
    return json.dumps(obj, indent=1, default=_jsonable)


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
