"""Faults placed exactly, with failpoints: a real SIGKILL of a real study's process at a named
point (docs/failpoints.md), then a rerun, and the fault matrix's invariants after it. No test
here waits for a moment or races a kill against training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from fault_study import (
    EPOCHS,
    NAME,
    OPTIONS,
    PLAIN_BODY,
    PLAIN_SETUP,
    SETUP,
    TRIALS,
    Hold,
    Study,
    run,
    script,
)

from jupyter_automl._utils.failpoints import ENV

pytestmark = pytest.mark.slow

QUADRATIC = 'x = hp.float("x", -5, 5)\n(x - 1) ** 2\n'


def checkpointed_script(runs: Path) -> str:
    """The study of a loop checkpointing its state every epoch (fault_study's plain study: the
    checkpoint files are what is tried here, not the training)."""
    return script(OPTIONS + f" --runs-dir {runs}", PLAIN_SETUP, PLAIN_BODY, display="text")


def quadratic_script(runs: Path) -> str:
    return (f"import jupyter_automl\njupyter_automl.run_study({QUADRATIC!r}, "
            f"'{NAME} --trials {TRIALS} --seed 0 --runs-dir {runs}', display='text')\n")


@pytest.mark.parametrize("point, saved", [("checkpoint.saved@1", 2), ("checkpoint.rename@1", 1)])
def test_a_kill_at_a_checkpoint_loses_no_saved_epoch(tmp_path: Path, point: str,
                                                     saved: int) -> None:
    """Killed right after trial 0's second checkpoint is on disk, the retry resumes at epoch
    2; killed between that checkpoint's write and its rename, the first one is intact and the
    retry resumes at epoch 1."""
    runs = tmp_path / "runs"
    killed = run(checkpointed_script(runs), tmp_path, f"{point}=kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert f"failpoint {point.split('@')[0]} fires: kill" in killed.stderr
    study = Study(runs)
    assert study.snapshot() == {0: saved}  # trial 0 running, its epochs on disk
    rerun = run(checkpointed_script(runs), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    study.check(kept={}, lost=[0], saved={0: saved})
    (retry,) = [t for t in study.trials() if t.user_attrs.get("retry_of") == 0]
    assert retry.user_attrs["resumed_at_epoch"] == saved
    assert sorted(retry.intermediate_values) == list(range(saved + 1, EPOCHS + 1))


def test_a_kill_between_a_checkpoint_and_its_state_json_loses_no_epoch(tmp_path: Path) -> None:
    """Killed with trial 0's second checkpoint in place and its state.json not yet written:
    the file holds epoch 2, state.json lists epoch 1 alone. The retry resumes at epoch 2 with
    epoch 2's logs in its history, which the checkpoint file carries (the history lacked
    them, and epoch 2 was neither in it nor trained again)."""
    runs = tmp_path / "runs"
    killed = run(checkpointed_script(runs), tmp_path, "checkpoint.state@1=kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    study = Study(runs)
    assert study.snapshot() == {0: 1} and study.checkpointed(0) == 2
    rerun = run(checkpointed_script(runs), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    study.check(kept={}, lost=[0], saved={0: 2})
    (retry,) = [t for t in study.trials() if t.user_attrs.get("retry_of") == 0]
    assert retry.user_attrs["resumed_at_epoch"] == 2
    assert [h["epoch"] for h in study.state(retry.number)["history"]] == \
        list(range(1, EPOCHS + 1))


def test_state_json_lists_only_the_epochs_on_disk(tmp_path: Path) -> None:
    """The checkpoint writer's thread writes an epoch's state.json while training goes on: held
    before it writes epoch 1 until epoch 2 is reported, it still lists epoch 1 alone (it
    listed epoch 2 too, whose checkpoint was not written yet: a kill then claimed an epoch
    saved that the retry did not have)."""
    runs = tmp_path / "runs"
    writing, written = Hold(tmp_path / "writing"), Hold(tmp_path / "written")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           ENV: writing.env("checkpoint.write@0")[ENV] + ";"
           + written.env("checkpoint.saved@0")[ENV]}
    proc = subprocess.Popen([sys.executable, "-c", checkpointed_script(runs)], cwd=tmp_path,
                            env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        writing.wait(1, "the writer of epoch 1")
        study = Study(runs)
        wait_for(lambda: 2 in study.trials()[0].intermediate_values, 60,
                 "epoch 2 reported")
        writing.release()
        written.wait(1, "epoch 1 written")
        assert [h["epoch"] for h in study.state(0)["history"]] == [1]
    finally:
        writing.release()
        written.release()
        out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert [h["epoch"] for h in study.state(0)["history"]] == [1, 2, 3, 4]


def test_a_kill_after_a_trial_is_told_loses_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    killed = run(quadratic_script(runs), tmp_path, "trial.told@1=kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    study = Study(runs)
    kept = study.finished()
    assert sorted(kept) == [0, 1] and not study.snapshot()  # told, and nothing left running
    assert run(quadratic_script(runs), tmp_path).returncode == 0
    study.check(kept=kept, lost=[])
    assert len(study.trials()) == TRIALS


def kill_trial_1_then_rerun(tmp_path: Path, point: str) -> tuple[Study, dict[int, Any], str]:
    """The quadratic study killed at failpoint ``point`` while trial 1 is RUNNING (trial 0
    told), then rerun at once: the study, its trials kept at the kill, the rerun's output."""
    runs = tmp_path / "runs"
    killed = run(quadratic_script(runs), tmp_path, f"{point}@1=kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    study = Study(runs)
    kept = study.finished()
    assert sorted(kept) == [0] and list(study.snapshot()) == [1]
    rerun = run(quadratic_script(runs), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    return study, kept, rerun.stdout


def test_a_kill_before_a_trial_is_told_retries_it(tmp_path: Path) -> None:
    """Its value is lost with the process (it was never told): the trial stays RUNNING with a
    dead runner, and the rerun fails it and runs its parameters again."""
    study, kept, out = kill_trial_1_then_rerun(tmp_path, "trial.tell")
    assert "lost its runner" in out
    study.check(kept=kept, lost=[1], resumed=False)


def test_a_kill_between_asking_for_a_trial_and_claiming_it_retries_it(tmp_path: Path) -> None:
    """Trial 1 is asked for (RUNNING in the study) and the runner is killed before its lock
    file claims it. The rerun, alone on the study and started at once, knows no runner can be
    claiming it: it fails it and runs its parameters again, rather than leave it RUNNING for
    good (chaos seed 3, run 195)."""
    study, kept, out = kill_trial_1_then_rerun(tmp_path, "runner.claim")
    assert "trial 1 of study" in out and "lost its runner" in out
    study.check(kept=kept, lost=[1], resumed=False, saved={1: 0})  # (it drew nothing)


RISING = f"""\
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(hp.int("units", 4, 16))])
start = trial.checkpoint(model=model)
for step in range(start, {EPOCHS}):
    model.layers[0].kernel.assign(model.layers[0].kernel + 1.0)
    trial.report({{"score": float(step + 1)}}, step=step + 1)
"""


def test_a_custom_loop_retried_at_its_best_step_exports_that_model(tmp_path: Path) -> None:
    """Killed before trial 0 (a Keras custom loop whose score rises every step) is told, every
    step on disk: its retry restores the last step, which is its best, and has nothing left to
    train; as the study's best so far its model is exported, with the restored weights. (The
    export raised Keras's ValueError: the retry took the checkpoint's weights as its best, and
    a custom loop's checkpoint keeps them by name, so the list was empty. Found by
    benchmarks/chaos.py.)"""
    import numpy as np

    runs = tmp_path / "runs"
    options = f"{NAME} --trials 1 --seed 0 --maximize score --runs-dir {runs}"
    code = script(options, SETUP, RISING, display="text")
    killed = run(code, tmp_path, "trial.tell@0=kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    study = Study(runs)
    assert study.snapshot() == {0: EPOCHS}
    with np.load(study.trials_dir / "0" / "checkpoint.npz") as saved:
        kernel = saved["model/0"]
    rerun = run(code, tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    study.check(kept={}, lost=[0], saved={0: EPOCHS}, total=1)
    (retry,) = [t for t in study.trials() if t.user_attrs.get("retry_of") == 0]
    assert retry.user_attrs["resumed_at_epoch"] == EPOCHS and retry.value == EPOCHS
    exported = run("import keras\nmodel = keras.models.load_model("
                   f"{str(runs / NAME / 'best' / 'model.keras')!r})\n"
                   f"import numpy as np\nnp.save({str(tmp_path / 'k.npy')!r}, "
                   "model.layers[0].kernel.numpy())\n", tmp_path)
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert np.array_equal(np.load(tmp_path / "k.npy"), kernel)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_automl.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_damaged_database_is_restored_from_its_copy(tmp_path: Path, damage: str) -> None:
    """The copy taken at the end of a 3-trial run survives a second run killed after two more
    trials; study.db damaged, every reader names the file and the restore command; restore
    puts the copy back (the damaged file kept aside, nothing else touched) and the rerun
    reaches the total."""
    runs = tmp_path / "runs"
    assert run(quadratic_script(runs), tmp_path).returncode == 0
    more = quadratic_script(runs).replace(f"--trials {TRIALS}", "--trials 6")
    killed = run(more, tmp_path, "trial.told@1=kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert len(Study(runs).finished()) == TRIALS + 2
    db = runs / NAME / "study.db"
    others = {p: p.read_bytes() for p in (runs / NAME).rglob("*") if p.is_file() and p != db}
    data = db.read_bytes()
    damaged = data[: len(data) // 3] if damage == "truncated" else b"x" * len(data)
    db.write_bytes(damaged)
    shown = cli("show", NAME, "--runs-dir", str(runs), cwd=tmp_path)
    assert shown.returncode == 2, shown.stdout + shown.stderr
    assert f"the study database sqlite:///{db} is corrupt" in shown.stderr
    assert f"jupyter-automl restore {NAME} --runs-dir {runs}" in shown.stderr
    assert "Traceback" not in shown.stderr
    assert {p: p.read_bytes() for p in others} == others  # reading touched nothing
    restored = cli("restore", NAME, "--runs-dir", str(runs), cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert f"({TRIALS} trials)" in restored.stdout
    (kept,) = (runs / NAME).glob("study.db.damaged-*")
    assert kept.read_bytes() == damaged  # kept aside as it was
    assert len(Study(runs).finished()) == TRIALS
    assert run(more, tmp_path).returncode == 0
    study = Study(runs)
    study.check(kept={}, lost=[], total=6)
    assert len(study.trials()) == 6
