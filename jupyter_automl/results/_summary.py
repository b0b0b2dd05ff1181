"""A study's summary: its state, its counts, its best trial and its last update, read one way
for every reader (``jupyter-automl list`` and ``show``, the watcher of ``jupyter-automl run``,
JupyterLab's sidebar), so that no two of them disagree about a study.

Two paths read the same summary. A study whose storage is the SQLite file in its own runs
folder is read with plain SQL (``_optuna.read_study``: a few milliseconds, Optuna's storage
left unopened); any other (PostgreSQL, a ``--storage`` file elsewhere), or a file whose schema
that read does not know, is read through Optuna. Both then go through the same rules below.
"""

from __future__ import annotations

import datetime as _dt
import enum
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _optuna
from .._utils.constraints import feasible_only
from .._utils.objectives import front_text, pareto_front, signs
from ..runs import (
    DISCARDED,
    LOST,
    WARM_START,
    StudyPaths,
    is_running,
    live_claims,
    sqlite_file,
)
from ..search import SUPERNET
from ._lineage import FINAL, pbt_candidates

if TYPE_CHECKING:
    import optuna


class StudyState(str, enum.Enum):
    """Where a study stands (its ``str`` is the word every reader shows)."""

    RUNNING = "running"  # a runner is at it now, on any machine
    FINISHED = "finished"  # its total is reached
    FAILED = "failed"  # its last trial failed on an error of the cell: the run gave up on it
    STOPPED = "stopped"  # below its total and not running: stopped, interrupted, timed out,
    # or its runner died (a trial it left running is retried when the study runs again)
    UNREADABLE = "unreadable"  # its storage cannot be read (the summary's error says why)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StudySummary:
    """A study's figures. ``done`` counts its complete and pruned trials, not the
    observations ``--warm-start`` lent it (``lent``)."""

    name: str
    state: StudyState
    done: int = 0
    total: int | None = None  # None when its spec names no total
    complete: int = 0
    pruned: int = 0
    failed: int = 0  # discarded trials left out
    discarded: int = 0  # trials discarded by hand (``%automl discard``)
    running: int = 0  # trials RUNNING in the storage (a dead runner's too, until retried)
    lent: int = 0
    directions: tuple[str, ...] = ("minimize",)
    metric: str | None = None  # the first objective's
    best: tuple[int, ...] = ()  # the best trial's number, or the Pareto front's (several)
    best_value: float | None = None  # one objective
    best_params: dict[str, Any] | None = None  # one objective
    updated: _dt.datetime | None = None  # its latest trial start or end, else when opened
    remote: bool = False  # its storage is not the SQLite file of its runs folder
    error: str = ""  # why it is unreadable

    @property
    def trials_text(self) -> str:
        """``3/10`` (``3`` without a total)."""
        return f"{self.done}" if self.total is None else f"{self.done}/{self.total}"

    def best_text(self, exact: bool = False) -> str:
        """The best value (to 6 digits, or all of them), or the Pareto front's size."""
        if len(self.directions) > 1:
            return front_text(len(self.best))
        if self.best_value is None:
            return ""
        return repr(self.best_value) if exact else f"{self.best_value:.6g}"

    @property
    def updated_text(self) -> str:
        """``2026-12-02 14:05:31`` (local time), or ``""``."""
        return "" if self.updated is None else f"{self.updated:%Y-%m-%d %H:%M:%S}"

    @property
    def progress_text(self) -> str:
        """``study quad: 3/10 trials (1 failed), best loss 0.0123``."""
        line = f"study {self.name}: {self.trials_text} trials"
        aside = [f"{n} {word}" for n, word in ((self.failed, "failed"),
                                               (self.discarded, "discarded")) if n]
        if aside:
            line += f" ({', '.join(aside)})"
        best = self.best_text()
        if best and len(self.directions) == 1:
            line += f", best {self.metric + ' ' if self.metric else ''}{best}"
        elif best:
            line += f", {best}"
        return line

    @classmethod
    def unreadable(cls, paths: StudyPaths, error: BaseException) -> StudySummary:
        spec = _spec(paths)
        return cls(str(spec.get("name", paths.name)), StudyState.UNREADABLE,
                   total=_total(spec), error=str(error), remote=bool(spec.get("storage")))


