"""The fault x mode matrix: every way a study can be hurt, in every place a study can run.

Faults: ``kill -9`` of the process that runs the study, an interrupt, ``kill -9`` of a worker
kernel, a truncated ``checkpoint.npz``, and a second process holding ``study.db`` locked.
Modes: the live panel in a real kernel, papermill (``jupyter-automl run``), a plain script,
``--background``, ``--kernels 2``, ``--kernels ray*2`` (actors of a Ray started for the run),
and a custom training loop (``trial.report`` and ``trial.checkpoint`` instead of ``fit``),
population-based training (``--scheduler pbt``) and differentiable search (``--darts``, its
architecture weights in the checkpoint) under the live panel. Every cell checks the same
invariants (:func:`check`): each finished trial kept, the lost trial retried from its
checkpoint and finished, no trial number reused, none left RUNNING or WAITING, the study's
total reached.

The live panel, ``--background``, the custom loop and PBT run fault_study's Keras study (the
weights, optimizer and epoch of a trial come back from its checkpoint); a script, papermill
and the driver of ``--kernels 2``, where the process around the study is what differs, run its
plain study (a NumPy loop checkpointing a dict: the same trial loop, checkpoints and retries,
without TensorFlow's import in each process). The worker kernel killed mid-trial runs the Keras
study. A rerun after an interrupt runs in the same kernel, as a user reruns the cell; after a
kill, in a new one.

No test here waits for a moment or races a fault against training: the first run is held at
an exact point by the failpoint ``epoch.saved@N=pause:FILE`` (docs/failpoints.md), after an
epoch's checkpoint is handed to the writer, and the test hurts it there, once it has seen the
file and the checkpoint on disk. One test kills at a random moment, as users do, and its
assertions hold wherever the kill lands.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from fault_modes import (
    Background,
    CustomLoop,
    Darts,
    KerasWorkers,
    Mode,
    Papermill,
    Pbt,
    RayWorkers,
    Script,
    Widgets,
    Workers,
)
from fault_study import NAME, hold_lock

pytestmark = pytest.mark.slow


MODES = {"widgets": Widgets, "static": Papermill, "text": Script, "background": Background,
         "kernels": Workers, "ray": RayWorkers, "loop": CustomLoop, "pbt": Pbt, "darts": Darts}


@pytest.fixture(params=list(MODES))
def mode(request: Any, tmp_path: Path) -> Any:
    made = MODES[request.param](tmp_path)
    yield made
    made.cleanup()


# -- the faults ----------------------------------------------------------------------------------
def test_kill_9_mid_trial_then_a_rerun(mode: Mode) -> None:
    mode.start(hold=True)
    saved = mode.wait_held()
    mode.kill()
    if isinstance(mode, Papermill):
        assert "the kernel died" in mode.ended_with_fault()
    kept = mode.study.finished()
    out = mode.rerun()
    assert "Traceback" not in out, out
    mode.study.check(kept, sorted(saved), saved=saved)
    if isinstance(mode, Pbt):
        mode.study.check_population(4, 2)


def test_interrupt_mid_trial_then_a_rerun(mode: Mode) -> None:
    mode.start(hold=True)
    saved = mode.wait_held()
    mode.interrupt()  # ■ in a notebook, Ctrl-C in a terminal, Stop for a background study
    text = mode.ended_with_fault()
    said = "stopped: " if isinstance(mode, Background) else "StudyInterrupted: "
    assert said in text and "resume" in text.lower(), text
    if isinstance(mode, Papermill):  # Ctrl-C of `jupyter-automl run`: the shell's code for it
        assert mode.code == 130 and "run the same command again to resume" in text, text
    if isinstance(mode, Widgets) and not isinstance(mode, (CustomLoop, Pbt, Darts)):
        assert (f"StudyInterrupted: study '{NAME}' interrupted: 1/4 trials finished, trial 1 "
                "was checkpointed at epoch 1" in text), text
        assert "Rerun the cell to resume." in text and "Traceback" not in text, text
    if isinstance(mode, Darts):  # the search's model held at its 2nd epoch: resumed there
        assert ("interrupted: 0/4 trials finished, trial 0 was checkpointed at epoch 2" in text
                and "Traceback" not in text), text
    kept = mode.study.finished()
    mode.rerun()
    # a background run, let go to read its Stop, trains the held epoch's successor first
    mode.study.check(kept, sorted(saved), saved={n: mode.study.checkpointed(n) for n in saved})


# Ray's row is the kill and the interrupt, what a Ray run meets differently (a Ray started by
# the killed kernel, actors shut down): an unreadable checkpoint and a locked study.db are the
# driver's and the checkpoint's, the same as with --kernels 2.
@pytest.mark.parametrize("mode", [m for m in MODES if m != "ray"], indirect=True)
def test_truncated_checkpoint_restarts_the_retry_at_epoch_0(mode: Mode) -> None:
    mode.start(hold=True)
    saved = mode.wait_held()
    mode.kill()
    kept = mode.study.finished()
    lost = min(saved)
    mode.study.truncate_checkpoint(lost)
    out = mode.rerun()
    assert f"the checkpoint of trial {lost} cannot be used" in out and "epoch 0" in out, out
    mode.study.check(kept, sorted(saved), saved={**saved, lost: 0})


# --darts changes what a trial trains, not how the runner meets a locked database: its row is
# the kill, the interrupt and the truncated checkpoint, which touch its architecture weights.
# (Ray's row: see above.)
@pytest.mark.parametrize("mode", [m for m in MODES if m not in ("darts", "ray")], indirect=True)
def test_study_db_locked_for_10s_by_another_process(mode: Mode, tmp_path: Path) -> None:
    mode.start(hold=True)
    mode.wait_held()
    locker = hold_lock(tmp_path / "automl_runs" / NAME / "study.db", 10)
    mode.release()  # the held epoch's report and every trial after it meet the lock
    mode.finish()
    assert locker.wait(30) == 0
    mode.study.check({}, [])
    assert not [t.number for t in mode.study.trials() if t.state.name == "FAIL"]


def test_kill_9_of_a_worker_kernel_mid_trial(tmp_path: Path) -> None:
    """Only ``--kernels`` has worker kernels; the other modes have no such fault."""
    mode = KerasWorkers(tmp_path)
    try:
        mode.start(hold=True)
        saved = mode.wait_held()
        victim = min(saved)
        mode.kill_worker(victim)
        mode.release()  # the other worker goes on
        mode.finish()
        assert mode.study.lost() == [victim]
        mode.study.check({}, [victim], saved=saved)
    finally:
        mode.cleanup()


@pytest.mark.parametrize("kind", [Script, Widgets])
def test_kill_9_at_a_random_moment(tmp_path: Path, kind: type[Mode]) -> None:
    """As a user's kill lands: at a random moment (after a random number of epochs saved,
    zero included, or after the study ended). Whatever it hit, the rerun keeps what had
    finished, retries what was cut short (from its checkpoint when one was on disk) and
    reaches the total."""
    seed = random.randrange(2**32)
    epochs = random.Random(seed).randrange(0, 4 * 4 + 1)
    print(f"seed {seed}: the kill comes after {epochs} epochs saved")  # shown on a failure
    mode = kind(tmp_path)
    try:
        mode.start()
        wait_for(lambda: sum(mode.study.saved(t.number) for t in mode.study.trials())
                 >= epochs or mode.study.finished().keys() == set(range(4)), 300,
                 f"{epochs} epochs saved (seed {seed})")
        mode.kill()
        saved = mode.study.snapshot()  # the process is dead: nothing more is written
        kept = mode.study.finished()
        mode.rerun()
        mode.study.check(kept, sorted(saved), saved=saved)
    finally:
        mode.cleanup()


def test_a_pbt_member_whose_checkpoint_is_truncated_starts_its_generation_again(
        tmp_path: Path) -> None:
    """Generation 1 of member 0 is killed after its first epoch and its checkpoint truncated:
    its retry cannot resume from it, so it starts the generation again from the checkpoint
    the generation started from (member 0's generation 0), not from scratch."""
    mode = Pbt(tmp_path)
    mode.hold_at = "epoch.saved@8"  # generation 0 done (4 members, 2 epochs): trial 4's 1st
    try:
        mode.start(hold=True)
        saved = mode.wait_held()
        mode.kill()
        kept = mode.study.finished()
        (lost,) = saved
        assert lost == 4
        mode.study.truncate_checkpoint(lost)
        out = mode.rerun()
        assert (f"the checkpoint of trial {lost} cannot be used" in out
                and "starts its generation again from the checkpoint of trial 0, at epoch 2"
                in out), out
        mode.study.check(kept, [lost], saved={lost: 0})
        retry = next(t for t in mode.study.trials() if t.user_attrs.get("retry_of") == lost)
        assert retry.user_attrs["resumed_at_epoch"] == 2
    finally:
        mode.cleanup()
