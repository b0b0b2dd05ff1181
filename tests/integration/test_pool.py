"""Trials on real local worker kernels: setup replay, shipped variables, the gRPC storage proxy,
a worker killed mid-trial, a failing setup, and no orphan kernel left behind (the workers a run
keeps warm for the next one aside: tests/integration/test_warm_kernels.py)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    both_kernels,
    kernels_alive,
    orphan_kernels,
    study_of,
    wait_for,
    warm_pids,
)

from jupyter_automl._utils.failpoints import ENV
from jupyter_automl.engine import _background as background
from jupyter_automl.workers.kernels import KernelError, SetupError

pytestmark = pytest.mark.slow


def test_workers_run_the_trials_with_the_setup_and_shipped_data(ip: Any, tmp_path: Path,
                                                                capsys: Any) -> None:
    import numpy as np

    ip.run_cell_magic("automl_setup", "", "offset = 3")
    ip.user_ns["weights"] = np.arange(4.0)
    # a worker's first trial waits until the other worker runs one too: however slowly one
    # kernel starts, both take trials
    body = both_kernels('x = hp.float("x", -5, 5)\nprint("worker", os.getpid())\n'
                        'time.sleep(1)\n(x - 1) ** 2 + offset + weights.sum()', tmp_path / "ready")
    ip.run_cell_magic("automl", "pool --trials 6 --kernels 2 --ship weights --seed 0", body)
    trials = study_of(tmp_path / "runs", "pool").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 6
    assert all(t.value >= 9 for t in trials)  # offset and the shipped weights were there
    labels = {t.user_attrs["kernel"] for t in trials}
    assert labels <= {"local kernel 0", "local kernel 1"} and len(labels) == 2
    out = capsys.readouterr().out
    pids = {line.split()[-1] for line in out.splitlines() if "] worker " in line}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # the trials ran elsewhere
    assert orphan_kernels() == [] and len(warm_pids()) == 2  # both kept warm, no other left


def test_a_failing_setup_is_one_clear_error(ip: Any, tmp_path: Path) -> None:
    ip.user_ns["offset"] = 1
    ip.run_cell_magic("automl_setup", "", "offset = 1")
    ip.magics_manager.registry["Automl"].setup_cells.append("import not_a_module_here")
    try:
        with pytest.raises(SetupError, match=r"(?s)the setup failed on local kernel \d.*"
                                             r"ModuleNotFoundError.*not_a_module_here"):
            ip.run_cell_magic("automl", "bad --trials 4 --kernels 2", 'hp.float("x", 0, 1)')
    finally:
        ip.magics_manager.registry["Automl"].setup_cells.clear()
    assert study_of(tmp_path / "runs", "bad").trials == []  # no trial started, none retried
    assert kernels_alive() == []


def test_a_worker_killed_mid_trial_is_replaced_and_its_trial_resumes(
        ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kill placed exactly: the worker kernels (started with this process's environment)
    hold after their second epoch at the failpoint ``epoch.saved`` (docs/failpoints.md)."""
    held = tmp_path / "held"
    monkeypatch.setenv(ENV, f"epoch.saved@1=pause:{held}")
    ip.run_cell_magic("automl_setup", "", '''
import numpy as np
import keras
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
''')
    body = '''
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(hp.int("units", 4, 16)),
                          keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=5)
'''
    try:
        ip.run_cell_magic("automl", "kill --trials 4 --kernels 2 --background --pruner none",
                          body)
        run = background.get("kill")
        runner = run.runner

        def both_held() -> bool:
            try:
                return len(held.read_text().splitlines()) == 2
            except OSError:
                return False

        wait_for(both_held, 180, "both workers held after their second epoch")
        victim_pid = int(held.read_text().split()[0])
        (victim,) = [(label, number) for label, number in runner.executor.running.items()
                     if next(k for k in runner.executor.kernels if k.label == label).pid
                     == victim_pid]
        os.kill(victim_pid, signal.SIGKILL)
        held.with_name("held.released").touch()  # the replacement kernel passes the point
        held.unlink()
        run.wait(300)
    finally:
        ip.magics_manager.registry["Automl"].setup_cells.clear()
    trials = study_of(tmp_path / "runs", "kill").trials
    assert sum(t.state.name == "COMPLETE" for t in trials) == 4
    lost = trials[victim[1]]
    assert lost.state.name == "FAIL" and "its kernel died" in lost.user_attrs["failed_because"]
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == lost.number]
    assert retry.state.name == "COMPLETE" and retry.params == lost.params
    assert retry.user_attrs["resumed_at_epoch"] == 2
    assert [t.number for t in trials] == list(range(len(trials)))
    assert (tmp_path / "runs" / "kill" / "best" / "model.keras").exists()  # copied from a worker
    assert orphan_kernels() == []


