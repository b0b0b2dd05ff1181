"""A runner's lock file (jupyter_automl.runs): who is alive, and which trials a dead runner
left RUNNING. A runner that ends without handing a trial back (its storage failed as it tried:
a full disk, a server gone) keeps its lock file, so that the next runner finds the trial
orphaned at once instead of taking it for another runner's."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from jupyter_automl.runs import RunnerLock, StudyPaths, read_claims


def trial(number: int) -> SimpleNamespace:
    return SimpleNamespace(number=number, _trial_id=number + 1)


def test_a_live_runner_claims_its_trials(tmp_path: Path) -> None:
    paths = StudyPaths.at(tmp_path)
    with RunnerLock(paths) as lock:
        lock.claim(trial(3))
        lock.claim(trial(4))
        lock.release_trial(3)
        claims = read_claims(paths)
        assert (claims.live, claims.dead, claims.runners) == ({4}, set(), 1)
        lock.release_trial(4)
    assert list(paths.runners.iterdir()) == []  # a runner that handed everything back


def test_a_trial_not_handed_back_is_the_next_runners_to_recover(tmp_path: Path) -> None:
    paths = StudyPaths.at(tmp_path)
    lock = RunnerLock(paths)
    lock.claim(trial(7))
    lock.release()  # the run ended (DiskFullError) with trial 7 still RUNNING in the storage
    claims = read_claims(paths)
    assert (claims.live, claims.dead, claims.runners) == (set(), {7}, 0)
    assert claims.dead_locks == [lock.path]
