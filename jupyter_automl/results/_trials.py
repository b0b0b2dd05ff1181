"""Editing a study's trials in place (``%automl discard`` and ``rerun``), without copying it.

Optuna cannot delete a trial. A discarded trial stays in the storage with Optuna's state FAIL,
which every reader already leaves out: the best trial(s) and the best model, the count toward
``--trials`` (the next run trains one more in its place), what samplers learn from (TPE, CMA-ES
and the others read COMPLETE and PRUNED trials), and optuna-dashboard's best. Its user
attribute ``discarded`` (:data:`~jupyter_automl.runs.DISCARDED`) says why, who and when, and
keeps its state and values, so that the tables show it as discarded, with its values, and
``--undo`` puts it back as it was.

A rerun is Optuna's ``enqueue_trial`` of the trial's parameters, marked ``rerun_of``: the next
run of the study asks for it first, and runs it even once the study has reached its total.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _optuna
from .._utils.io import write_json
from ..errors import AutomlError, StudyNotFoundError
from ..runs import (
    DEFAULT_RUNS_DIR,
    DISCARDED,
    HOST,
    RERUN_OF,
    WARM_START,
    StudyPaths,
    is_running,
    list_study_folders,
    open_storage,
    redact,
    storage_errors,
    storage_url,
    study_paths,
)
from ..search import SUPERNET
from ._summary import own_best_trials

if TYPE_CHECKING:
    import optuna


class TrialEditError(AutomlError):
    """A trial that cannot be discarded or rerun as asked (the message says why, and what to
    do instead)."""


class UnknownTrialError(TrialEditError):
    """The study has no trial of that number."""


@dataclass
class TrialEdit:
    """What a discard, an undo or a rerun did: its words, and the numbers a client needs."""

    said: str
    trial: int
    queued: int | None = None  # the rerun's trial number


def discard_note(attrs: dict[str, Any]) -> str | None:
    """``noisy run (by ana@box, 2026-12-05 17:04 UTC)`` for a discarded trial's user
    attributes, ``""``-free; None for a trial that is not discarded."""
    record = attrs.get(DISCARDED)
    if record is None:
        return None
    record = record if isinstance(record, dict) else {}
    when = str(record.get("at", ""))[:16].replace("T", " ")
    who = ", ".join(x for x in (f"by {record['by']}" if record.get("by") else "",
                                f"{when} UTC" if when else "") if x)
    reason = str(record.get("reason") or "discarded")
    return f"{reason} ({who})" if who else reason


def discarded_values(attrs: dict[str, Any]) -> list[float] | None:
    """The values a discarded trial had (its state FAIL has none in Optuna's tables)."""
    record = attrs.get(DISCARDED)
    values = record.get("values") if isinstance(record, dict) else None
    return [float(v) for v in values] if values else None


# -- opening -----------------------------------------------------------------------------------
def _open(name: str, runs_dir: str | Path, storage: str | None) -> tuple[StudyPaths, Any]:
    """The study ``name`` opened for writing, with its folder."""
    import optuna

    paths = study_paths(runs_dir, name)
    if not paths.spec.exists():
        known = [p.name for p in list_study_folders(runs_dir)]
        raise StudyNotFoundError(
            f"no study {name!r} in {paths.root.parent}; "
            + (f"studies there: {', '.join(known)}" if known else
               "give the runs folder the study ran in (--runs-dir; automl_runs, next to its "
               "notebook)"))
    stored = paths.read_spec().get("storage")
    # a redacted password: the database client finds it (PGPASSWORD, ~/.pgpass)
    url = storage or storage_url(None if stored is None else stored.replace(":***@", "@"),
                                 paths.db)
    with storage_errors(url):
        try:
            return paths, optuna.load_study(study_name=paths.name, storage=open_storage(url))
        except KeyError:
            raise StudyNotFoundError(f"study {name!r} is not in its storage "
                                     f"{redact(url)}") from None


def _trial(study: optuna.Study, name: str, number: int,
           prog: str) -> optuna.trial.FrozenTrial:
    numbers = [t.number for t in study.get_trials(deepcopy=False)]
    if number not in numbers:
        have = f"its trials are 0 to {max(numbers)}" if numbers else "it has no trials yet"
        raise UnknownTrialError(f"study {name!r} has no trial {number}; {have} ({prog} show "
                                f"{name} lists them)")
    return _optuna.trial_by_number(study, number)


def _refuse_unfinished(trial: optuna.trial.FrozenTrial, name: str, verb: str) -> None:
    from optuna.trial import TrialState

    if trial.state == TrialState.RUNNING:
        raise TrialEditError(
            f"trial {trial.number} of study {name!r} is running: it cannot be {verb} while "
            "it runs (it is not stopped for you). Wait for it to end, or stop the study (the "
            f"AutoML sidebar's Stop, %automl stop {name} in its notebook), then try again; a "
            "trial whose runner died is failed and retried by the study's next run")
    if trial.state == TrialState.WAITING:
        raise TrialEditError(f"trial {trial.number} of study {name!r} is queued and has not "
                             "run yet: the study's next run trains it")
    if WARM_START in trial.user_attrs:
        raise TrialEditError(f"trial {trial.number} of study {name!r} is an observation lent "
                             f"by study {trial.user_attrs[WARM_START]!r} (--warm-start), not "
                             "one of its own trials")


def _by(by: str | None) -> str:
    if by:
        return by
    try:
        return f"{getpass.getuser()}@{HOST}"
    except Exception:  # noqa: BLE001 - no user name in this environment
        return HOST


# -- discard -----------------------------------------------------------------------------------
def discard_trial(name: str, number: int, runs_dir: str | Path = DEFAULT_RUNS_DIR,
                  storage: str | None = None, *, reason: str | None = None,
                  by: str | None = None, undo: bool = False,
                  prog: str = "%automl") -> TrialEdit:
    """Discard trial ``number`` of study ``name`` (see this module's docstring), or take a
    discard back (``undo``). ``by`` names who did it (default: user@host); ``prog``, how the
    commands it suggests start (``jupyter-automl`` on a terminal).

    Raises :class:`TrialEditError` for an unknown trial, one still running or queued, one
    that failed, and :class:`~jupyter_automl.errors.StudyNotFoundError` for an unknown
    study."""
    paths, study = _open(name, runs_dir, storage)
    trial = _trial(study, name, number, prog)
    _refuse_unfinished(trial, name, "discarded")
    before = [t.number for t in own_best_trials(study)]
    said = _undo(study, name, trial, prog) if undo \
        else _discard(study, name, trial, reason, by, prog)
    _tell_runners(paths)
    return TrialEdit(said + _after(paths, study, name, before, prog), number)


def _discard(study: optuna.Study, name: str, trial: optuna.trial.FrozenTrial,
             reason: str | None, by: str | None, prog: str) -> str:
    from optuna.trial import TrialState

    if DISCARDED in trial.user_attrs:
        raise TrialEditError(f"trial {trial.number} of study {name!r} is discarded already: "
                             f"{discard_note(trial.user_attrs)}; --undo takes it back")
    if trial.state == TrialState.FAIL:
        raise TrialEditError(f"trial {trial.number} of study {name!r} failed: no best, total or "
                             "sampler counts it already. To train its parameters again: "
                             f"{prog} rerun {name} {trial.number}")
    record = {"reason": reason or None, "by": _by(by),
              "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "state": trial.state.name, "values": trial.values}
    _rewrite(study, name, trial, TrialState.FAIL, None, record, prog)
    value = "" if trial.values is None else \
        f", value{'s' * (len(trial.values) > 1)} {_values_text(trial.values)}"
    return (f"trial {trial.number} of study {name!r} ({trial.state.name}{value}) is discarded"
            f"{f' ({reason})' if reason else ''}: it stays in the storage as FAIL, and no best, "
            "total or sampler counts it (the next run of the study trains one more trial in "
            f"its place). {prog} discard {name} {trial.number} --undo takes it back")


def _undo(study: optuna.Study, name: str, trial: optuna.trial.FrozenTrial, prog: str) -> str:
    from optuna.trial import TrialState

    record = trial.user_attrs.get(DISCARDED)
    if not isinstance(record, dict):
        raise TrialEditError(f"trial {trial.number} of study {name!r} is not discarded "
                             f"({trial.state.name}): there is nothing to take back")
    state = TrialState[str(record.get("state", "COMPLETE"))]
    _rewrite(study, name, trial, state, discarded_values(trial.user_attrs), None, prog)
    return (f"trial {trial.number} of study {name!r} is {state.name} again: its discard is "
            "taken back")


def _rewrite(study: optuna.Study, name: str, trial: optuna.trial.FrozenTrial, state: Any,
             values: list[float] | None, record: dict[str, Any] | None, prog: str) -> None:
    try:
        _optuna.rewrite_finished(study, trial.number, expected=trial.state, state=state,
                                 values=values, attr=DISCARDED, attr_value=record)
    except _optuna.TrialChanged as exc:
        raise TrialEditError(f"study {name!r}: {exc} (another process changed it meanwhile); "
                             f"look again ({prog} show {name}) and retry") from None
    except LookupError as exc:
        raise TrialEditError(f"study {name!r}: {exc}") from None


def _tell_runners(paths: StudyPaths) -> None:
    """Touch the study's ``edits.stamp``: its runners read its counts and best again (a
    runner alone on its study counts its own trials, and keeps its best in memory)."""
    paths.edits.touch()
    os.utime(paths.edits)  # a new time even where touch() keeps the old one within a tick


def _values_text(values: list[float]) -> str:
    return ", ".join(f"{v:.6g}" for v in values)


# -- after an edit: the best model follows --------------------------------------------------
def _after(paths: StudyPaths, study: optuna.Study, name: str, before: list[int],
           prog: str) -> str:
    """The best model on disk made to follow the new best; and what a running study does."""
    fresh = _reloaded(study)
    best = own_best_trials(fresh)
    said = follow_best(paths, fresh, before, best, prog)
    if is_running(fresh, paths):
        said += (f"\nstudy {name!r} is running: its runners in this runs folder count it as "
                 "every reader does from their next trial on; a runner on another machine "
                 "(a shared --storage) counts it at once, and keeps the best it knew until a "
                 "trial beats it")
    return said


def _reloaded(study: optuna.Study) -> optuna.Study:
    """``study`` read afresh: Optuna's cache keeps a finished trial as it first read it."""
    import optuna

    storage = _optuna.database(study)  # a new cache over the same database connection
    return optuna.load_study(study_name=study.study_name,
                             storage=storage if storage is not None else
                             _optuna.storage_of(study))


def follow_best(paths: StudyPaths, study: optuna.Study, before: list[int],
                best: list[optuna.trial.FrozenTrial], prog: str = "%automl") -> str:
    """Make ``best/`` hold the models of ``best`` (the trial numbers were ``before``): a model
    that leaves the best goes back to its trial's folder (``trials/N/model.keras``, where a
    discard taken back finds it), one that joins comes from there if it was kept. Returns
    what changed, in words (nothing: ``""``)."""
    after = [t.number for t in best]
    if after == before:
        return ""
    several = len(study.directions) > 1
    had = any(paths.best_model(n if several else None).exists() for n in before)
    for number in before:
        if number not in after:
            _move(paths.best_model(number if several else None), paths.trial_model(number))
    missing = []
    for number in after:
        target = paths.best_model(number if several else None)
        if number in before and target.exists():
            continue
        kept = paths.trial_model(number)
        if kept.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kept, target)
        else:
            missing.append(number)
    _write_params(paths, study, best)
    if not best:
        return "\nthe study has no best trial now"
    head = (f"the best trial is now {after[0]} (value {_values_text(best[0].values)})"
            if not several else f"the Pareto front is now trials {after}")
    if missing and had:
        head += (f"; the model of trial{'s' * (len(missing) > 1)} "
                 f"{', '.join(map(str, missing))} was not kept (a study keeps only its best "
                 f"model): {prog} rerun {study.study_name} {missing[0]} trains one with its "
                 "parameters, saved if it is then the best")
    return "\n" + head


def _move(source: Path, target: Path) -> None:
    if not source.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        source.unlink()
    else:
        shutil.move(str(source), str(target))
    if source.parent.name.isdigit():  # a Pareto-front member's folder
        shutil.rmtree(source.parent, ignore_errors=True)


def _write_params(paths: StudyPaths, study: optuna.Study,
                  best: list[optuna.trial.FrozenTrial]) -> None:
    """``best/params.json`` as the runner writes it (:mod:`jupyter_automl.engine`'s
    exporter), for the new best."""
    if not best:
        paths.best_params.unlink(missing_ok=True)
        return
    spec = paths.read_spec()
    trials = [{"trial": t.number, "values": list(t.values), "params": dict(t.params)}
              for t in best]
    write_json(paths.best_params, {
        "study": study.study_name,
        "metrics": [o.get("metric") for o in spec.get("objectives", [])] or [None],
        "directions": [d.name.lower() for d in study.directions],
        **(trials[0] if len(trials) == 1 else {}), "pareto": trials})


# -- rerun ---------------------------------------------------------------------------------------
def rerun_trial(name: str, number: int, runs_dir: str | Path = DEFAULT_RUNS_DIR,
                storage: str | None = None, *, discard: bool = False,
                reason: str | None = None, by: str | None = None,
                prog: str = "%automl") -> TrialEdit:
    """Queue trial ``number``'s parameters to be trained again (Optuna's ``enqueue_trial``):
    the study's next run trains it first, even past its total. ``discard``: discard the old
    trial too (``reason``), so that the rerun takes its place in the total.

    Raises :class:`TrialEditError` for an unknown trial, one still running or queued, a
    ``--scheduler pbt`` or ``--darts`` search trial (its weights come from other trials)."""
    from optuna.trial import TrialState

    paths, study = _open(name, runs_dir, storage)
    trial = _trial(study, name, number, prog)
    _refuse_unfinished(trial, name, "rerun")
    if paths.read_spec().get("scheduler") or trial.user_attrs.get(SUPERNET):
        raise TrialEditError(f"trial {number} of study {name!r} cannot be rerun alone: "
                             + ("a --scheduler pbt trial trains on from its member's weights; "
                                "run the study again (a new name) instead"
                                if paths.read_spec().get("scheduler") else
                                "a --darts search trial has no parameters of its own"))
    said = ""
    if discard and trial.state != TrialState.FAIL and DISCARDED not in trial.user_attrs:
        before = [t.number for t in own_best_trials(study)]
        said = _discard(study, name, trial, reason, by, prog)
        _tell_runners(paths)
        said += _after(paths, study, name, before, prog)
        said += "\n"
        study = _reloaded(study)  # its cache holds the trial as it was
    queued = _queue(study, trial)
    return TrialEdit(said + _rerun_text(paths, study, name, trial, queued, discard), number,
                     queued)


def _queue(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> int:
    """Enqueue ``trial``'s parameters; the queued trial's number."""
    from optuna.trial import TrialState

    study.enqueue_trial(dict(trial.params), user_attrs={RERUN_OF: trial.number},
                        skip_if_exists=False)
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    return max(t.number for t in waiting if t.user_attrs.get(RERUN_OF) == trial.number)


def _rerun_text(paths: StudyPaths, study: optuna.Study, name: str,
                trial: optuna.trial.FrozenTrial, queued: int, discard: bool) -> str:
    notebook = paths.read_spec().get("notebook")
    run = f"jupyter-automl run {notebook}" if notebook else "jupyter-automl run NOTEBOOK"
    total = int(paths.read_spec().get("trials") or 0)
    done = _done(study)
    counted = ("it takes the discarded trial's place in the total" if discard else
               f"it is one more trial: the study has {done} of its {total} finished, and runs "
               "it even past the total" if total and done >= total else
               "it counts toward the total as any trial")
    return (f"trial {trial.number} of study {name!r} is queued to run again with its "
            f"parameters {dict(trial.params)}, as trial {queued}: the next run of the study "
            f"(rerun its cell, or {run}) trains it first; {counted}")


def _done(study: optuna.Study) -> int:
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False,
                                           states=(TrialState.COMPLETE, TrialState.PRUNED))
               if WARM_START not in t.user_attrs)
