"""Finding what a headless run produced."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from .results import AutomlResult
from .runs import list_study_folders


def studies_since(runs_dir: Path, started: float) -> list[AutomlResult]:
    """The studies under ``runs_dir`` whose spec was written at or after ``started``."""
    since = _dt.datetime.fromtimestamp(int(started))
    found = []
    for paths in list_study_folders(runs_dir):
        spec = paths.read_spec()
        if spec and _dt.datetime.fromisoformat(spec.get("updated", "1970-01-01")) >= since:
            found.append(AutomlResult.load(paths.name, runs_dir))
    return found
