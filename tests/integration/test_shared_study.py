"""One study, many runners: processes sharing a runs folder (SQLite), and "machines" (each its
own runs folder) sharing a real PostgreSQL, started at once, killed, paused.

The runners train fault_study's plain study (a loop checkpointing a dict): what is tried here is
the study between runners (its total, lock files, heartbeats, retries and their checkpoints), the
same for any training, so no runner pays for TensorFlow's import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from fault_study import EPOCHS, NAME, OPTIONS, PLAIN_BODY, PLAIN_SETUP, Hold, Study, script

from jupyter_automl.runs import GRACE_BEATS

pytestmark = pytest.mark.slow

QUAD = 'import time\ntime.sleep(0.1)\nx = hp.float("x", -5, 5)\n(x - 1) ** 2'


def runner(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, text=True,
                            env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def output(proc: subprocess.Popen[str], ok: bool = True) -> str:
    out, _ = proc.communicate(timeout=300)
    if ok:
        assert proc.returncode == 0, out
    return out


def quad_at(start: float, trials: int) -> str:
    """A quick study run by a process that waits until ``start`` (to start runners at once)."""
    return (f"import time\nwhile time.time() < {start}: time.sleep(0.001)\n"
            f"import jupyter_automl\njupyter_automl.run_study({QUAD!r}, "
            f"'quad --trials {trials}', namespace={{}}, display='text')\n")


def states(runs: Path, name: str = "quad") -> list[str]:
    return [t.state.name for t in Study(runs, name=name).trials()]


def test_two_processes_create_one_new_study_at_once(tmp_path: Path) -> None:
    start = time.time() + 4  # both past their imports, then both create the study
    procs = [runner(quad_at(start, 12), tmp_path) for _ in range(2)]
    outs = [output(p) for p in procs]
    assert not [o for o in outs if "Error" in o], outs
    done = states(tmp_path / "automl_runs")
    # the total counts both runners; at most one trial in flight beyond it
    assert 12 <= done.count("COMPLETE") <= 13 and "FAIL" not in done, done


def test_two_processes_share_the_total_of_an_existing_study(tmp_path: Path) -> None:
    output(runner(quad_at(0, 4), tmp_path))
    start = time.time() + 3
    procs = [runner(quad_at(start, 16), tmp_path) for _ in range(2)]
    for proc in procs:
        output(proc)
    done = states(tmp_path / "automl_runs")
    assert 16 <= done.count("COMPLETE") <= 17 and "FAIL" not in done, done  # not 4 + 2 x 12


Start = Callable[[dict[str, str]], subprocess.Popen[str]]


def kill_the_first_of_two(study: Study, hold: Hold, first: Start, second: Start,
                          heartbeats: bool = False) -> tuple[int, str]:
    """Two runners, each held mid-trial (after its trial's first checkpoint:
    ``epoch.saved@0``), the first ``kill -9``-ed there and the second let go (once the first's
    heartbeat is past the grace, with ``heartbeats``: its next look finds the trial lost): the
    trial lost, and the second's output."""
    one = first(hold.env("epoch.saved@0"))
    (pid,) = hold.wait(1, "the first runner")
    lost = study.held_trial(pid)
    two = second(hold.env("epoch.saved@0"))
    hold.wait(2, "the second runner")
    one.kill()
    one.wait()
    if heartbeats:
        wait_stale(study, lost)
    hold.release()
    out = output(two)
    assert f"trial {lost} of study '{NAME}' lost its runner" in out, out
    return lost, out


def test_kill_9_of_one_runner_the_other_retries_its_trial(tmp_path: Path) -> None:
    study = Study(tmp_path / "automl_runs")
    options = OPTIONS.replace("--trials 4", "--trials 6")
    def start(env: dict[str, str]) -> subprocess.Popen[str]:
        return runner(script(options, PLAIN_SETUP, PLAIN_BODY), tmp_path, env)

    lost, _ = kill_the_first_of_two(study, Hold(tmp_path / "held"), start, start)
    study.check({}, [lost], total=6)
    assert study.trials()[lost].user_attrs["failed_because"] == "its kernel died"