def test_the_panel_shows_worker_trials(ip: Any) -> None:
    from jupyter_automl import run_study
    from jupyter_automl.ui._panel import StudyPanel

    panel = StudyPanel(display=False)
    ip.run_cell_magic("automl_setup", "", "offset = 0")
    try:
        run_study('hp.float("x", 0, 1)', "pw --trials 4 --kernels 2", ip.user_ns,
                  listeners=[panel], setup_cells=["offset = 0"])
    finally:
        ip.magics_manager.registry["Automl"].setup_cells.clear()
    kernels = {r["kernel"] for r in panel.table.rows}
    assert kernels <= {"local kernel 0", "local kernel 1"} and kernels
    assert "4/4 trials" in panel.header.value


def test_a_worker_that_never_answers_times_out_and_is_replaced(ip: Any, tmp_path: Path,
                                                               capsys: Any) -> None:
    flag = tmp_path / "hung-once"
    body = (f"import os, time\nx = hp.float('x', 0, 1)\nif not os.path.exists({str(flag)!r}):\n"
            f"    open({str(flag)!r}, 'w').close()\n    time.sleep(600)\nx")
    ip.run_cell_magic("automl", "hang --trials 2 --kernels 1 --trial-timeout 5s", body)
    trials = study_of(tmp_path / "runs", "hang").trials
    assert trials[0].state.name == "FAIL"
    assert "did not answer within 5s" in trials[0].user_attrs["failed_because"]
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == 0]
    assert retry.state.name == "COMPLETE" and retry.params == trials[0].params
    assert sum(t.state.name == "COMPLETE" for t in trials) == 2
    assert "trial 0 lost: local kernel 0 did not answer within 5s; the trial is queued" in \
        capsys.readouterr().out
    assert orphan_kernels() == []


def test_a_cell_that_hangs_every_time_stops_the_study(ip: Any, tmp_path: Path) -> None:
    """Each attempt times out, and each new draw too: after 3 in a row the study stops with
    an error saying so (it looped for ever before), the trials it finished kept."""
    from jupyter_automl.errors import TooManyFailuresError

    body = "import time\nx = hp.float('x', 0, 1)\nif x > 0.1:\n    time.sleep(600)\nx"
    with pytest.raises(TooManyFailuresError, match=r"3 trials in a row did not answer within "
                                                   r"--trial-timeout; the last: local kernel 0 "
                                                   r"did not answer within 3s"):
        ip.run_cell_magic("automl", "hangs --trials 3 --kernels 1 --trial-timeout 3s --seed 0",
                          body)
    trials = study_of(tmp_path / "runs", "hangs").trials
    states = [t.state.name for t in trials]
    assert states.count("FAIL") >= 3 and "RUNNING" not in states, states
    assert orphan_kernels() == []


def test_a_worker_killed_while_it_starts_is_replaced(ip: Any, tmp_path: Path,
                                                     capsys: Any) -> None:
    """The first kernel to replay the setup is killed there (kill -9): a new one takes its
    place and the study runs to its end on both."""
    flag = tmp_path / "killed-once"
    setup = (f"import os, signal\nif not os.path.exists({str(flag)!r}):\n"
             f"    open({str(flag)!r}, 'w').close()\n    os.kill(os.getpid(), signal.SIGKILL)")
    ip.run_cell_magic("automl_setup", "", "pass")
    registry = ip.magics_manager.registry["Automl"]
    registry.setup_cells[:] = [setup]
    try:
        ip.run_cell_magic("automl", "starts --trials 4 --kernels 2", 'hp.float("x", 0, 1)')
    finally:
        registry.setup_cells.clear()
    trials = study_of(tmp_path / "runs", "starts").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    assert "died as it started" in capsys.readouterr().out
    assert orphan_kernels() == []


