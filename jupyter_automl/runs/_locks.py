"""Who is running a study: each runner's lock file in ``runners/``, and, in a database server,
the heartbeats of its running trials.

Any number of processes, on one machine or several, may run one study. Each claims the trials
it runs in two ways:

- a lock file, ``runners/<host>-<pid>-<id>.lock``, held with ``flock`` and listing the numbers of
  its trials. The kernel releases the lock when the process dies (even by ``kill -9``), so on
  one machine a dead runner is known at once. This is the fast path.
- with a server database (PostgreSQL, MySQL), a heartbeat stored in the study for each of its
  running trials (Optuna's heartbeat table), which every machine sharing the study can read.
  A trial whose heartbeat is older than the grace period lost its runner, wherever it ran.

In a storage of its own (``--storage``), which runners of other runs folders may share, each
trial also records which runner claimed it (its ``runner`` user attribute: host and lock file),
so a runner knows which rule applies to a trial it did not start (see the engine's recovery).
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import _optuna
from .._utils.failpoints import hit as failpoint
from ..errors import disk_full
from ._paths import StudyPaths
from ._storage import root_cause

if TYPE_CHECKING:
    import optuna

HOST = socket.gethostname()
HEARTBEAT_ENV = "JUPYTER_AUTOML_HEARTBEAT"  # seconds between two heartbeats (default 15)
HEARTBEAT = 15.0
GRACE_BEATS = 4  # heartbeats a runner may miss before its trials are taken for dead

def heartbeat_interval() -> float:
    try:
        return max(0.2, float(os.environ.get(HEARTBEAT_ENV, HEARTBEAT)))
    except ValueError:
        return HEARTBEAT


class RunnerLock:
    """This process's claim on a study and on the trials it is running.

    With ``record``, each claimed trial records this runner (its ``runner`` attribute), for
    runners that do not share this runs folder: a study in a storage of its own (--storage).
    With ``heartbeats`` (a database server), each claimed trial gets a heartbeat every
    :func:`heartbeat_interval` seconds until it is released.
    """

    def __init__(self, paths: StudyPaths, study: optuna.Study | None = None,
                 heartbeats: bool = False, record: bool = False) -> None:
        paths.runners.mkdir(parents=True, exist_ok=True)
        name = f"{HOST}-{os.getpid()}-{uuid.uuid4().hex[:6]}.lock"
        self.path = paths.runners / name
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.study = study
        self.record = record or heartbeats
        self._claimed: dict[int, int] = {}  # trial number -> trial id
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._beats: threading.Thread | None = None
        if heartbeats and study is not None and _optuna.supports_heartbeats(study):
            self._beats = threading.Thread(target=self._beat, name="automl-heartbeat",
                                           daemon=True)
            self._beats.start()

    @property
    def heartbeats(self) -> bool:
        return self._beats is not None

    @property
    def claimed(self) -> set[int]:
        return set(self._claimed)

    def claim(self, trial: Any) -> None:
        """Mark ``trial`` as running here (a runner with worker kernels runs several)."""
        with self._mutex:
            self._claimed[trial.number] = _optuna.trial_id(trial)
            failpoint("runner.claim")
            self._write()
        if self.study is not None and self.record:
            storage = _optuna.storage_of(self.study)
            storage.set_trial_user_attr(_optuna.trial_id(trial), "runner",
                                        {"host": HOST, "lock": str(self.path)})
            if self.heartbeats:
                _optuna.record_heartbeat(self.study, [_optuna.trial_id(trial)])

    def release_trial(self, number: int) -> None:
        with self._mutex:
            self._claimed.pop(number, None)
            try:
                self._write()
            except OSError as exc:
                # the file still names a trial that is over: harmless (recovery looks at
                # RUNNING trials only); the next claim's write stops the run if the disk is full
                if disk_full(exc) is None:
                    raise

    def _write(self) -> None:
        # Padded over the old text, then cut: a reader never sees the file empty or a number
        # half-written (one small write is read whole or not at all).
        data = " ".join(map(str, sorted(self._claimed))).encode()
        os.pwrite(self._fd, data.ljust(os.fstat(self._fd).st_size), 0)
        os.ftruncate(self._fd, len(data))

    def _beat(self) -> None:
        assert self.study is not None
        failing = False
        while not self._stop.wait(heartbeat_interval()):
            with self._mutex:
                ids = list(self._claimed.values())
            try:
                _optuna.record_heartbeat(self.study, ids)
                failing = False
            except Exception as exc:  # a database hiccup: say so once, keep beating
                if not failing:
                    print(f"jupyter-automl: could not record the heartbeat of trials "
                          f"{sorted(self._claimed)} ({root_cause(exc)}); retrying",
                          file=sys.stderr)
                failing = True

    def release(self) -> None:
        self._stop.set()
        if self._beats is not None:
            self._beats.join()
            self._beats = None
        if self._fd >= 0:
            if not self._claimed:  # else kept: its trials were not handed back (the storage
                self.path.unlink(missing_ok=True)  # failed), and the next runner recovers them
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RunnerLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Claims(NamedTuple):
    """What the lock files of a runs folder say (this runner's own left out)."""

    live: set[int]  # trial numbers claimed by live runners
    dead: set[int]  # claimed by runners that died: their trials lost their runner
    runners: int  # live runners
    dead_locks: list[Path]  # removed once their trials are recovered


def read_claims(paths: StudyPaths, own: RunnerLock | None = None) -> Claims:
    live: set[int] = set()
    dead: set[int] = set()
    runners, dead_locks = 0, []
    try:  # a runner checks before every trial: os.scandir, not Path.glob (a tenth of the cost)
        names = sorted(e.name for e in os.scandir(paths.runners) if e.name.endswith(".lock"))
    except FileNotFoundError:
        names = []
    for name in names:
        if own is not None and name == own.path.name:
            continue
        path = paths.runners / name
        alive, claimed = read_lock(path)
        if alive:
            live |= claimed or set()
            runners += 1
        elif claimed is not None:
            dead |= claimed
            dead_locks.append(path)
    return Claims(live, dead, runners, dead_locks)


def live_claims(paths: StudyPaths, own: RunnerLock | None = None) -> tuple[set[int], int]:
    """Trial numbers claimed by live runners, and how many live runners there are besides us.

    Only reads: the locks of dead runners stay until a runner has recovered their trials.
    """
    claims = read_claims(paths, own)
    return claims.live, claims.runners


def is_running(study: optuna.Study, paths: StudyPaths) -> bool:
    """Whether a runner is running ``study`` now: a live lock in its runs folder, or (a study
    in a database server) a RUNNING trial whose heartbeat is fresh, from any machine."""
    from optuna.trial import TrialState

    _, live = live_claims(paths)
    if live:
        return True
    if _optuna.database(study) is None:
        return False
    running = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    grace = heartbeat_interval() * GRACE_BEATS
    return any(age is not None and age <= grace
               for age in _optuna.heartbeat_ages(study, running).values())


def read_lock(path: Path) -> tuple[bool, set[int] | None]:
    """Whether the lock file's owner is alive (it holds the lock), and the trials it claims
    (None for a file that is gone)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except (FileNotFoundError, PermissionError):
        return False, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True, _numbers(os.pread(fd, 1 << 16, 0))
        text = os.pread(fd, 1 << 16, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)  # we got it: its owner is dead
        return False, _numbers(text)
    finally:
        os.close(fd)


def _numbers(text: bytes) -> set[int]:
    return {int(word) for word in text.decode(errors="replace").split() if word.isdigit()}
