"""Finding trials whose runner died, and retrying them from their checkpoints.

Each process running a study holds an ``flock`` on ``runners/<host>-<pid>.lock`` and writes the
number of its current trial into it. The kernel releases the lock when the process dies (even by
``kill -9``), so a RUNNING trial that no live runner claims was orphaned: it is failed and a new
trial with the same parameters is enqueued that resumes from the dead trial's checkpoint.
"""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .runs import StudyPaths

if TYPE_CHECKING:
    import optuna

MAX_ATTEMPTS = 3  # one trial's parameters are tried at most this often after crashes


class RunnerLock:
    """This process's claim on a study and on the trial it is running."""

    def __init__(self, paths: StudyPaths) -> None:
        paths.runners.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}.lock"
        self.path = paths.runners / name
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._claimed: set[int] = set()

    def claim(self, trial_number: int) -> None:
        """Mark ``trial_number`` as running here (a runner with worker kernels runs several)."""
        self._claimed.add(trial_number)
        self._write()

    def release_trial(self, trial_number: int) -> None:
        self._claimed.discard(trial_number)
        self._write()

    def _write(self) -> None:
        data = " ".join(map(str, sorted(self._claimed))).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RunnerLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def live_claims(paths: StudyPaths, own: RunnerLock | None = None) -> tuple[set[int], int]:
    """Trial numbers claimed by live runners, and how many live runners there are besides us.

    Lock files of dead runners are removed on the way.
    """
    claims: set[int] = set()
    others = 0
    for path in sorted(paths.runners.glob("*.lock")) if paths.runners.exists() else []:
        if own is not None and path == own.path:
            continue
        text = _read_if_live(path)
        if text is None:
            continue
        others += 1
        claims.update(int(word) for word in text.split() if word.isdigit())
    return claims, others


def _read_if_live(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 1 << 16, 0).decode(errors="replace")
    else:  # we got the lock: its owner is dead
        path.unlink(missing_ok=True)
        return None
    finally:
        os.close(fd)


def recover(study: optuna.Study, paths: StudyPaths, own: RunnerLock) -> list[int]:
    """Fail the orphaned RUNNING trials and enqueue their retries; return their numbers."""
    from optuna.trial import TrialState

    claims, _ = live_claims(paths, own)
    orphans = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
               if t.number not in claims]
    for trial in orphans:
        fail_and_retry(study, trial, paths, reason="its kernel died")
    return [t.number for t in orphans]


def fail_and_retry(study: optuna.Study, trial: optuna.trial.FrozenTrial, paths: StudyPaths,
                   reason: str) -> bool:
    """Mark ``trial`` failed and enqueue its parameters again, resuming from its checkpoint.

    Returns False when the trial already used up its attempts (it is then only failed).
    """
    from optuna.trial import TrialState

    study._storage.set_trial_user_attr(trial._trial_id, "failed_because", reason)
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    attempt = int(trial.user_attrs.get("attempt", 1))
    if attempt >= MAX_ATTEMPTS:
        return False
    saved = (paths.trial(trial.number) / "checkpoint.npz").exists()
    resume_from = trial.number if saved else trial.user_attrs.get("resume_from")
    attrs: dict[str, Any] = {"retry_of": trial.number, "attempt": attempt + 1}
    if resume_from is not None:
        attrs["resume_from"] = resume_from
    study.enqueue_trial(trial.params, user_attrs=attrs)
    return True
