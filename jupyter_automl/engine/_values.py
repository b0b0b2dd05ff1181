"""A trial's objective values: from the cell's last expression and its Keras logs; and the
best trials (the Pareto front) among finished ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MetricError, TrialValueError

if TYPE_CHECKING:
    from ..training._fit import TrialFit
    from ._study import PreparedStudy


def resolve_values(value: Any, fit: TrialFit, prepared: PreparedStudy) -> list[float]:
    """The trial's objective values from the cell's last expression and its Keras logs."""
    metrics = [o.metric for o in prepared.objectives]
    named: dict[str, Any] = {}
    if isinstance(value, dict):
        named = value
    elif is_number(value) or (isinstance(value, (tuple, list)) and value
                               and all(is_number(v) for v in value)):
        values = [value] if is_number(value) else list(value)
        if len(values) != len(metrics):
            raise TrialValueError(f"the cell returned {len(values)} value(s) but the study has "
                                  f"{len(metrics)} objective(s): {metrics}")
        return [_finite(v, m) for v, m in zip(values, metrics)]
    elif value is not None and not fit.history and not _is_history(value):
        raise TrialValueError(
            f"the cell's last expression is a {type(value).__name__}, not a value; end the cell "
            "with a number, a tuple of numbers (one per objective), a dict of metric values, "
            "or a model.fit(...) call")
    logs = fit.best_logs
    result = []
    for metric in metrics:
        name = metric or fit.metric
        if name is None:
            raise TrialValueError("the cell gave no value: end it with a number to minimize, a "
                                  "model.fit(...) call, or name a metric with --maximize")
        if name in named:
            result.append(_finite(named[name], name))
        elif name in logs:
            result.append(_finite(logs[name], name))
        else:
            available = sorted({*named, *(k for k in logs if k != "epoch")})
            raise MetricError(f"metric {name!r} is in neither the cell's returned values nor the "
                              f"training logs; available: {', '.join(available) or 'none'}")
    return result


def _finite(value: Any, metric: str | None) -> float:
    if not is_number(value):
        raise TrialValueError(f"{metric or 'the value'} is {value!r}, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise TrialValueError(f"{metric or 'the value'} is {number}: the trial diverged or the "
                              "cell computed an invalid value")
    return number


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes))


def _is_history(value: Any) -> bool:
    return type(value).__name__ == "History"


def pareto_front(points: list[tuple[int, list[float]]],
                 signs: list[float]) -> list[tuple[int, list[float]]]:
    """The points no other point dominates (``signs``: +1 to maximize, -1 to minimize).

    With one objective, the single best point (the earliest of ties), in linear time.
    """
    if len(signs) == 1:
        return [max(points, key=lambda p: signs[0] * p[1][0])] if points else []

    def dominates(a: list[float], b: list[float]) -> bool:
        pairs = [(s * x, s * y) for s, x, y in zip(signs, a, b)]
        return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)

    return [p for p in points if not any(dominates(q[1], p[1]) for q in points)]


TABLE_COLUMNS = {"number", "state", "params", "epochs", "duration", "kernel", "peak_mb", "error"}


def value_columns(metrics: Sequence[str | None]) -> list[str]:
    """The objectives' column names in trial tables: each metric's name, or ``value``; a name
    that is also a table column is renamed (``params`` -> ``params (value)``)."""
    return [f"{m} (value)" if m in TABLE_COLUMNS else (m or "value") for m in metrics]
