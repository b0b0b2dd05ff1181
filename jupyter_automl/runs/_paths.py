"""The runs folder: where a study's storage, spec, setup cells, trial checkpoints and best model
live, next to the notebook::

    automl_runs/<study>/study.db  spec.json  setup/  trials/<number>/  best/  runners/

``stop.request`` appears there when something outside the runner (JupyterLab's AutoML sidebar)
asks the study to stop: every runner of the folder, and its local worker kernels, stop the way
the panel's Stop does.

With ``--checkpoint-dir DIR`` the trials' folders are ``DIR/<study>/trials/<number>/`` instead.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._utils.io import read_json, write_json

DEFAULT_RUNS_DIR = "automl_runs"  # next to the notebook (the kernel's working directory)
CHECKPOINT = "checkpoint.npz"  # in a trial's folder: weights, optimizer state, epoch
STATE = "state.json"  # in a trial's folder: per-epoch logs, best epoch, peak memory
MODEL = "model.keras"  # a trial's or the best model
# set by Jupyter in the environment of a notebook's kernel (and by ``jupyter-automl run``): the
# notebook's path, which the study's spec records as the notebook that made it
NOTEBOOK_ENV = "JPY_SESSION_NAME"
# the user attribute of a trial added from another study by --warm-start (the study's name): an
# observation for the sampler, not one of this study's trials when they are counted
WARM_START = "warm_start"
# the user attribute of a trial failed because it lost its runner (a dead kernel, an interrupt,
# Stop): why, in words. Such a trial is retried; the study did not fail on it
LOST = "failed_because"
# the user attribute of a trial discarded by hand (``%automl discard``): its state FAIL, so that
# no best, total or sampler counts it; the attribute keeps why, who, when, and its state and
# values before (``--undo`` puts them back)
DISCARDED = "discarded"
# the user attribute of a trial queued by ``%automl rerun``: the trial whose parameters it
# runs again (a queued rerun runs even when the study has reached its total)
RERUN_OF = "rerun_of"


@dataclass(frozen=True)
class StudyPaths:
    """Every file of a study: its folder's layout, in one place."""

    root: Path
    # --checkpoint-dir: the trials' folders live in checkpoint_dir/<study>/trials (a shared disk,
    # so that another machine can resume a trial) instead of the study's own folder
    checkpoint_dir: Path | None = None

    @classmethod
    def at(cls, root: Path, checkpoint_dir: str | Path | None = None) -> StudyPaths:
        """The study folder ``root``; its checkpoint folder as given, else as its spec says."""
        if checkpoint_dir is None:
            checkpoint_dir = (read_json(root / "spec.json") or {}).get("checkpoint_dir")
        return cls(root, None if checkpoint_dir is None
                   else Path(checkpoint_dir).expanduser().absolute())

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
        if self.checkpoint_dir is not None:
            return self.checkpoint_dir / self.name / "trials"
        return self.root / "trials"

    @property
    def best(self) -> Path:
        return self.root / "best"

    @property
    def runners(self) -> Path:
        return self.root / "runners"

    @property
    def stop_request(self) -> Path:
        """Present while the study is asked to stop (see :func:`request_stop`)."""
        return self.root / "stop.request"

    @property
    def edits(self) -> Path:
        """Touched when a trial is discarded or its discard taken back (``%automl
        discard``): the study's runners then read its counts and best again."""
        return self.root / "edits.stamp"

    def edits_stamp(self) -> int:
        """When a trial was last edited by hand (0: never)."""
        try:
            return self.edits.stat().st_mtime_ns
        except OSError:
            return 0

    def trial(self, number: int) -> Path:
        return self.trials / str(number)

    def space_needed(self) -> int:
        """Bytes a run needs free to go on: two copies of its largest trial folder (a
        checkpoint is written beside the one it replaces) and study.db's size (its journal)."""
        largest = 0
        try:
            for folder in os.scandir(self.trials):
                with contextlib.suppress(OSError):
                    largest = max(largest, sum(f.stat().st_size for f in os.scandir(folder)
                                               if f.is_file()))
        except OSError:
            pass
        try:
            db = self.db.stat().st_size
        except OSError:
            db = 0
        return 2 * largest + db

    def checkpoint(self, number: int) -> Path:
        return self.trial(number) / CHECKPOINT

    def trial_model(self, number: int) -> Path:
        """Where a worker kernel leaves a finished trial's model for the driver to copy."""
        return self.trial(number) / MODEL

    def best_model(self, number: int | None = None) -> Path:
        """``best/model.keras`` (one objective), or trial ``number``'s of the Pareto front."""
        return self.best / MODEL if number is None else self.best / str(number) / MODEL

    @property
    def best_params(self) -> Path:
        return self.best / "params.json"

    def front_models(self) -> dict[int, Path]:
        """The saved models of a multi-objective study's Pareto front, by trial number."""
        return {int(p.parent.name): p for p in sorted(self.best.glob(f"*/{MODEL}"))
                if p.parent.name.isdigit()}

    def read_state(self, number: int) -> dict[str, Any]:
        """Trial ``number``'s ``state.json`` (its epochs' logs), or {} before its first epoch."""
        return read_state(self.trial(number))

    def read_spec(self) -> dict[str, Any]:
        return read_json(self.spec) or {}

    def write_spec(self, spec: dict[str, Any]) -> None:
        write_json(self.spec, spec, failpoint="spec")


def request_stop(paths: StudyPaths, by: str) -> None:
    """Ask every runner of the study to stop: each trial checkpoints at its next epoch end (or
    batch, with --checkpoint-every) and is queued; no new trial starts. The next run of the
    study clears the request."""
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    write_json(paths.stop_request, {"requested": now, "by": by})


def clear_stop(paths: StudyPaths) -> None:
    paths.stop_request.unlink(missing_ok=True)


def read_state(folder: Path) -> dict[str, Any]:
    return read_json(folder / STATE) or {}


def write_state(folder: Path, state: dict[str, Any]) -> None:
    write_json(folder / STATE, state)


def study_paths(runs_dir: str | Path, name: str,
                checkpoint_dir: str | Path | None = None) -> StudyPaths:
    return StudyPaths.at(Path(runs_dir).expanduser().absolute() / name, checkpoint_dir)


def keep_aside(paths: StudyPaths) -> Path | None:
    """Rename an existing study folder to ``<name>.old-<timestamp>``; never deletes anything."""
    if not paths.root.exists():
        return None
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if paths.checkpoint_dir is not None and paths.trials.parent.exists():
        _rename_aside(paths.trials.parent, stamp)  # its checkpoints go with it
    return _rename_aside(paths.root, stamp)


def _rename_aside(folder: Path, stamp: str) -> Path:
    target = folder.with_name(f"{folder.name}.old-{stamp}")
    suffix = 1
    while target.exists():
        suffix += 1
        target = folder.with_name(f"{folder.name}.old-{stamp}-{suffix}")
    folder.rename(target)
    return target


def list_study_folders(runs_dir: str | Path) -> list[StudyPaths]:
    """Study folders under ``runs_dir`` (those with a spec), kept-aside ones excluded."""
    root = Path(runs_dir).expanduser().absolute()
    if not root.is_dir():
        return []
    return [StudyPaths.at(p) for p in sorted(root.iterdir())
            if (p / "spec.json").exists() and ".old-" not in p.name]
