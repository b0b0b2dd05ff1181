"""Failpoints (``jupyter_automl._utils.failpoints``): how they are armed, what each action does,
and that the points the docs name are the points the code passes."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_automl._utils import failpoints
from jupyter_automl._utils.failpoints import POINTS, FailpointError, arm, disarm, hit

PACKAGE = Path(failpoints.__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def disarmed() -> Iterator[None]:
    disarm()
    yield
    disarm()


def test_an_unarmed_point_does_nothing() -> None:
    for name in POINTS:
        hit(name)


def test_a_point_fires_once_after_its_passes() -> None:
    arm("trial.told@2=raise")
    hit("trial.told")
    hit("trial.told")
    with pytest.raises(FailpointError, match="trial.told"):
        hit("trial.told")
    hit("trial.told")  # it fired: later passes go through
    hit("trial.tell")  # another point is not armed


def test_enospc_is_the_error_of_a_full_disk() -> None:
    arm("checkpoint.write=enospc")
    with pytest.raises(OSError) as info:
        hit("checkpoint.write")
    assert info.value.errno == errno.ENOSPC


def test_sleep_waits_at_least_its_duration() -> None:
    arm("spec.write=sleep:0.2s")
    start = time.monotonic()
    hit("spec.write")
    assert time.monotonic() - start >= 0.2


def test_pause_holds_until_its_file_is_removed(tmp_path: Path) -> None:
    """The paused thread writes the file, then holds: the test sees the file (the process is
    at the point), and the thread goes on only once the file is gone."""
    import threading

    held = tmp_path / "held"
    arm(f"trial.told@1=pause:{held}")
    passed = threading.Event()

    def trial_loop() -> None:
        hit("trial.told")  # its first pass goes through
        hit("trial.told")
        passed.set()

    thread = threading.Thread(target=trial_loop)
    thread.start()
    while not held.exists():  # an observable event: the file, written when it holds
        thread.join(0.01)
    assert held.read_text().split() == [str(os.getpid()), "trial.told"]
    assert not passed.is_set()
    held.unlink()
    thread.join(10)
    assert passed.is_set()


@pytest.mark.parametrize("spec, said", [
    ("trial.toldd=kill", "there is no failpoint 'trial.toldd'"),
    ("trial.told=explode", "is not NAME[@N]=ACTION"),
    ("trial.told@x=kill", "is not NAME[@N]=ACTION"),
    ("trial.told=sleep:soon", "is not NAME[@N]=ACTION"),
    ("trial.told", "is not NAME[@N]=ACTION"),
])
def test_a_misspelt_failpoint_is_an_error_naming_it(spec: str, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        arm(spec)


def test_kill_is_sigkill_of_the_process_and_the_environment_arms_it() -> None:
    """A real process, armed by the environment variable, killed at the third pass."""
    code = ("from jupyter_automl._utils.failpoints import hit\n"
            "for i in range(5):\n"
            "    print(i, flush=True)\n"
            "    hit('checkpoint.saved')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, failpoints.ENV: "checkpoint.saved@2=kill"},
                          timeout=60)
    assert done.returncode == -9
    assert done.stdout.split() == ["0", "1", "2"]
    assert "failpoint checkpoint.saved fires: kill" in done.stderr


def test_a_bad_environment_variable_says_so_at_import() -> None:
    done = subprocess.run([sys.executable, "-c", "import jupyter_automl._utils.failpoints"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, failpoints.ENV: "nowhere=kill"})
    assert done.returncode != 0 and "there is no failpoint 'nowhere'" in done.stderr


def test_every_point_is_passed_by_the_code_and_every_pass_is_a_point() -> None:
    """The table of points (docs/failpoints.md is written from it) and the code agree."""
    passed: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        passed |= set(re.findall(r'failpoint\("([\w.]+)"\)', text))
        for prefix in re.findall(r'failpoint="(\w+)"', text):
            passed |= {f"{prefix}.write", f"{prefix}.rename"}
    assert passed == set(POINTS)
    docs = (PACKAGE.parent / "docs" / "failpoints.md").read_text()
    assert all(f"`{name}`" in docs for name in POINTS)


def test_a_stop_request_is_looked_for_at_once_at_a_step_s_end(tmp_path: Path) -> None:
    """Within a step the request file is looked for at most every POLL seconds; at a step's
    end (``look=True``) at once, so a request written during a step stops at its end."""
    from jupyter_automl.engine._runner import StopSignal

    request = tmp_path / "stop.request"
    stop = StopSignal(request)
    stop.POLL = 3600.0  # however slow the machine, the next look is not due
    assert not stop.is_set()  # looked: nothing there
    request.touch()
    assert not stop.is_set()  # within POLL of the last look: not looked again
    assert stop.is_set(look=True)