def summarize(paths: StudyPaths, url: str, study: Callable[[], optuna.Study],
              runners: int | None = None) -> StudySummary:
    """The summary of the study in ``paths`` whose storage is ``url``. ``study`` opens it
    (called only when the fast path cannot read it); ``runners``, the live runners its lock
    files name, when the caller has counted them already."""
    spec = paths.read_spec()
    if runners is None:
        runners = live_claims(paths)[1]
    rows = None
    own_file = sqlite_file(url) == paths.db.absolute()
    if own_file and paths.db.is_file():
        try:
            rows = _optuna.read_study(paths.db, paths.name, lent=WARM_START, final=FINAL,
                                      lost=LOST, supernet=SUPERNET, choose=_best,
                                      discarded=DISCARDED)
        except (sqlite3.Error, LookupError, ValueError):
            pass  # being created, or a schema that read does not know: Optuna reads it
    running = runners > 0
    if rows is None:
        opened = study()
        rows = rows_of(opened)
        running = running or is_running(opened, paths)
    return _summary(paths, spec, rows, running, remote=not own_file)


def rows_of(study: optuna.Study) -> _optuna.StudyRows:
    """What :func:`_optuna.read_study` reads of a study's SQLite file, read through Optuna."""
    trials = study.get_trials(deepcopy=False)
    own = sorted((t for t in trials if WARM_START not in t.user_attrs), key=lambda t: t.number)
    rows = _optuna.StudyRows([d.name.lower() for d in study.directions])
    rows.trials = [(t.number, t.state, t.datetime_complete or t.datetime_start) for t in own]
    rows.lent = len(trials) - len(own)
    rows.last_lost = bool(own) and LOST in own[-1].user_attrs
    rows.discarded = {t.number for t in own if DISCARDED in t.user_attrs}
    rows.best = [(t.number, list(t.values), dict(t.params)) for t in own_best_trials(study)]
    return rows


def own_best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The best trial (one objective) or the Pareto front of ``study``'s own finished trials:
    the observations --warm-start added from other studies are not among them (Optuna's
    ``best_trials`` would count them); in a PBT study, the best member's final generation; in
    a study with constraints (``--constraint``), among the trials that meet them."""
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if WARM_START not in t.user_attrs and t.values is not None]
    own = {t.number: t for t in feasible_only(pbt_candidates(complete), among=complete)}
    directions = [d.name.lower() for d in study.directions]
    return [own[n] for n, _ in _best([(n, list(t.values)) for n, t in own.items()],
                                     directions)]


def _best(points: list[_optuna.Point], directions: Sequence[str]) -> list[_optuna.Point]:
    """The best point (one objective, the earliest of ties) or the Pareto front."""
    return pareto_front(points, signs(directions))


def _summary(paths: StudyPaths, spec: dict[str, Any], rows: _optuna.StudyRows, running: bool,
             remote: bool) -> StudySummary:
    from optuna.trial import TrialState

    # a discarded trial (FAIL) is neither a failure nor the last trial the run gave up on
    states = [state for number, state, _ in rows.trials if number not in rows.discarded]
    complete, pruned = states.count(TrialState.COMPLETE), states.count(TrialState.PRUNED)
    total = _total(spec)
    single = len(rows.directions) == 1
    best = rows.best[0] if single and rows.best else None
    return StudySummary(
        name=str(spec.get("name", paths.name)),
        state=_state(running, complete + pruned, total,
                     bool(states) and states[-1] == TrialState.FAIL and not rows.last_lost),
        done=complete + pruned, total=total, complete=complete, pruned=pruned,
        failed=states.count(TrialState.FAIL), discarded=len(rows.discarded),
        running=states.count(TrialState.RUNNING),
        lent=rows.lent,
        directions=tuple(rows.directions),
        metric=(spec.get("objectives") or [{}])[0].get("metric"),
        best=tuple(number for number, _, _ in rows.best),
        best_value=None if best is None else best[1][0],
        best_params=None if best is None else dict(best[2]),
        updated=_latest([stamp for _, _, stamp in rows.trials], spec),
        remote=remote)


def _state(running: bool, done: int, total: int | None, gave_up: bool) -> StudyState:
    """Running; finished (its total reached); failed (``gave_up``: its last trial failed on an
    error of the cell, not because it lost its runner); else stopped."""
    if running:
        return StudyState.RUNNING
    if total is not None and done >= total:
        return StudyState.FINISHED
    if gave_up:
        return StudyState.FAILED
    return StudyState.STOPPED


def _latest(stamps: list[_dt.datetime | None], spec: dict[str, Any]) -> _dt.datetime | None:
    """The latest of ``stamps`` and the spec's ``updated`` (naive local times, as Optuna and
    the spec keep them), as an aware local time."""
    found = [s for s in stamps if s is not None]
    if spec.get("updated"):
        try:
            found.append(_dt.datetime.fromisoformat(spec["updated"]))
        except ValueError:
            pass
    return max((s.astimezone() for s in found), default=None)


def _total(spec: dict[str, Any]) -> int | None:
    return int(spec.get("trials") or 0) or None


def _spec(paths: StudyPaths) -> dict[str, Any]:
    try:
        return paths.read_spec()
    except (OSError, ValueError):
        return {}