def _dying_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, times: int) -> Path:
    """Worker kernels that die as they start, ``times`` times in all (an IPython startup file
    runs before a kernel answers, as a kernel that cannot bind its ports dies)."""
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    deaths = tmp_path / "deaths"
    deaths.mkdir()
    (startup / "00-die.py").write_text(
        "import os\n"
        "if os.environ.get('JUPYTER_AUTOML_WORKER'):\n"
        f"    deaths = {str(deaths)!r}\n"
        f"    if len(os.listdir(deaths)) < {times}:\n"
        "        open(os.path.join(deaths, str(os.getpid())), 'w').close()\n"
        "        os._exit(1)\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return deaths


def test_a_kernel_that_dies_as_it_starts_is_started_again(ip: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    deaths = _dying_start(tmp_path, monkeypatch, times=1)
    ip.run_cell_magic("automl", "again --trials 2 --kernels 1 --seed 0", 'hp.float("x", 0, 1)')
    assert len(os.listdir(deaths)) == 1  # it died once, and the next start served the trials
    trials = study_of(tmp_path / "runs", "again").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 2
    assert orphan_kernels() == []


def test_a_kernel_that_always_dies_as_it_starts_is_one_clear_error(
        ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deaths = _dying_start(tmp_path, monkeypatch, times=100)
    with pytest.raises(KernelError, match=r"local kernel 0 did not start: Kernel died before "
                                          r"replying to kernel_info"):
        ip.run_cell_magic("automl", "dead --trials 2 --kernels 1", 'hp.float("x", 0, 1)')
    assert len(os.listdir(deaths)) == 3  # started three times, then given up
    assert study_of(tmp_path / "runs", "dead").trials == []
    assert kernels_alive() == []


def _channels_on_unix_sockets(km: Any) -> bool:
    """Whether the kernel's five channels are Unix sockets it listens on (ipykernel binds a
    TCP port of its own for its output pipe, with zmq's bind_to_random_port: no race)."""
    import psutil

    info = km.get_connection_info()
    channels = {f"{info['ip']}-{info[f'{name}_port']}"
                for name in ("shell", "iopub", "stdin", "control", "hb")}
    listening = {c.laddr for c in psutil.Process(km.provisioner.pid).net_connections("unix")}
    return info["transport"] == "ipc" and len(channels) == 5 and channels <= listening


def test_the_kernels_it_starts_draw_no_tcp_port_and_leave_no_socket(tmp_path: Path) -> None:
    """A TCP port is drawn by binding port 0 and letting it go: two processes starting kernels
    at once drew the same one in fresh clone fc19, and the second kernel died binding it
    ("Address already in use"). Worker kernels and headless runs' kernels talk over Unix
    sockets named after the kernel, in Jupyter's runtime folder, removed when it ends; those
    of a kernel killed outright are removed by a later start."""
    import asyncio
    import glob
    import socket

    from jupyter_automl._utils.process import prune_kernel_files
    from jupyter_automl.batch import HeadlessKernelManager
    from jupyter_automl.workers.kernels._local import LocalKernel

    def files(km: Any) -> list[str]:  # this kernel's (other tests start kernels meanwhile)
        stem = os.path.splitext(km.connection_file)[0]
        return sorted(glob.glob(glob.escape(stem) + "*"))

    worker = LocalKernel(0, tmp_path)
    worker.start()
    assert _channels_on_unix_sockets(worker.km)
    assert worker.execute("x = 6 * 7", expressions={"x": "x"}).expressions["x"]["data"] == {
        "text/plain": "42"}
    km = worker.km
    assert [os.path.basename(f)[-5:] for f in files(km)] == [
        "ipc-1", "ipc-2", "ipc-3", "ipc-4", "ipc-5", ".json"]
    old = time.time() - 3600
    os.utime(km.connection_file, (old, old))
    folder = os.path.dirname(km.connection_file)
    assert km.connection_file not in prune_kernel_files(folder)  # it answers: kept
    worker.kill()  # as the notebook's exit does: the files go with it
    assert files(km) == []

    # a kernel killed outright leaves its files: a later start removes them once stale
    stem = os.path.join(folder, "automl-kernel-deadbeef0000")
    with open(stem + ".json", "w") as connection:
        connection.write("{}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.bind(stem + "-ipc-1")  # bound once, by a process no longer listening
    assert stem + ".json" not in prune_kernel_files(folder)  # young: perhaps still starting
    os.utime(stem + ".json", (old, old))
    assert stem + ".json" in prune_kernel_files(folder)
    assert glob.glob(glob.escape(stem) + "*") == []

    async def headless() -> None:
        km = HeadlessKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(tmp_path))
        client = km.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            assert _channels_on_unix_sockets(km) and len(files(km)) == 6
        finally:
            client.stop_channels()
            await km.shutdown_kernel(now=True)
        assert files(km) == []

    asyncio.run(headless())
