"""A trial's objective values: from the cell's last expression and its Keras logs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .._utils.constraints import Constraint, missing_metric
from .._utils.objectives import is_number
from ..errors import MetricError, TrialValueError

if TYPE_CHECKING:
    from ..training import TrialFit
    from ._study import PreparedStudy


def resolve_values(value: Any, fit: TrialFit, prepared: PreparedStudy,
                   measured: dict[str, float] | None = None) -> list[float]:
    """The trial's objective values from the cell's last expression, its Keras logs and what
    was ``measured`` of its model (``params``, deployment costs)."""
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
        elif measured and name in measured:
            result.append(_finite(measured[name], name))
        else:
            available = sorted({*named, *(k for k in logs if k != "epoch"), *(measured or ())})
            raise MetricError(f"metric {name!r} is in neither the cell's returned values nor the "
                              f"training logs; available: {', '.join(available) or 'none'}")
    return result


def constraint_values(value: Any, fit: TrialFit, constraints: list[Constraint],
                      measured: dict[str, float]) -> list[tuple[Constraint, float]]:
    """Each constraint with its metric's value for the trial: from the cell's
    returned dict, its Keras logs (the epoch its value came from) or what was ``measured`` of
    its model (``params``, deployment costs). A metric found nowhere is a MetricError naming
    what there is."""
    named = value if isinstance(value, dict) else {}
    logs = fit.best_logs
    found = []
    for constraint in constraints:
        name = constraint.metric
        for source in (named, logs, measured):
            if name in source:
                found.append((constraint, _finite(source[name], name)))
                break
        else:
            available = {*named, *(k for k in logs if k != "epoch"), *measured}
            raise MetricError(missing_metric(constraint.text, name, available))
    return found


def _finite(value: Any, metric: str | None) -> float:
    if not is_number(value):
        raise TrialValueError(f"{metric or 'the value'} is {value!r}, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise TrialValueError(f"{metric or 'the value'} is {number}: the trial diverged or the "
                              "cell computed an invalid value")
    return number


def _is_history(value: Any) -> bool:
    return type(value).__name__ == "History"
