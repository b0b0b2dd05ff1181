"""A trial trained on several seeds (``--executions-per-trial N``), as its user attributes
record it: each finished execution's values and objective curve and each execution's seed,
kept as the executions finish (so a retry resumes at the execution that was cut short), and,
once all have finished, the spread of their values. The trial's own values are their mean.

Written by the engine's execution loop (``engine/_trial.py``); read by the trial rows, which
show a value as ``0.912 ± 0.008 (3 runs)``, and by the panel.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

EXECUTIONS = "executions"  # the finished executions' values, a list per execution
EXECUTION_CURVES = "execution_curves"  # each finished one's objective by step: [[step, v]...]
EXECUTION_SEEDS = "execution_seeds"  # the seed of each execution started, in order
EXECUTIONS_STD = "executions_std"  # all finished: each objective's standard deviation
# what a retry of the trial takes over (engine/_recovery.py), so that it goes on from there
CARRIED = (EXECUTIONS, EXECUTION_CURVES, EXECUTION_SEEDS)


def mean_and_std(runs: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """Each objective's mean over the executions ``runs`` (one list of values each) and its
    sample standard deviation (n - 1 in the denominator; 0 for a single execution)."""
    columns = list(zip(*runs))
    means = [math.fsum(c) / len(c) for c in columns]
    stds = [statistics.stdev(c) if len(c) > 1 else 0.0 for c in columns]
    return means, stds


def spread_of(attrs: Mapping[str, Any]) -> tuple[list[float], int] | None:
    """A trial's spread: each objective's standard deviation and the number of executions its
    values are the mean of; None for a trial of one execution, or one not finished."""
    std = attrs.get(EXECUTIONS_STD)
    if std is None:
        return None
    return [float(s) for s in std], len(attrs.get(EXECUTIONS) or ())