# -- two machines: two runs folders, one PostgreSQL study ----------------------------------------
FAST_BEATS = {"JUPYTER_AUTOML_HEARTBEAT": "0.5"}  # a dead runner is known after 2 s
GRACE = 0.5 * GRACE_BEATS


def wait_stale(study: Study, number: int) -> None:
    """Until trial ``number``'s heartbeat is older than the grace: a runner's next look then
    takes it for lost (the plain study's trials end in moments, so a runner let go at once
    would finish its own before the beat had gone stale)."""
    wait_for(lambda: study.heartbeat_age(number) > GRACE, 60,
             f"trial {number}'s heartbeat to go stale")


def machine(url: str, root: Path, checkpoints: Path | None, trials: int = 6) -> str:
    options = OPTIONS.replace("--trials 4", f"--trials {trials}") + f" --storage {url}"
    if checkpoints is not None:
        options += f" --checkpoint-dir {checkpoints}"
    root.mkdir(parents=True, exist_ok=True)
    return script(options, PLAIN_SETUP, PLAIN_BODY)


def test_a_second_machine_leaves_the_first_ones_trial_alone(postgres_url: str,
                                                            tmp_path: Path) -> None:
    """The bug this file began with: machine B, starting while A was in a trial, took A's trial
    for dead (no lock of A's in B's runs folder) and A crashed on telling it."""
    study = Study(tmp_path, url=postgres_url, trials_dir=tmp_path / "ckpt" / NAME / "trials")
    hold = Hold(tmp_path / "held")  # A held mid-trial until B has run one of its own
    a = runner(machine(postgres_url, tmp_path / "a", tmp_path / "ckpt"), tmp_path / "a",
               {**FAST_BEATS, **hold.env("epoch.saved@0")})
    hold.wait(1, "machine A")
    b = runner(machine(postgres_url, tmp_path / "b", tmp_path / "ckpt"), tmp_path / "b",
               FAST_BEATS)
    wait_for(lambda: any(t.state.name == "COMPLETE" for t in study.trials()), 240,
             "machine B to finish a trial")
    hold.release()
    outs = output(a) + output(b)
    assert "Traceback" not in outs and "lost its runner" not in outs, outs
    study.check({}, [], total=6)
    assert not [t.number for t in study.trials() if t.state.name == "FAIL"]
    runners = {t.user_attrs["runner"]["lock"].split("/runners/")[0] for t in study.trials()}
    assert runners == {str(tmp_path / "a" / "automl_runs" / NAME),
                       str(tmp_path / "b" / "automl_runs" / NAME)}  # both machines ran trials


@pytest.mark.parametrize("shared", [True, False], ids=["shared-checkpoints", "own-checkpoints"])
def test_a_machine_killed_mid_trial_is_found_by_its_heartbeat(
        postgres_url: str, tmp_path: Path, shared: bool) -> None:
    """kill -9 of machine A: B sees A's heartbeat go stale and retries A's trial, from its
    checkpoint when both keep them on a shared disk, else from epoch 0 with a line why."""
    ckpt = tmp_path / "ckpt" if shared else None
    trials_a = tmp_path / "ckpt" / NAME / "trials" if shared else \
        tmp_path / "a" / "automl_runs" / NAME / "trials"
    study_a = Study(tmp_path, url=postgres_url, trials_dir=trials_a)
    def at(name: str) -> Start:
        return lambda env: runner(machine(postgres_url, tmp_path / name, ckpt), tmp_path / name,
                                  {**FAST_BEATS, **env})

    lost, out = kill_the_first_of_two(study_a, Hold(tmp_path / "held"), at("a"), at("b"),
                                      heartbeats=True)
    study_a.check({}, [lost], resumed=shared, total=6)
    why = study_a.trials()[lost].user_attrs["failed_because"]
    assert why.startswith("its runner stopped sending heartbeats"), why
    if not shared:
        assert f"the checkpoint of trial {lost} cannot be used (it ran in another runs folder " \
               "or on another machine" in out and "--checkpoint-dir" in out, out


