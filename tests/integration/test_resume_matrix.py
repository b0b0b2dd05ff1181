"""The fault x mode matrix: every way a study can be hurt, in every place a study can run.

Faults: ``kill -9`` of the process that runs the study, an interrupt, ``kill -9`` of a worker
kernel, a truncated ``checkpoint.npz``, and a second process holding ``study.db`` locked.
Modes: the live panel in a real kernel, papermill (``jupyter-automl run``), a plain script,
``--background``, ``--kernels 2``, and a custom training loop (``trial.report`` and
``trial.checkpoint`` instead of ``fit``) and population-based training (``--scheduler pbt``)
under the live panel. Every cell checks the same invariants (:func:`check`): each finished
trial kept, the lost trial retried from its checkpoint and finished, no trial number reused,
none left RUNNING or WAITING, the study's total reached.

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

import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from conftest import Kernel, wait_for
from fault_study import (
    BODY,
    LOOP_BODY,
    NAME,
    OPTIONS,
    PBT_BODY,
    PBT_OPTIONS,
    PLAIN_BODY,
    PLAIN_SETUP,
    SETUP,
    Hold,
    Study,
    hold_lock,
    notebook,
    script,
)

from jupyter_automl._utils.failpoints import ENV

pytestmark = pytest.mark.slow


def descendants(pid: int, what: str) -> list[psutil.Process]:
    found = []
    for process in psutil.Process(pid).children(recursive=True):
        try:
            if what in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:  # gone, or a zombie
            continue
    return found


# -- the modes -----------------------------------------------------------------------------------
class Mode:
    """One place a study runs. ``start`` begins a run without waiting (held at the failpoint
    ``hold``, if given); ``finish`` waits for it; ``kill`` and ``interrupt`` hurt it;
    ``rerun`` runs the study again to its end, with no failpoint."""

    extra = ""
    setup, body = SETUP, BODY  # the Keras study
    options = OPTIONS
    # Where the first run is held: each process passing ``epoch.saved`` counts its own passes.
    # Trial 0 saves its 4 epochs first, so the 5th pass is trial 1 with one epoch on disk.
    hold_at = "epoch.saved@4"
    held_processes = 1  # the processes that hold there (one per worker kernel with --kernels)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.study = Study(root / "automl_runs")
        self.held = Hold(root / "held")

    def env(self, hold: bool) -> dict[str, str]:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        env.pop(ENV, None)
        if hold:
            env.update(self.held.env(self.hold_at))
        return env

    def start(self, hold: bool = False) -> None:
        raise NotImplementedError

    def finish(self) -> str:
        """Wait for the run to end; return its output (it must have succeeded)."""
        raise NotImplementedError

    def ended_with_fault(self) -> str:
        """Wait for a run hurt by a fault to end; return its output."""
        raise NotImplementedError

    def pid(self) -> int:
        raise NotImplementedError

    def wait_held(self) -> dict[int, int]:
        """Block until the run is held at its failpoint (every process that holds there has
        said so in the file) with the held trials' checkpoints on disk; return the epochs
        saved by each trial running then (the :meth:`Study.snapshot` at the fault)."""
        self.held.wait(self.held_processes, "the run")

        def on_disk() -> bool:  # the writer thread may still be writing the held epoch
            running = [t for t in self.study.trials() if t.state.name == "RUNNING"]
            return len(running) >= self.held_processes and all(
                self.study.saved(t.number) == len(t.intermediate_values) >= 1
                for t in running)

        wait_for(on_disk, 60, "the held trials' checkpoints on disk")
        return self.study.snapshot()

    def held_pids(self) -> list[int]:
        return self.held.pids()

    def release(self) -> None:
        """Let the held run go on, and any process it starts later pass the point."""
        self.held.release()

    def kill(self) -> None:
        try:
            process = psutil.Process(self.pid())
            process.kill()
        except psutil.NoSuchProcess:  # the run had ended
            return
        wait_for(lambda: not process.is_running() or process.status() == psutil.STATUS_ZOMBIE,
                 30, "the kill")

    def interrupt(self) -> None:
        raise NotImplementedError

    def rerun(self) -> str:
        self.release()
        self.start()
        return self.finish()

    def cleanup(self) -> None:
        self.release()


class KernelMode(Mode):
    """The notebook's kernel: a real IPython kernel driven over jupyter_client."""

    display = "auto"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.kernel: Kernel | None = None
        self.msg_id = ""
        self.all: list[Kernel] = []

    def start(self, hold: bool = False) -> None:
        self.kernel = Kernel(self.root, env=self.env(hold))
        self.all.append(self.kernel)
        setup = (f"%load_ext jupyter_automl\n%config Automl.display = {self.display!r}")
        assert self.kernel.execute(setup).status == "ok"
        reply = self.kernel.execute(f"%%automl_setup\n{self.setup}")
        assert reply.status == "ok", reply.text
        self.submit()

    def submit(self) -> None:
        assert self.kernel is not None
        self.msg_id = self.kernel.submit(f"%%automl {self.options}{self.extra}\n{self.body}")

    def kill(self) -> None:
        super().kill()
        self.kernel = None  # dead: the rerun is in a new kernel, as after a restart

    def rerun(self) -> str:
        """The cell run again: in the same kernel when it lives on (after ■ or Stop, as a
        user does), else in a new one (the kernel restarted after it died)."""
        if self.kernel is None:
            return super().rerun()
        self.release()
        self.submit()
        return self.finish()

    def finish(self) -> str:
        assert self.kernel is not None
        reply = self.kernel.collect(self.msg_id)
        assert reply.status == "ok", reply.text
        return reply.text

    def ended_with_fault(self) -> str:
        assert self.kernel is not None
        return self.kernel.collect(self.msg_id).text

    def pid(self) -> int:
        assert self.kernel is not None
        return self.kernel.pid

    def interrupt(self) -> None:
        assert self.kernel is not None
        self.kernel.km.interrupt_kernel()

    def cleanup(self) -> None:
        super().cleanup()
        for kernel in self.all:
            kernel.shutdown()


