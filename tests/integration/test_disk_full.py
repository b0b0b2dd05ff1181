"""A full disk: a real one (a small tmpfs as the runs folder, filled while the study is held
mid-trial) and the ``enospc`` failpoint at each file a study writes (a checkpoint, the spec, the
best model). The run stops with an error that names the folder and the space to free; the
finished trials, ``study.db`` and the checkpoints already written stay intact; once there is
space the rerun resumes the cut trial from its checkpoint."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.require import require_or_skip
from fault_study import (
    BODY,
    NAME,
    OPTIONS,
    PLAIN_BODY,
    PLAIN_SETUP,
    SETUP,
    Hold,
    Study,
    fill,
    notebook,
    script,
)

from jupyter_automl._utils.failpoints import ENV
from jupyter_automl.runs import StudyPaths, read_claims

pytestmark = pytest.mark.slow


def run(cwd: Path, options: str = OPTIONS, env: dict[str, str] | None = None,
        keras: bool = True) -> subprocess.Popen[str]:
    """The Keras study (its checkpoints the size of a model's, and a best model to export),
    or with ``keras=False`` the plain one, where only the files' names and moments matter."""
    full = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    if env is None or ENV not in env:
        full.pop(ENV, None)
    code = script(options, SETUP, BODY) if keras else script(options, PLAIN_SETUP, PLAIN_BODY)
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd,
                            env=full, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def ended(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=600)
    return out


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs of its own (mounting one needs root, as CI runs)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
        capture_output=True).returncode == 0
    require_or_skip(mounted, "a small disk needs root to mount a tmpfs")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_stops_the_study_and_the_rerun_resumes(small_disk: Path) -> None:
    """The disk fills while trial 1 is held after its first epoch: its next checkpoint finds
    no space. The run stops saying where and how much to free; trial 0, its checkpoint and
    study.db are as they were; the rerun after space is freed resumes trial 1 at epoch 1."""
    study = Study(small_disk / "automl_runs")
    hold = Hold(small_disk.parent / "held")
    proc = run(small_disk, env=hold.env("epoch.saved@4"))
    (pid,) = hold.wait(1, "trial 1")
    held = study.held_trial(pid)
    kept = study.finished()
    checkpoint = (study.trials_dir / "0" / "checkpoint.npz").read_bytes()
    filler = fill(small_disk)
    hold.release()
    out = ended(proc)
    assert proc.returncode != 0, out
    assert "DiskFullError" in out, out
    said = out[out.index("DiskFullError"):]
    trials = small_disk / "automl_runs" / NAME / "trials"
    assert f"the disk holding {trials} is full (" in said, said
    assert "needed to go on" in said and "free some space" in said, said
    assert f"trial {held} was checkpointed at epoch 1 and will resume from there" in said, said
    # nothing already done is touched
    assert (study.trials_dir / "0" / "checkpoint.npz").read_bytes() == checkpoint
    assert study.saved(held) == 1
    db = sqlite3.connect(small_disk / "automl_runs" / NAME / "study.db")
    assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
    db.close()
    assert study.finished() == kept
    # the cut trial's end is on record: failed and queued, or (study.db's disk being the full
    # one, the storage could not say so) still claimed in the dead run's lock file, which the
    # next runner reads
    claims = read_claims(StudyPaths.at(small_disk / "automl_runs" / NAME))
    assert held in study.lost() or held in claims.dead, (study.lost(), claims)
    filler.unlink()
    rerun = run(small_disk)
    out = ended(rerun)
    assert rerun.returncode == 0, out
    study.check(kept, [held], saved={held: 1})


@pytest.mark.parametrize("point", ["checkpoint.write@2", "spec.write", "best.export",
                                   "runner.claim@1"])
def test_no_space_for_a_file_of_the_study(tmp_path: Path, point: str) -> None:
    """``enospc`` where the study writes its third checkpoint, its spec (at the start), the
    best model, or the runner's lock file as it claims the second trial: a message naming the
    file or folder, never a traceback of ours, and the rerun finishes the study."""
    study = Study(tmp_path / "automl_runs")
    keras = point == "best.export"  # a plain study has no model to export
    proc = run(tmp_path, env={ENV: f"{point}=enospc"}, keras=keras)
    out = ended(proc)
    root = tmp_path / "automl_runs" / NAME
    if point == "best.export":  # the trial is told first, then the export fails
        assert "ExportError" in out and str(root / "best") in out, out
        assert study.finished(), out
    elif point == "spec.write":
        assert proc.returncode != 0 and f"{root / 'spec.json'}: no space left on the device" \
            in out, out
    elif point.startswith("runner.claim"):  # trial 1 asked, not started: failed, queued
        assert proc.returncode != 0 and "DiskFullError: [Errno 28] No space left on device" \
            in out and f"(the runner's lock file '{root / 'runners'}" in out, out
        assert "claiming trial 1)" in out and "1/4 trials finished, trial 1 has no " \
            "checkpoint yet and will start again" in out, out
    else:
        assert proc.returncode != 0 and "DiskFullError: [Errno 28] No space left on device" \
            in out and f"{root / 'trials' / '0' / 'checkpoint.npz'}'\nthe disk holding" in out, out
        assert "trial 0 was checkpointed at epoch 2 and will resume from there" in out, out
    assert "OSError" not in out, out
    rerun = run(tmp_path, keras=keras)
    out = ended(rerun)
    assert rerun.returncode == 0, out
    if point.startswith("runner.claim"):
        study.check({}, [1], saved={1: 0})
        return
    lost = [0] if point.startswith("checkpoint") else []
    study.check({}, lost, saved={0: 2} if lost else None)


def test_no_space_for_the_executed_notebook(small_disk: Path, tmp_path: Path) -> None:
    """``jupyter-automl run`` whose executed notebook (--output) is on a full disk: papermill's
    save fails after the first cell; the command says which file and what to do, never
    papermill's traceback, and the same command finishes the study once there is space."""
    notebook(tmp_path / "tune.ipynb", OPTIONS, PLAIN_SETUP, PLAIN_BODY)
    output = small_disk / "tune.out.ipynb"
    filler = fill(small_disk)
    argv = [sys.executable, "-m", "jupyter_automl.cli", "run", "tune.ipynb", "--output",
            str(output)]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in out, out
    assert (f"the executed notebook could not be saved: {output}: no space left on the "
            "device") in out and "run the same command again to resume" in out, out
    filler.unlink()
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    Study(tmp_path / "automl_runs").check({}, [])
