"""Telling live runners from dead ones, and retrying the trials of the dead from their checkpoints.

Who is alive is told by the runs folder's locks and heartbeats (:mod:`jupyter_automl.runs`);
which rule applies to a RUNNING trial depends on where its runner ran (:func:`orphans`). A
trial found dead is failed and a new trial with the same parameters is enqueued; it resumes
from the dead trial's checkpoint where that checkpoint can be reached.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _optuna
from ..results import CARRIED
from ..runs import (
    GRACE_BEATS,
    HOST,
    LOST,
    RERUN_OF,
    RunnerLock,
    StudyPaths,
    heartbeat_interval,
    read_claims,
    read_lock,
)
from ..search import DERIVED_FROM
from ._pbt import retry_attrs

if TYPE_CHECKING:
    import optuna

MAX_ATTEMPTS = 3  # one trial's parameters are tried at most this often after crashes
CLAIM_WINDOW = 5.0  # seconds a runner has between asking for a trial and claiming it


def orphans(study: optuna.Study, paths: StudyPaths,
            own: RunnerLock) -> list[optuna.trial.FrozenTrial]:
    """The RUNNING trials whose runner is dead, by the rules in this module's docstring."""
    from optuna.trial import TrialState

    running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
               if t.number not in own.claimed]
    if not running:
        return []
    here = read_claims(paths, own)
    ages = _optuna.heartbeat_ages(study, [t.number for t in running]) if own.heartbeats \
        else None
    grace = heartbeat_interval() * GRACE_BEATS
    # no other runner alive on a storage only this runs folder reaches: none can be between
    # asking for a trial and claiming it
    alone = here.runners == 0 and not own.record
    dead = []
    for trial in running:
        if trial.number in here.live:
            continue
        runner = trial.user_attrs.get("runner") or {}
        lock = Path(runner.get("lock", ""))
        if trial.number in here.dead or (runner.get("host") == HOST
                                         and lock.parent == paths.runners):
            dead.append(trial)  # its runner's lock is here, and not held any more
        elif ages is not None:  # another machine's trial: its heartbeat decides
            beat = ages.get(trial.number)
            if (beat if beat is not None else _optuna.age(trial)) > grace:
                dead.append(trial)
        elif runner.get("host") == HOST:  # another runs folder on this machine
            alive, claimed = read_lock(lock)
            if not alive or trial.number not in (claimed or set()):
                dead.append(trial)
        elif not runner and (alone or _optuna.age(trial) > CLAIM_WINDOW):
            dead.append(trial)  # asked, never claimed: its runner died in between
    return dead


def recover(study: optuna.Study, paths: StudyPaths, own: RunnerLock) -> list[int]:
    """Fail the orphaned RUNNING trials and enqueue their retries; return their numbers."""
    import optuna

    dead_locks = read_claims(paths, own).dead_locks
    lost = []
    for trial in orphans(study, paths, own):
        try:
            fail_and_retry(study, trial, paths, reason=_why(trial, own))
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another runner recovered it first, or its runner told it just now
        lost.append(trial.number)
    for path in dead_locks:  # their trials are failed and queued now
        path.unlink(missing_ok=True)
    return lost


def _why(trial: optuna.trial.FrozenTrial, own: RunnerLock) -> str:
    runner = trial.user_attrs.get("runner") or {}
    if runner.get("host") not in (None, HOST) or (
            own.heartbeats and Path(runner.get("lock", "")).parent != own.path.parent):
        return f"its runner stopped sending heartbeats (host {runner.get('host', '?')})"
    return "its kernel died"


def fail_and_retry(study: optuna.Study, trial: optuna.trial.FrozenTrial, paths: StudyPaths,
                   reason: str) -> bool:
    """Mark ``trial`` failed and enqueue its parameters again, resuming from its checkpoint.

    Returns False when the trial already used up its attempts (it is then only failed).
    Raises Optuna's ``UpdateFinishedTrialError`` when the trial has finished meanwhile.
    """
    from optuna.trial import TrialState

    storage = _optuna.storage_of(study)
    # the reason first: a finished trial takes no more attributes
    storage.set_trial_user_attr(_optuna.trial_id(trial), LOST, reason)
    storage.set_trial_state_values(_optuna.trial_id(trial), TrialState.FAIL)
    attempt = int(trial.user_attrs.get("attempt", 1))
    if attempt >= MAX_ATTEMPTS:
        return False
    attrs: dict[str, Any] = {"retry_of": trial.number, "attempt": attempt + 1,
                             **retry_attrs(trial),
                             # --executions-per-trial: the retry goes on at the one cut short
                             **{k: trial.user_attrs[k] for k in CARRIED if k in trial.user_attrs}}
    for kept in (DERIVED_FROM, RERUN_OF):  # a --darts retrain, a rerun: still one, retried
        if kept in trial.user_attrs:
            attrs[kept] = trial.user_attrs[kept]
    resume_from = resume_source(trial, paths)
    if resume_from is not None:
        attrs["resume_from"] = resume_from
    study.enqueue_trial(trial.params, user_attrs=attrs)
    return True


def resume_source(trial: optuna.trial.FrozenTrial, paths: StudyPaths) -> int | None:
    """The trial whose checkpoint a retry of ``trial`` resumes from.

    ``trial`` itself when it saved a checkpoint, or when it ran elsewhere (its checkpoint may
    be reachable there, or through a shared ``--checkpoint-dir``; the retry says so if not),
    or when the study keeps its checkpoints in a ``--checkpoint-store`` too; else the trial it
    was itself resuming from.
    """
    if ran_elsewhere(trial, paths) or paths.checkpoint(trial.number).exists() \
            or paths.read_spec().get("checkpoint_store"):
        return trial.number
    source = trial.user_attrs.get("resume_from")
    return None if source is None else int(source)


def ran_elsewhere(trial: optuna.trial.FrozenTrial, paths: StudyPaths) -> bool:
    """Whether ``trial`` ran on another machine or from another runs folder than ``paths``."""
    runner = trial.user_attrs.get("runner") or {}
    return bool(runner) and (runner.get("host") != HOST
                             or Path(runner.get("lock", "")).parent != paths.runners)
