"""Constraints on a trial's metrics (``--constraint "params <= 50000"``): what one says, how far
a trial is from meeting it, and which trials are feasible.

A trial's constraints are kept in its study the way Optuna keeps them
(``trial.set_constraint(text, violation)``, a violation of 0 or less meets it), so Optuna's
samplers (TPE, NSGA-II, GP) steer towards the feasible region without being told, and every
reader of the study (the runner, the panel, the sidebar, the results) agrees on which trials
count. Pure Python: no Optuna import.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Operator = Literal["<=", ">="]
_EXPRESSION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.:/-]*)\s*(<=|>=|<|>|==|=)\s*(\S+)\s*$")
_SUFFIX = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``: a trial meets it when its ``metric`` is ``op`` the ``bound``."""

    metric: str
    op: Operator
    bound: float

    @property
    def text(self) -> str:
        """How it is written, and its key among a trial's constraints."""
        return f"{self.metric} {self.op} {self.bound:g}"

    def violation(self, value: float) -> float:
        """How far ``value`` is past the bound: 0 or less when it meets it."""
        return value - self.bound if self.op == "<=" else self.bound - value

    def value_of(self, violation: float) -> float:
        """The metric's value a recorded ``violation`` stands for."""
        return violation + self.bound if self.op == "<=" else self.bound - violation


def parse_constraint(text: str) -> Constraint:
    """``"params <= 50000"`` as a :class:`Constraint`; a ValueError says what is wrong."""
    found = _EXPRESSION.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a constraint: write METRIC <= NUMBER or METRIC >= "
                         "NUMBER, e.g. \"params <= 50000\" or \"val_accuracy >= 0.9\" (quote it)")
    metric, op, bound_text = found.groups()
    if op not in ("<=", ">="):
        better = {"<": "<=", ">": ">=", "==": "<= and >=", "=": "<= and >="}[op]
        raise ValueError(f"{text!r}: a constraint is METRIC <= NUMBER or METRIC >= NUMBER (a "
                         f"bound the metric may reach); use {better}")
    bound = _number(bound_text)
    if bound is None:
        raise ValueError(f"{text!r}: the bound {bound_text!r} is not a number (write it as "
                         "50000, 5e4 or 50k)")
    return Constraint(metric, op, bound)  # type: ignore[arg-type]


def missing_metric(constraint: str, metric: str, available: Iterable[str]) -> str:
    """The error of a constraint on a metric the trial does not have."""
    have = ", ".join(sorted(set(available))) or "none"
    return (f"--constraint {constraint!r}: the trial has no metric {metric!r}; it has {have}. "
            "Constrain one of those, or return it from the cell in a dict")


def _number(text: str) -> float | None:
    scale = _SUFFIX.get(text[-1:], 1.0)
    try:
        number = float(text[:-1] if scale != 1.0 else text) * scale
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def is_feasible(violations: Mapping[str, float]) -> bool:
    """A trial's recorded constraints (Optuna's ``trial.constraints``) are all met. A trial
    with none recorded is not known to be feasible: see :func:`feasible_only`."""
    return bool(violations) and all(v <= 0 for v in violations.values())


def infeasibility(violations: Mapping[str, float]) -> float:
    """How far a trial is from meeting its constraints: the sum of its positive violations, 0
    when it meets them (the score by which Optuna's TPE ranks infeasible trials)."""
    return sum(v for v in violations.values() if v > 0)


def constrained(trials: Iterable[Any]) -> bool:
    """Whether any of ``trials`` (Optuna's frozen trials) recorded a constraint."""
    return any(_constraints(t) for t in trials)


def feasible_only(trials: list[Any], among: Iterable[Any] | None = None) -> list[Any]:
    """``trials`` that meet their constraints, when the study (``among``, default ``trials``)
    has constraints at all; otherwise all of them. In a constrained study a trial that
    recorded none (it finished before the constraint was added) is left out: it was never
    checked."""
    if not constrained(trials if among is None else among):
        return trials
    return [t for t in trials if is_feasible(_constraints(t))]


def unmet(violations: Mapping[str, float]) -> list[str]:
    """The constraints a trial misses, as written (its keys with a violation above 0)."""
    return [text for text, v in violations.items() if v > 0]


def _constraints(trial: Any) -> Mapping[str, float]:
    return getattr(trial, "constraints", None) or {}