class Widgets(KernelMode):
    display = "widgets"  # the live panel, as a JupyterLab kernel shows it


class CustomLoop(Widgets):
    body = LOOP_BODY  # a GradientTape loop: what fit does, done by trial.report/checkpoint


class Pbt(Widgets):
    """Population-based training: a generation's member trial is what the fault cuts short."""

    body = PBT_BODY
    options = PBT_OPTIONS
    hold_at = "epoch.saved@4"  # members 0 and 1 trained generation 0 (2 epochs): member 2


class Background(KernelMode):
    display = "widgets"
    extra = " --background"

    def finish(self) -> str:
        text = super().finish()
        assert self.kernel is not None
        reply = self.kernel.execute(f"%automl wait {NAME}")
        assert reply.status == "ok", reply.text
        return text + reply.text

    def interrupt(self) -> None:
        # A background run has no interrupt: its Stop button (or %automl stop) is the same act,
        # read at the held epoch's end once the run is let go.
        assert self.kernel is not None
        self.kernel.collect(self.msg_id)  # the cell itself returned at once
        reply = self.kernel.execute(f"%automl stop {NAME}")
        assert reply.status == "ok", reply.text
        self.release()
        self.msg_id = self.kernel.submit(f"%automl wait {NAME}")


class Workers(KernelMode):
    """The driver's faults with worker kernels: the plain study (the trials' training is the
    same as in the notebook's kernel; the driver, its workers and their lifecycle are what
    differ). The Keras study in worker kernels: :class:`KerasWorkers`."""

    extra = " --kernels 2"
    setup, body = PLAIN_SETUP, PLAIN_BODY
    hold_at = "epoch.saved@1"  # each worker kernel's first trial, two epochs on disk
    held_processes = 2

    def kill(self) -> None:
        """The driver's kernel, killed: its worker kernels end as they see it gone (held at the
        failpoint, they train nothing meanwhile)."""
        workers = self.held_pids()
        super().kill()
        wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status()
                                 != psutil.STATUS_ZOMBIE for p in workers),
                 60, "the worker kernels to end")

    def kill_worker(self, trial: int) -> None:
        """Kill the worker kernel training ``trial`` (its process id is in the trial's state;
        the other worker may still be starting, and killing that one loses no trial)."""
        pid = self.study.pid(trial)
        (victim,) = [w for w in descendants(self.pid(), "ipykernel") if w.pid == pid]
        victim.kill()
        victim.wait(30)


