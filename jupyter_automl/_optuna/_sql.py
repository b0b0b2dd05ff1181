"""Optuna's tables read with plain SQL from a study's SQLite file, read-only: what a listing
needs of a study (its directions, its own trials' states and times, its best trials) without
opening Optuna's storage (50-100 ms a study) or loading its trials.

The tables are Optuna's (``studies``, ``study_directions``, ``trials``, ``trial_values``,
``trial_params``, ``trial_user_attributes``). A schema this module does not know raises
``sqlite3.Error`` or ``LookupError``, and the caller reads the study through Optuna instead.
The user attributes that mark a trial (an observation another study lent, a PBT member's
final generation, a lost trial) are named by the caller: they are this package's, not
Optuna's.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.trial import TrialState

Point = tuple[int, list[float]]  # a complete trial: its number and values


@dataclass
class StudyRows:
    """What one read of a study's tables gives (see :func:`read_study`)."""

    directions: list[str]  # "maximize" | "minimize", by objective
    # the study's own trials (not the observations it was lent): number, state, and when it
    # last changed (its end, else its start; naive local time, as Optuna keeps it)
    trials: list[tuple[int, TrialState, _dt.datetime | None]] = field(default_factory=list)
    lent: int = 0  # observations lent by other studies (--warm-start)
    last_lost: bool = False  # the last own trial lost its runner (it was failed for it)
    discarded: set[int] = field(default_factory=set)  # own trials discarded by hand (FAIL)
    # the best trial (one objective) or the candidates for the Pareto front (several):
    # number, values, params
    best: list[tuple[int, list[float], dict[str, Any]]] = field(default_factory=list)


def read_study(db: Path, name: str, *, lent: str, final: str, lost: str, supernet: str,
               choose: Callable[[list[Point], list[str]], list[Point]],
               discarded: str = "discarded") -> StudyRows:
    """The study ``name`` of the SQLite file ``db``: the trials without the user attribute
    ``lent`` are its own, ``lost`` marks a trial failed because its runner died or was
    interrupted, ``discarded`` one discarded by hand, and its best are those ``choose``
    picks (the best, or the Pareto front) of its complete trials (in a PBT study that has
    final generations, user attribute ``final``, of those; never one marked ``supernet``; in
    a study with constraints, of those that meet them), with their params."""
    from optuna.trial import TrialState

    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1.0) as con:
        (sid,) = con.execute("SELECT study_id FROM studies WHERE study_name = ?",
                             (name,)).fetchone() or (None,)
        if sid is None:
            raise LookupError(name)
        directions = [d.lower() for (d,) in con.execute(
            "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective",
            (sid,))]
        # the trials lent by other studies, and those that end a PBT member's training
        marked = "SELECT trial_id FROM trial_user_attributes WHERE key = ?"
        own = f"t.trial_id NOT IN ({marked})"
        rows = StudyRows(directions)
        last_id = None
        for tid, number, state, start, end in con.execute(
                "SELECT t.trial_id, t.number, t.state, t.datetime_start, t.datetime_complete "
                f"FROM trials t WHERE t.study_id = ? AND {own} ORDER BY t.number", (sid, lent)):
            stamp = end or start
            rows.trials.append((number, TrialState[state], _dt.datetime.fromisoformat(stamp)
                                if stamp else None))
            last_id = tid
        (rows.lent,) = con.execute(f"SELECT COUNT(*) FROM trials t WHERE t.study_id = ? "
                                   f"AND NOT {own}", (sid, lent)).fetchone()
        rows.last_lost = last_id is not None and con.execute(
            "SELECT 1 FROM trial_user_attributes WHERE trial_id = ? AND key = ?",
            (last_id, lost)).fetchone() is not None
        rows.discarded = {number for (number,) in con.execute(
            f"SELECT t.number FROM trials t WHERE t.study_id = ? AND {own} AND t.trial_id IN "
            f"({marked})", (sid, lent, discarded))}
        # a PBT study's best is among its final generations, once it has any
        finals = f"{marked} AND value_json = 'true'"
        (pbt,) = con.execute(f"SELECT EXISTS (SELECT 1 FROM trials t WHERE t.study_id = ? AND "
                             f"t.state = 'COMPLETE' AND {own} AND t.trial_id IN ({finals}))",
                             (sid, lent, final)).fetchone()
        candidate = f"{own} AND t.trial_id NOT IN ({marked})"  # not a --darts search
        if _constrained(con, sid):  # only the trials that meet their constraints
            candidate += (f" AND t.trial_id IN ({_CONSTRAINED}) AND t.trial_id NOT IN "
                          f"({_CONSTRAINED} AND CAST(value_json AS REAL) > 0)")
        points = _candidates(con, sid, len(directions),
                             f"{candidate} AND t.trial_id IN ({finals})" if pbt else candidate,
                             (lent, supernet, final) if pbt else (lent, supernet))
        rows.best = [(number, values, _params(con, sid, number))
                     for number, values in choose(points, directions)]
    return rows


# the trials with a constraint recorded (Optuna's trial.set_constraint: a violation, met when
# 0 or less; _utils/constraints.py)
_CONSTRAINED = "SELECT trial_id FROM trial_system_attributes WHERE key LIKE 'constraints:%'"


def _constrained(con: sqlite3.Connection, sid: int) -> bool:
    (found,) = con.execute(f"SELECT EXISTS (SELECT 1 FROM trials t WHERE t.study_id = ? AND "
                           f"t.trial_id IN ({_CONSTRAINED}))", (sid,)).fetchone()
    return bool(found)


def _candidates(con: sqlite3.Connection, sid: int, objectives: int, candidate: str,
                keys: tuple[str, ...]) -> list[Point]:
    """Every complete candidate's number and values, infinities included (Optuna keeps them
    as NULL with their sign in ``value_type``)."""
    values: dict[int, dict[int, float]] = {}
    for number, objective, value, kind in con.execute(
            "SELECT t.number, v.objective, v.value, v.value_type FROM trials t "
            "JOIN trial_values v ON v.trial_id = t.trial_id WHERE t.study_id = ? AND "
            f"t.state = 'COMPLETE' AND {candidate} ORDER BY t.number", (sid, *keys)):
        values.setdefault(number, {})[objective] = _value(value, kind)
    return [(number, [v[i] for i in range(objectives)]) for number, v in values.items()
            if len(v) == objectives]


def _value(value: float | None, kind: str) -> float:
    if kind == "INF_POS":
        return float("inf")
    if kind == "INF_NEG":
        return float("-inf")
    return float("nan") if value is None else float(value)


def _params(con: sqlite3.Connection, sid: int, number: int) -> dict[str, Any]:
    from optuna.distributions import json_to_distribution

    return {p: json_to_distribution(d).to_external_repr(v) for p, v, d in con.execute(
        "SELECT p.param_name, p.param_value, p.distribution_json FROM trial_params p JOIN "
        "trials t ON t.trial_id = p.trial_id WHERE t.study_id = ? AND t.number = ?",
        (sid, number))}
