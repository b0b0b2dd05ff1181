"""The fault x mode matrix: every way a study can be hurt, in every place a study can run.

Faults: ``kill -9`` of the process that runs the study, an interrupt, ``kill -9`` of a worker
kernel, a truncated ``checkpoint.npz``, and a second process holding ``study.db`` locked.
Modes: the live panel in a real kernel, papermill (``jupyter-automl run``), a plain script,
``--background``, ``--kernels 2``, and a custom training loop (``trial.report`` and
``trial.checkpoint`` instead of ``fit``) and population-based training (``--scheduler pbt``)
under the live panel. Every cell checks the same invariants (:func:`check`): each finished
trial kept, the lost trial retried from its checkpoint and finished, no trial number reused,
none left RUNNING or WAITING, the study's total reached.
"""

from __future__ import annotations

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
    SETUP,
    Study,
    hold_lock,
    script,
)

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
    """One place a study runs. ``start`` begins a run without waiting; ``finish`` waits for it;
    ``kill`` and ``interrupt`` hurt it; ``rerun`` runs the study again to its end."""

    extra = ""
    body = BODY
    options = OPTIONS

    def __init__(self, root: Path) -> None:
        self.root = root
        self.study = Study(root / "automl_runs")

    def start(self) -> None:
        raise NotImplementedError

    def finish(self) -> str:
        """Wait for the run to end; return its output (it must have succeeded)."""
        raise NotImplementedError

    def ended_with_fault(self) -> str:
        """Wait for a run hurt by a fault to end; return its output."""
        raise NotImplementedError

    def pid(self) -> int:
        raise NotImplementedError

    def kill(self) -> None:
        process = psutil.Process(self.pid())
        process.kill()
        wait_for(lambda: not process.is_running() or process.status() == psutil.STATUS_ZOMBIE,
                 30, "the kill")

    def interrupt(self) -> None:
        raise NotImplementedError

    def rerun(self) -> str:
        self.start()
        return self.finish()

    def cleanup(self) -> None: ...


class KernelMode(Mode):
    """The notebook's kernel: a real IPython kernel driven over jupyter_client."""

    display = "auto"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.kernel: Kernel | None = None
        self.msg_id = ""
        self.all: list[Kernel] = []

    def start(self) -> None:
        self.kernel = Kernel(self.root)
        self.all.append(self.kernel)
        setup = (f"%load_ext jupyter_automl\n%config Automl.display = {self.display!r}")
        assert self.kernel.execute(setup).status == "ok"
        reply = self.kernel.execute(f"%%automl_setup\n{SETUP}")
        assert reply.status == "ok", reply.text
        self.msg_id = self.kernel.submit(f"%%automl {self.options}{self.extra}\n{self.body}")

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
        # A background run has no interrupt: its Stop button (or %automl stop) is the same act.
        assert self.kernel is not None
        self.kernel.collect(self.msg_id)  # the cell itself returned at once
        self.msg_id = self.kernel.submit(f"%automl stop {NAME}\n%automl wait {NAME}")


class Workers(KernelMode):
    extra = " --kernels 2"

    def kill_worker(self, trial: int) -> None:
        """Kill the worker kernel training ``trial`` (its process id is in the trial's state;
        the other worker may still be starting, and killing that one loses no trial)."""
        pid = self.study.pid(trial)
        (victim,) = [w for w in descendants(self.pid(), "ipykernel") if w.pid == pid]
        victim.kill()


def as_from_a_terminal() -> None:
    """A command started from a shell has Ctrl-C's default disposition, whatever this test
    process inherited (an ignored SIGINT passes to children, and Python then never raises
    KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Script(Mode):
    """Outside Jupyter: ``python script.py`` calling :func:`jupyter_automl.run_study`."""

    code = 0  # the exit code of the last run

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.proc: subprocess.Popen[str] | None = None
        (root / "script.py").write_text(script())

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "script.py"], cwd=self.root, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=as_from_a_terminal)

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
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Papermill(Script):
    """Headless: ``jupyter-automl run`` on a notebook (static charts, no widgets)."""

    def __init__(self, root: Path) -> None:
        Mode.__init__(self, root)
        self.proc = None
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_automl"),
                    nbformat.v4.new_code_cell(f"%%automl_setup\n{SETUP}"),
                    nbformat.v4.new_code_cell(f"%%automl {OPTIONS}\n{BODY}")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, root / "tune.ipynb")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_automl.cli", "run", "tune.ipynb"], cwd=self.root,
            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=as_from_a_terminal)

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
    mode.start()
    lost = mode.study.wait_mid_trial()
    saved = mode.study.snapshot()  # with --kernels 2, another trial may not have saved yet
    mode.kill()
    if isinstance(mode, Papermill):
        assert "the kernel died" in mode.ended_with_fault()
    kept = mode.study.finished()
    mode.rerun()
    # the trial seen mid-training may have trained its last epoch before the kill landed (a
    # PBT generation is two epochs): it finished, it is not lost
    lost_all = sorted({lost, *mode.study.lost()} - kept.keys())
    assert lost_all, "no trial was running when the kernel was killed"
    mode.study.check(kept, lost_all, saved=saved)
    if isinstance(mode, Pbt):
        mode.study.check_population(4, 2)


def test_interrupt_mid_trial_then_a_rerun(mode: Mode) -> None:
    mode.start()
    lost = mode.study.wait_mid_trial()
    mode.interrupt()  # ■ in a notebook, Ctrl-C in a terminal, Stop for a background study
    text = mode.ended_with_fault()
    said = "stopped: " if isinstance(mode, Background) else "StudyInterrupted: "
    assert said in text and "resume" in text.lower(), text
    if isinstance(mode, Papermill):  # Ctrl-C of `jupyter-automl run`: the shell's code for it
        assert mode.code == 130 and "run the same command again to resume" in text, text
    kept = mode.study.finished()
    mode.rerun()
    # what each lost trial had saved when the interrupt stopped it (workers train on until it
    # reaches them: a snapshot taken before it can miss their last epoch)
    lost_all = sorted({lost, *mode.study.lost()} - kept.keys())
    mode.study.check(kept, lost_all, saved={n: mode.study.saved(n) for n in lost_all})


def test_truncated_checkpoint_restarts_the_retry_at_epoch_0(mode: Mode) -> None:
    mode.start()
    lost = mode.study.wait_mid_trial()
    mode.kill()
    kept = mode.study.finished()
    mode.study.truncate_checkpoint(lost)
    out = mode.rerun()
    assert f"the checkpoint of trial {lost} cannot be used" in out and "epoch 0" in out, out
    mode.study.check(kept, [lost], resumed=False)


def test_study_db_locked_for_10s_by_another_process(mode: Mode, tmp_path: Path) -> None:
    mode.start()
    mode.study.wait_mid_trial()
    locker = hold_lock(tmp_path / "automl_runs" / NAME / "study.db", 10)
    mode.finish()
    assert locker.wait(30) == 0
    mode.study.check({}, [])
    assert not [t.number for t in mode.study.trials() if t.state.name == "FAIL"]


def test_kill_9_of_a_worker_kernel_mid_trial(tmp_path: Path) -> None:
    """Only ``--kernels`` has worker kernels; the other modes have no such fault."""
    mode = Workers(tmp_path)
    try:
        mode.start()
        victim = mode.study.wait_mid_trial()
        saved = mode.study.snapshot()
        mode.kill_worker(victim)
        mode.finish()
        lost = mode.study.lost()
        assert victim in lost and set(lost) <= set(saved)
        mode.study.check({}, lost, saved=saved)
    finally:
        mode.cleanup()
