"""The places a study runs, as the fault tests start, hurt and rerun it: the notebook's kernel
(the live panel, ``--background``, ``--kernels 2``, ``--kernels ray*2``), a script, and
``jupyter-automl run`` (papermill). The fault matrix (tests/integration/test_resume_matrix.py)
and the randomized campaign (benchmarks/chaos.py) drive the same classes.

A mode runs one of fault_study's studies: its ``setup`` and ``body`` (the Keras study unless a
mode or its caller picks another) with its ``options``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
from conftest import Kernel, Reply, wait_for
from fault_study import (
    BODY,
    DARTS_BODY,
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
    notebook,
    script,
)

from jupyter_automl._utils.failpoints import ENV


def descendants(pid: int, what: str = "") -> list[psutil.Process]:
    """The processes under ``pid`` whose command line holds ``what``."""
    found = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for process in children:
        try:
            if what in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:  # gone, or a zombie
            continue
    return found


class Mode:
    """One place a study runs. ``start`` begins a run without waiting (held at the failpoint
    ``hold_at`` with ``hold``, or with other ``failpoints``); ``finish`` waits for it;
    ``kill`` and ``interrupt`` hurt it; ``rerun`` runs the study again to its end, with no
    failpoint."""

    extra = ""
    setup, body = SETUP, BODY  # the Keras study
    options = OPTIONS
    # Where the first run is held: each process passing ``epoch.saved`` counts its own passes.
    # Trial 0 saves its 4 epochs first, so the 5th pass is trial 1 with one epoch on disk.
    hold_at = "epoch.saved@4"
    held_processes = 1  # the processes that hold there (one per worker kernel with --kernels)
    environ: dict[str, str] = {}  # set in the run's environment too

    def __init__(self, root: Path) -> None:
        self.root = root
        self.study = Study(root / "automl_runs")
        self.held = Hold(root / "held")

    def env(self, hold: bool, failpoints: str = "") -> dict[str, str]:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **self.environ}
        env.pop(ENV, None)
        armed = [self.held.env(self.hold_at)[ENV]] if hold else []
        if failpoints:
            armed.append(failpoints)
        if armed:
            env[ENV] = ";".join(armed)
        return env

    def start(self, hold: bool = False, failpoints: str = "") -> None:
        raise NotImplementedError

    def running(self) -> bool:
        """Whether the run is still going (it has not ended, whatever ended it)."""
        raise NotImplementedError

    def finish(self) -> str:
        """Wait for the run to end; return its output (it must have succeeded)."""
        raise NotImplementedError

    def ended_with_fault(self) -> str:
        """Wait for a run hurt by a fault to end; return its output."""
        raise NotImplementedError

    def pid(self) -> int:
        """The process that runs the study (whose kill is the fault)."""
        raise NotImplementedError

    def processes(self) -> list[psutil.Process]:
        """Every process of the run: the one started and all it started (worker kernels)."""
        raise NotImplementedError

    def wait_held(self) -> dict[int, int]:
        """Block until the run is held at its failpoint (every process that holds there has
        said so in the file) with the held trials' checkpoints on disk; return the epochs
        saved by each trial running then (the :meth:`Study.snapshot` at the fault)."""
        for pid in self.held.wait(self.held_processes, "the run"):
            self.study.held_trial(pid)
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

    def kill_all(self) -> None:
        """``kill -9`` of every process of the run (a machine lost), and wait for them."""
        processes = self.processes()
        for process in processes:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(processes, timeout=60)

    def interrupt(self) -> None:
        raise NotImplementedError

    def rerun(self, check: bool = True) -> str:
        """Run the study again to its end and return the output (which must say it
        succeeded, with ``check``)."""
        self.release()
        self.start()
        return self.finish() if check else self.ended_with_fault()

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

    def start(self, hold: bool = False, failpoints: str = "") -> None:
        self.kernel = Kernel(self.root, env=self.env(hold, failpoints))
        self.all.append(self.kernel)
        setup = (f"%load_ext jupyter_automl\n%config Automl.display = {self.display!r}")
        assert self.kernel.execute(setup).status == "ok"
        reply = self.kernel.execute(f"%%automl_setup\n{self.setup}")
        assert reply.status == "ok", reply.text
        self.submit()

    def submit(self) -> None:
        assert self.kernel is not None
        self.msg_id = self.kernel.submit(f"%%automl {self.options}{self.extra}\n{self.body}")

    def running(self) -> bool:
        return (self.kernel is not None and self.kernel.km.is_alive()
                and self.kernel.poll(self.msg_id) is None)

    def kill(self) -> None:
        super().kill()
        self.kernel = None  # dead: the rerun is in a new kernel, as after a restart

    def kill_all(self) -> None:
        super().kill_all()
        self.kernel = None

    def rerun(self, check: bool = True) -> str:
        """The cell run again: in the same kernel when it lives on (after ■ or Stop, as a
        user does), else in a new one (the kernel restarted after it died)."""
        if self.kernel is None or not self.kernel.km.is_alive():
            self.kernel = None
            return super().rerun(check)
        self.release()
        self.submit()
        return self.finish() if check else self.ended_with_fault()

    def finish(self) -> str:
        assert self.kernel is not None
        reply = self.kernel.collect(self.msg_id)
        assert reply.status == "ok", reply.text
        return reply.text

    def ended_with_fault(self) -> str:
        """The cell's output once it ended, or once its kernel died (a failpoint's kill)."""
        if self.kernel is None:
            return "the kernel died"
        reply = self.reply_or_death()
        return "the kernel died" if reply is None else reply.text

    def reply_or_death(self, timeout: float = 300) -> Reply | None:
        """The reply to the last request, or None when the kernel died before it."""
        assert self.kernel is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.kernel.poll(self.msg_id, timeout=1)
            if reply is not None:
                return reply
            if not self.kernel.km.is_alive():
                self.kernel = None
                return None
        raise TimeoutError(f"the cell of {self.root} did not end in {timeout} s")

    def pid(self) -> int:
        assert self.kernel is not None
        return self.kernel.pid

    def processes(self) -> list[psutil.Process]:
        if self.kernel is None or not psutil.pid_exists(self.kernel.pid):
            return []
        return [psutil.Process(self.kernel.pid), *descendants(self.kernel.pid)]

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


class Darts(Widgets):
    """``--darts`` under the live panel: the search trial (its architecture weights in the
    model) is what the fault cuts short."""

    body = DARTS_BODY
    options = OPTIONS + " --darts"
    hold_at = "epoch.saved@1"  # the first search, two epochs on disk


class Background(KernelMode):
    """``--background``: the cell returns at once; ``%automl wait`` is the run's end."""

    display = "widgets"
    extra = " --background"
    said = ""  # what the cell itself printed, once ``%automl wait`` is what the kernel runs

    def submit(self) -> None:
        super().submit()
        self.said = ""

    def waiting(self) -> None:
        """From the cell, which returned at once, to ``%automl wait``, which returns at the
        run's end."""
        if not self.said and self.kernel is not None:
            reply = self.reply_or_death()
            self.said = "the kernel died" if reply is None else reply.text or "\n"
            if self.kernel is not None:
                self.msg_id = self.kernel.submit(f"%automl wait {NAME}")

    def running(self) -> bool:
        self.waiting()
        return super().running()

    def finish(self) -> str:
        self.waiting()
        return self.said + super().finish()

    def ended_with_fault(self) -> str:
        self.waiting()
        return self.said + ("" if self.kernel is None else super().ended_with_fault())

    def interrupt(self) -> None:
        # A background run has no interrupt: its Stop button (or %automl stop) is the same act,
        # read at the held epoch's end once the run is let go.
        assert self.kernel is not None and not self.said
        self.said = self.kernel.collect(self.msg_id).text or "\n"
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


