"""The runs folder: where a study's storage, spec, setup cells, trial checkpoints and best model
live, next to the notebook::

    automl_runs/<study>/study.db  spec.json  setup/  trials/<number>/  best/  runners/
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._io import read_json, write_json


@dataclass(frozen=True)
class StudyPaths:
    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def db(self) -> Path:
        return self.root / "study.db"

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def setup(self) -> Path:
        return self.root / "setup"

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    @property
    def best(self) -> Path:
        return self.root / "best"

    @property
    def runners(self) -> Path:
        return self.root / "runners"

    def trial(self, number: int) -> Path:
        return self.trials / str(number)

    def read_spec(self) -> dict[str, Any]:
        return read_json(self.spec) or {}

    def write_spec(self, spec: dict[str, Any]) -> None:
        write_json(self.spec, spec)


def study_paths(runs_dir: str | Path, name: str) -> StudyPaths:
    return StudyPaths(Path(runs_dir).expanduser().absolute() / name)


def keep_aside(paths: StudyPaths) -> Path | None:
    """Rename an existing study folder to ``<name>.old-<timestamp>``; never deletes anything."""
    if not paths.root.exists():
        return None
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = paths.root.with_name(f"{paths.name}.old-{stamp}")
    suffix = 1
    while target.exists():
        suffix += 1
        target = paths.root.with_name(f"{paths.name}.old-{stamp}-{suffix}")
    paths.root.rename(target)
    return target


def list_study_folders(runs_dir: str | Path) -> list[StudyPaths]:
    """Study folders under ``runs_dir`` (those with a spec), kept-aside ones excluded."""
    root = Path(runs_dir).expanduser().absolute()
    if not root.is_dir():
        return []
    return [StudyPaths(p) for p in sorted(root.iterdir())
            if (p / "spec.json").exists() and ".old-" not in p.name]