def test_a_runner_whose_trial_was_taken_carries_on(postgres_url: str, tmp_path: Path) -> None:
    """Machine A stops for longer than the grace period (SIGSTOP: a suspended VM, a network
    cut): B takes its trial over. When A wakes up, it says so and goes on, no raw error."""
    study = Study(tmp_path, url=postgres_url, trials_dir=tmp_path / "ckpt" / NAME / "trials")
    hold = Hold(tmp_path / "held")  # A held after its trial's first checkpoint, then stopped
    a = runner(machine(postgres_url, tmp_path / "a", tmp_path / "ckpt"), tmp_path / "a",
               {**FAST_BEATS, **hold.env("epoch.saved@0")})
    hold.wait(1, "machine A")
    lost = study.held_trial(a.pid)
    a.send_signal(signal.SIGSTOP)
    try:
        wait_stale(study, lost)
        b = runner(machine(postgres_url, tmp_path / "b", tmp_path / "ckpt"), tmp_path / "b",
                   FAST_BEATS)
        wait_for(lambda: lost in study.lost(), 120, "machine B to take trial over")
    finally:
        a.send_signal(signal.SIGCONT)
        hold.release()
    out_a = output(a)
    output(b)
    assert f"trial {lost} was taken over while it ran here" in out_a, out_a
    assert "Cannot tell" not in out_a and "Traceback" not in out_a, out_a
    study.check({}, [lost], total=6)
    assert study.saved(lost) >= 1 and EPOCHS > 1



def held_at_trial_1(url: str, tmp_path: Path) -> tuple[Study, Hold, subprocess.Popen[str], int,
                                                       dict[int, Any]]:
    """A runner of a 4-trial PostgreSQL study held after trial 1's first epoch: the study, the
    hold, the runner, the held trial and the trials finished by then."""
    study = Study(tmp_path, url=url, trials_dir=tmp_path / "a" / "automl_runs" / NAME / "trials")
    hold = Hold(tmp_path / "held")
    a = runner(machine(url, tmp_path / "a", None, trials=4), tmp_path / "a",
               {**FAST_BEATS, **hold.env("epoch.saved@4")})
    (pid,) = hold.wait(1, "trial 1")
    return study, hold, a, study.held_trial(pid), study.finished()


def test_a_postgresql_restart_mid_study_loses_nothing(postgres: Any, tmp_path: Path) -> None:
    """The database server restarts while a trial trains (its connections cut): the runner
    reconnects and the study reaches its total, with no raw database error. The trial in
    flight finishes, or, when its next report met a cut connection, is retried from its
    checkpoint (the storage's fault, not the cell's)."""
    study, hold, a, held, kept = held_at_trial_1(postgres.url, tmp_path)
    postgres.stop()
    postgres.start()
    hold.release()
    out = output(a)
    assert "Traceback" not in out and "sqlalchemy" not in out.lower(), out
    lost = study.lost()
    assert lost in ([], [held]), lost
    study.check(kept, lost, total=4, saved={held: 1})
    if lost:
        why = study.trials()[held].user_attrs["failed_because"]
        assert why.startswith("its storage failed (") and f"trial {held} lost: " in out, why


def test_a_postgresql_outage_mid_trial_ends_the_run_and_the_rerun_resumes(
        postgres: Any, tmp_path: Path) -> None:
    """The server is down when the trial next reports: the run ends with our error saying the
    server cannot be reached (no raw database error); once it is back, the rerun retries the
    cut trial from its checkpoint and reaches the total, every finished trial kept."""
    study, hold, a, held, kept = held_at_trial_1(postgres.url, tmp_path)
    postgres.stop()
    hold.release()
    out = output(a, ok=False)
    assert a.returncode == 1, out
    said = out[out.index("StorageError"):]
    assert "the study's database server postgresql://automl:***@127.0.0.1" in said, said
    assert "cannot be reached (" in said and "then rerun" in said, said
    assert "sqlalchemy" not in out.lower() and "invalid data in the commit" not in out, out
    postgres.start()
    output(runner(machine(postgres.url, tmp_path / "a", None, trials=4), tmp_path / "a",
                  FAST_BEATS))
    study.check(kept, [held], total=4, saved={held: 1})
