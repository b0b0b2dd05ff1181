"""Warm worker kernels, with real kernels: a second run reuses them (and starts its first trial
at once), a changed setup is replayed or restarts them, ``%automl kernels`` lists and stops them,
a worker killed between runs is replaced, an interrupt never leaves a dirty kernel warm, and
none outlives the notebook's kernel, even one killed with ``kill -9``."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import kernels_alive, orphan_kernels, study_of, wait_for, warm_pids

from jupyter_automl.engine import _background as background
from jupyter_automl.errors import StudyInterrupted
from jupyter_automl.workers import _warm

pytestmark = pytest.mark.slow

# Each trial notes when it started (the first of a run tells how long the run took to begin).
STAMP = ('import os, time\nx = hp.float("x", 0, 1)\n'
         'with open(os.path.join({folder!r}, f"{{time.time()}}-{{os.getpid()}}"), "w"):\n'
         '    pass\n')


def stamped(tmp_path: Path, name: str, value: str = "x") -> tuple[Path, str]:
    folder = tmp_path / f"stamps-{name}"
    folder.mkdir()
    return folder, STAMP.format(folder=str(folder)) + value


def first_start(folder: Path) -> float:
    return min(float(p.name.split("-")[0]) for p in folder.iterdir())


def setup(ip: Any, *cells: str) -> None:
    """The recorded setup cells are ``cells`` (each run here too, as the magic does)."""
    for cell in cells:
        ip.run_cell(cell)
    ip.magics_manager.registry["Automl"].setup_cells[:] = list(cells)


@pytest.fixture(autouse=True)
def no_setup(ip: Any) -> Any:
    yield
    ip.magics_manager.registry["Automl"].setup_cells.clear()


def gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_second_run_reuses_the_warm_kernels_and_starts_at_once(ip: Any, tmp_path: Path,
                                                                 capsys: Any) -> None:
    setup(ip, "offset = 10")
    folder, body = stamped(tmp_path, "one", "x + offset")
    ip.run_cell_magic("automl", "one --trials 2 --kernels 2", body)
    pids = warm_pids()
    assert len(pids) == 2 and orphan_kernels() == []
    folder, body = stamped(tmp_path, "two", "x + offset")
    start = time.time()
    ip.run_cell_magic("automl", "two --trials 4 --kernels 2", body)
    waited = first_start(folder) - start
    assert warm_pids() == pids  # the same processes ran the second study
    assert {int(p.name.split("-")[1]) for p in folder.iterdir()} <= pids
    assert waited < 2.0, f"the first trial started {waited:.2f}s after the cell"  # cold: ~4s
    trials = study_of(tmp_path / "runs", "two").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    assert all(t.value >= 10 for t in trials)  # the setup replayed on the first run is there

    capsys.readouterr()
    ip.run_line_magic("automl", "kernels")
    listing = capsys.readouterr().out
    assert "2 warm worker kernels" in listing and "last study 'two'" in listing
    for pid in pids:
        assert f"pid {pid} " in listing
    assert listing.count(" idle ") == 2 and " MB " in listing
    ip.run_line_magic("automl", "kernels stop")
    assert "stopped 2 warm worker kernels" in capsys.readouterr().out
    assert kernels_alive() == []
    ip.run_line_magic("automl", "kernels")
    ip.run_line_magic("automl", "kernels stop")
    out = capsys.readouterr().out
    assert "no warm worker kernels:" in out and "no warm worker kernels to stop" in out


def test_a_changed_setup_is_replayed_or_restarts_the_kernel(ip: Any, tmp_path: Path,
                                                            capsys: Any) -> None:
    import numpy as np

    # what a trial sees of the setup and the shipped variables ("b" in globals(): a name that
    # a kernel kept from an earlier setup would show)
    body = ('hp.float("x", 0, 1)\n'
            'a * 100 + sum(globals().get("weights", [])) + ("b" in globals()) * 10')

    def run(name: str, options: str = "") -> float:
        ip.run_cell_magic("automl", f"{name} --trials 1 --kernels 1 {options}", body)
        (trial,) = study_of(tmp_path / "runs", name).trials
        return float(trial.value)

    setup(ip, "a = 1")
    assert run("s1") == 100
    (pid,) = warm_pids()
    setup(ip, "a = 1", "b = 2")  # a setup cell appended: replayed on the same kernel
    assert run("s2") == 110 and warm_pids() == {pid}
    ip.user_ns["weights"] = np.ones(2)  # a variable shipped, then changed: loaded there
    assert run("s3", "--ship weights") == 112 and warm_pids() == {pid}
    ip.user_ns["weights"] = np.ones(3)
    assert run("s4", "--ship weights") == 113 and warm_pids() == {pid}
    assert "starting a new kernel" not in capsys.readouterr().out
    setup(ip, "a = 2")  # a setup cell changed: a new kernel, without the old setup's names
    assert run("s5", "--ship weights") == 203
    (new,) = warm_pids()
    assert new != pid and gone(pid)
    assert "the setup cells or shipped variables changed" in capsys.readouterr().out
    assert run("s6") == 200 and warm_pids() != {new}  # a variable no longer shipped: its name
    assert orphan_kernels() == []  # would linger in the kernel, so a new one


def test_a_busy_kernel_is_listed_and_stop_ends_it_with_its_run(ip: Any, tmp_path: Path,
                                                                capsys: Any) -> None:
    go = tmp_path / "go"
    body = (f'import os, time\nx = hp.float("x", 0, 1)\nwhile not os.path.exists({str(go)!r}):\n'
            '    time.sleep(0.05)\nx')
    ip.run_cell_magic("automl", "busy --trials 2 --kernels 1 --background", body)
    run = background.get("busy")
    try:
        wait_for(lambda: bool(run.runner and run.runner.executor.running), 120, "a trial")
        capsys.readouterr()
        ip.run_line_magic("automl", "kernels")
        assert "busy: busy" in capsys.readouterr().out
        ip.run_line_magic("automl", "kernels stop")
        assert "local kernel 0 runs study 'busy': it ends when that run does" in \
            capsys.readouterr().out
    finally:
        go.touch()
        run.wait(120)
    assert [t.state.name for t in study_of(tmp_path / "runs", "busy").trials] == \
        ["COMPLETE"] * 2  # the run was not cut short
    assert kernels_alive() == []  # and its kernel ended with it


def test_a_worker_killed_between_runs_is_replaced(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "k1 --trials 2 --kernels 2", stamped(tmp_path, "k1")[1])
    kernels = {w.kernel.index: w.kernel.pid for w in _warm.REGISTRY}
    os.kill(kernels[0], signal.SIGKILL)
    wait_for(lambda: gone(kernels[0]), 10, "the killed kernel to end")
    ip.run_cell_magic("automl", "k2 --trials 4 --kernels 2", stamped(tmp_path, "k2")[1])
    assert [t.state.name for t in study_of(tmp_path / "runs", "k2").trials] == ["COMPLETE"] * 4
    now = {w.kernel.index: w.kernel.pid for w in _warm.REGISTRY}
    assert now[1] == kernels[1] and now[0] != kernels[0]
    assert orphan_kernels() == []


def test_an_interrupt_mid_trial_never_leaves_that_kernel_warm(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", "i0 --trials 1 --kernels 1", stamped(tmp_path, "i0")[1])
    (pid,) = warm_pids()
    folder, body = stamped(tmp_path, "i1", "time.sleep(600)")
    timer = threading.Thread(target=lambda: (wait_for(lambda: any(folder.iterdir()), 60,
                                                      "the trial"), _thread.interrupt_main()))
    timer.start()
    started = time.monotonic()
    with pytest.raises(StudyInterrupted):
        ip.run_cell_magic("automl", "i1 --trials 1 --kernels 1", body)
    timer.join()
    assert time.monotonic() - started < 30  # stopped promptly, not after the trial
    assert gone(pid) and warm_pids() == set() and kernels_alive() == []
    ip.run_cell_magic("automl", "i2 --trials 1 --kernels 1", stamped(tmp_path, "i2")[1])
    assert study_of(tmp_path / "runs", "i2").trials[0].state.name == "COMPLETE"


def test_the_workers_end_with_a_notebook_kernel_killed_with_kill_9(kernels: Any,
                                                                  tmp_path: Path) -> None:
    notebook = kernels()
    reply = notebook.execute("%load_ext jupyter_automl\n%config Automl.display = 'text'")
    assert reply.status == "ok", reply.text
    reply = notebook.execute('%%automl nb --trials 2 --kernels 2\nhp.float("x", 0, 1)')
    assert reply.status == "ok", reply.text
    workers = [p.pid for p in descendants(notebook.pid)]
    assert len(workers) == 2  # kept warm after the run
    os.kill(notebook.pid, signal.SIGKILL)
    wait_for(lambda: all(gone(pid) for pid in workers), 15, "the workers to end")


def test_the_workers_end_with_a_notebook_kernel_shut_down(kernels: Any) -> None:
    notebook = kernels()
    reply = notebook.execute("%load_ext jupyter_automl\n%config Automl.display = 'text'\n"
                             '%automl kernels')
    assert "no warm worker kernels" in reply.text
    reply = notebook.execute('%%automl nb --trials 2 --kernels 2\nhp.float("x", 0, 1)')
    assert reply.status == "ok", reply.text
    workers = [p.pid for p in descendants(notebook.pid)]
    assert len(workers) == 2
    notebook.km.shutdown_kernel(now=False)  # a shutdown request, as Lab's "Shut Down Kernel"
    wait_for(lambda: all(gone(pid) for pid in workers), 15, "the workers to end")


def test_a_worker_ends_soon_after_its_parent_is_killed(tmp_path: Path) -> None:
    """The watch alone (ipykernel's own poller aside): a process that watches its parent."""
    child = ("import subprocess, sys, time\n"
             "p = subprocess.Popen([sys.executable, '-c', 'import os, time\\n"
             "from jupyter_automl.workers.kernels._watch import watch\\n"
             "watch(os.getppid(), every=0.2)\\nprint(\\'watching\\', flush=True)\\n"
             "time.sleep(60)'])\n"
             "print(p.pid, flush=True)\ntime.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    said = {parent.stdout.readline().strip(), parent.stdout.readline().strip()}
    assert "watching" in said, said  # the watch has started
    (watcher,) = (int(word) for word in said if word.isdigit())
    assert not gone(watcher)
    parent.kill()
    parent.wait()
    wait_for(lambda: gone(watcher), 5, "the watching process to end")


def descendants(pid: int) -> list[Any]:
    import psutil

    return [p for p in psutil.Process(pid).children(recursive=True)
            if "ipykernel" in " ".join(p.cmdline())]