class KerasWorkers(Workers):
    """The Keras study in worker kernels, for the worker's own fault: its trial's weights,
    optimizer and epoch come back in another worker."""

    setup, body = SETUP, BODY


def as_from_a_terminal() -> None:
    """A command started from a shell has Ctrl-C's default disposition, whatever this test
    process inherited (an ignored SIGINT passes to children, and Python then never raises
    KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Script(Mode):
    """Outside Jupyter: ``python script.py`` calling :func:`jupyter_automl.run_study`, on the
    plain study (the process around the study is what differs from a kernel's, not the
    training)."""

    code = 0  # the exit code of the last run
    setup, body = PLAIN_SETUP, PLAIN_BODY

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.proc: subprocess.Popen[str] | None = None
        (root / "script.py").write_text(script(OPTIONS, self.setup, self.body))

    def start(self, hold: bool = False) -> None:
        self.proc = subprocess.Popen([sys.executable, "script.py"], cwd=self.root, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=as_from_a_terminal, env=self.env(hold))

    def _wait(self) -> tuple[int, str]:
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=300)
        self.code = self.proc.returncode
        return self.proc.returncode, out

    def finish(self) -> str:
        code, out = self._wait()
        assert code == 0, out
        return out

    def ended_with_fault(self) -> str:
        return self._wait()[1]

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def interrupt(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)

    def cleanup(self) -> None:
        super().cleanup()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Papermill(Script):
    """Headless: ``jupyter-automl run`` on a notebook (static charts, no widgets), on the plain
    study."""

    def __init__(self, root: Path) -> None:
        Mode.__init__(self, root)
        self.proc = None
        notebook(root / "tune.ipynb", OPTIONS, self.setup, self.body)

    def start(self, hold: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_automl.cli", "run", "tune.ipynb"], cwd=self.root,
            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=as_from_a_terminal, env=self.env(hold))

    def pid(self) -> int:
        # the notebook's kernel, which papermill started
        assert self.proc is not None
        (kernel,) = descendants(self.proc.pid, "ipykernel")
        return kernel.pid

    def _wait(self) -> tuple[int, str]:
        """The command's exit code, and its output followed by the executed notebook's."""
        code, out = super()._wait()
        nb = nbformat.read(self.root / "tune.out.ipynb", as_version=4)
        texts = [o.get("text", "") + "\n".join(o.get("traceback", []))
                 for cell in nb.cells for o in cell.get("outputs", [])]
        return code, out + "\n".join(texts)


MODES = {"widgets": Widgets, "static": Papermill, "text": Script, "background": Background,
         "kernels": Workers, "loop": CustomLoop, "pbt": Pbt}


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
    if isinstance(mode, Widgets) and not isinstance(mode, (CustomLoop, Pbt)):
        assert (f"StudyInterrupted: study '{NAME}' interrupted: 1/4 trials finished, trial 1 "
                "was checkpointed at epoch 1" in text), text
        assert "Rerun the cell to resume." in text and "Traceback" not in text, text
    kept = mode.study.finished()
    mode.rerun()
    # a background run, let go to read its Stop, trains the held epoch's successor first
    mode.study.check(kept, sorted(saved), saved={n: mode.study.saved(n) for n in saved})


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