class RayWorkers(Workers):
    """``--kernels ray*2``: the trials on actors of a Ray started for the run. Killed with the
    driver's kernel, its actors end within seconds (:meth:`Workers.kill` waits for them); Ray's
    own node agents follow within a minute."""

    extra = " --kernels ray*2"


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

    def argv(self) -> list[str]:
        (self.root / "script.py").write_text(script(self.options + self.extra, self.setup,
                                                    self.body))
        return [sys.executable, "script.py"]

    def start(self, hold: bool = False, failpoints: str = "") -> None:
        self.proc = subprocess.Popen(self.argv(), cwd=self.root, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=as_from_a_terminal,
                                     env=self.env(hold, failpoints))

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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

    def processes(self) -> list[psutil.Process]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [psutil.Process(self.proc.pid), *descendants(self.proc.pid)]

    def kill_all(self) -> None:
        super().kill_all()
        if self.proc is not None:
            self.proc.communicate(timeout=60)  # reaped, its pipe drained

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

    def argv(self) -> list[str]:
        notebook(self.root / "tune.ipynb", self.options + self.extra, self.setup, self.body)
        return [sys.executable, "-m", "jupyter_automl.cli", "run", "tune.ipynb"]

    def pid(self) -> int:
        # the notebook's kernel, which papermill started
        assert self.proc is not None
        (kernel,) = descendants(self.proc.pid, "ipykernel")
        return kernel.pid

    def _wait(self) -> tuple[int, str]:
        """The command's exit code, and its output followed by the executed notebook's (when
        the command lived to write it)."""
        code, out = super()._wait()
        try:
            nb = nbformat.read(self.root / "tune.out.ipynb", as_version=4)
        except (OSError, ValueError):  # not written, or cut short (its disk full)
            return code, out
        texts = [o.get("text", "") + "\n".join(o.get("traceback", []))
                 for cell in nb.cells for o in cell.get("outputs", [])]
        return code, out + "\n".join(texts)
