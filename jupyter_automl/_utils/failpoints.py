"""Failpoints: named places in the code where a test (or a user reproducing a bug) makes this
process fail exactly there, the technique of etcd's gofail and CockroachDB's failpoints.

Off unless ``JUPYTER_AUTOML_FAILPOINTS`` names some, read once when this module is imported
(worker kernels and papermill's kernels inherit it with the environment)::

    JUPYTER_AUTOML_FAILPOINTS="checkpoint.saved@2=kill"          # SIGKILL at the third save
    JUPYTER_AUTOML_FAILPOINTS="trial.told=raise;spec.write=sleep:2s"
    JUPYTER_AUTOML_FAILPOINTS="checkpoint.write=enospc"          # as if the disk were full
    JUPYTER_AUTOML_FAILPOINTS="epoch.saved@4=pause:/tmp/held"    # hold there until released

Each entry is ``NAME[@N]=ACTION``: the point ``NAME`` is passed ``N`` times first (default 0,
so the first pass fires), then fires once. ``ACTION`` is ``kill`` (SIGKILL of this process,
nothing flushed or cleaned up, as ``kill -9``), ``raise`` (a :class:`FailpointError`),
``sleep:DURATION`` (``0.5s``, ``2m``), ``enospc`` (an ``OSError`` with ``errno.ENOSPC``, as a
full disk gives) or ``pause:PATH``: the thread passing the point adds a line to the file
``PATH`` and holds there until the file is removed, ten minutes at most. A test waits for the
file, hurts the process while it is held at an exact point, then removes the file to let it go
on; a signal, such as an interrupt, reaches it there. Once a file ``PATH.released`` exists,
the point no longer holds, in a process started later too. Entries are separated by ``;`` or
``,``. A name that is not a point, or an entry that does not read, is an error when the
package is imported: a misspelt point never passes silently.

Unset, a point costs one test of an empty dict (``benchmarks/overhead.py`` measures it). The
points and where they sit are listed in :data:`POINTS` and in ``docs/failpoints.md``.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ENV = "JUPYTER_AUTOML_FAILPOINTS"

# every point the code passes, and where
POINTS = {
    "checkpoint.write": "a trial's checkpoint file being written (its temporary file)",
    "checkpoint.rename": "between a checkpoint's write and its rename into place",
    "checkpoint.state": "between a checkpoint's rename into place and its state.json's write",
    "checkpoint.saved": "after a trial's checkpoint (and its state.json) is on disk",
    "checkpoint.stored": "after a trial's checkpoint is uploaded to --checkpoint-store",
    "trial.tell": "before a trial's outcome is told to the storage",
    "trial.told": "after a trial's outcome is told, before the next trial is asked for",
    "best.export": "inside the export of the best model, before its file is in place",
    "spec.write": "while the study's spec.json is written (its temporary file)",
    "spec.rename": "between the spec's write and its rename into place",
    "pbt.queue": "while a PBT generation is queued, after its first member",
    "epoch.saved": "on the training thread, once an epoch (or a custom loop's step) is "
                   "reported and its checkpoint handed to the writer, before Stop is read",
    "batch.begin": "on the training thread as a batch begins, under --checkpoint-every "
                   "(not the epoch's first batch), before the time to save or a Stop is read",
    "worker.reply": "inside a worker kernel, with the trial run, before it replies",
    "stop.read": "while the study's stop request is read",
    "runner.claim": "as a runner records a trial it starts in its lock file, the trial asked",
    "study.backup": "while the copy of study.db is taken, before it is checked and renamed",
}


class FailpointError(RuntimeError):
    """What a failpoint with the action ``raise`` raises."""


@dataclass
class _Armed:
    name: str
    skip: int  # passes left before it fires
    action: str
    fired: bool = False


def _parse(text: str) -> dict[str, _Armed]:
    armed: dict[str, _Armed] = {}
    for entry in (e.strip() for e in text.replace(",", ";").split(";")):
        if not entry:
            continue
        point, sep, action = entry.partition("=")
        name, _, count = point.strip().partition("@")
        action = action.strip()
        if not sep or not name or not _valid_action(action) or (count and not count.isdigit()):
            raise ValueError(f"{ENV}: {entry!r} is not NAME[@N]=ACTION with ACTION one of kill, "
                             "raise, sleep:DURATION, enospc, pause:PATH")
        if name not in POINTS:
            raise ValueError(f"{ENV}: there is no failpoint {name!r}; the points are "
                             f"{', '.join(sorted(POINTS))}")
        armed[name] = _Armed(name, int(count or 0), action)
    return armed


def _valid_action(action: str) -> bool:
    if action.startswith("pause:"):
        return bool(action[len("pause:"):].strip())
    if action.startswith("sleep:"):
        from .duration import parse_duration

        try:
            parse_duration(action[len("sleep:"):])
        except ValueError:
            return False
        return True
    return action in ("kill", "raise", "enospc")


_ARMED: dict[str, _Armed] = _parse(os.environ.get(ENV, ""))
_LOCK = threading.Lock()


def hit(name: str) -> None:
    """Pass the failpoint ``name``: nothing unless it is armed (and its passes used up)."""
    if not _ARMED:
        return
    _fire(name)


def _fire(name: str) -> None:
    with _LOCK:
        armed = _ARMED.get(name)
        if armed is None or armed.fired:
            return
        if armed.skip > 0:
            armed.skip -= 1
            return
        armed.fired = True
    print(f"jupyter-automl: failpoint {name} fires: {armed.action}", file=sys.stderr,
          flush=True)
    if armed.action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # the signal is on its way: nothing after the point runs meanwhile
    if armed.action == "raise":
        raise FailpointError(f"failpoint {name}")
    if armed.action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + f" (failpoint {name})")
    if armed.action.startswith("pause:"):
        _pause(Path(armed.action[len("pause:"):].strip()), name)
        return
    from .duration import parse_duration

    time.sleep(parse_duration(armed.action[len("sleep:"):]))


PAUSE_LIMIT = 600.0  # seconds a paused point holds at most (a test that never releases it)


def _pause(path: Path, name: str) -> None:
    """Hold here while ``path`` exists (a line added to it first, with this process's id and
    the point's name), at most :data:`PAUSE_LIMIT` seconds; not at all once ``PATH.released``
    exists."""
    if path.with_name(path.name + ".released").exists():
        return  # let go for good: a process started after the release passes
    line = f"{os.getpid()} {name}\n"  # a line for each process held on the same file
    first = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}")
    first.write_text(line)
    try:  # the file appears with its first line whole: a waiter that sees it can read it
        os.link(first, path)
    except OSError:  # it exists (or hard links are not supported here)
        with open(path, "a") as held:  # one small append: read whole or not at all
            held.write(line)
    finally:
        first.unlink(missing_ok=True)
    deadline = time.monotonic() + PAUSE_LIMIT
    while path.exists():
        if time.monotonic() > deadline:
            print(f"jupyter-automl: failpoint {name} was not released in "
                  f"{PAUSE_LIMIT:.0f} s: going on", file=sys.stderr, flush=True)
            return
        time.sleep(0.02)


def arm(spec: str) -> None:
    """Arm failpoints in this process, as the environment variable would (for tests that run
    in-process)."""
    with _LOCK:
        _ARMED.update(_parse(spec))


def disarm() -> None:
    with _LOCK:
        _ARMED.clear()
