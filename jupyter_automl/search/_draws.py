"""Drawing and moving single values of an Optuna distribution with a given random generator.

The search strategies of this package keep no state outside the study, so each draw comes from a
generator seeded by the study's seed, the trial's number and the parameter's name: the same
study replays the same trials in any process (a worker kernel, a second runner, a rerun).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


def generator(seed: int, number: int, name: str = "") -> np.random.Generator:
    """The generator of trial ``number``'s draws of ``name`` (``""``: the trial's own)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, number, zlib.crc32(name.encode())])


def uniform(distribution: BaseDistribution, rng: np.random.Generator) -> Any:
    """A value drawn uniformly (log-uniformly where the distribution is log-scaled)."""
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[_index(rng, len(distribution.choices))]
    if isinstance(distribution, IntDistribution):
        if distribution.log:
            return snap(distribution, math.exp(rng.uniform(*_bounds(distribution))))
        return distribution.low + distribution.step * _index(rng, int(size(distribution)))
    assert isinstance(distribution, FloatDistribution)
    low, high = _bounds(distribution)
    x = rng.uniform(low, high)
    return snap(distribution, math.exp(x) if distribution.log else x)


def size(distribution: BaseDistribution) -> float:
    """How many values it has (``inf`` for a continuous float)."""
    if isinstance(distribution, CategoricalDistribution):
        return len(distribution.choices)
    if isinstance(distribution, IntDistribution):
        return (distribution.high - distribution.low) // distribution.step + 1
    assert isinstance(distribution, FloatDistribution)
    if distribution.step is None:
        return math.inf if distribution.high > distribution.low else 1
    return int(round((distribution.high - distribution.low) / distribution.step)) + 1


def nearby(distribution: BaseDistribution, value: Any, rng: np.random.Generator) -> Any:
    """A value other than ``value`` near it: another option of a choice; for a number, a step
    of about a tenth of its range (on the log scale where it is log-scaled), reflected at the
    ends, snapped to its step, and never the value itself when there is another."""
    if isinstance(distribution, CategoricalDistribution):
        others = [c for c in distribution.choices if c != value]
        return others[_index(rng, len(others))] if others else value
    assert isinstance(distribution, (IntDistribution, FloatDistribution))
    if size(distribution) < 2:
        return value
    if isinstance(distribution, IntDistribution) and not distribution.log:
        return _nearby_index(distribution, value, rng)
    low, high = _bounds(distribution)
    x = math.log(value) if distribution.log else float(value)
    new = value
    for _ in range(16):
        moved = _reflect(x + rng.normal(0.0, 0.1 * (high - low)), low, high)
        new = snap(distribution, math.exp(moved) if distribution.log else moved)
        if new != value:
            return new
    return _nearby_index(distribution, value, rng) if isinstance(distribution, IntDistribution) \
        else new


def contains(distribution: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` is a value of ``distribution`` (a parent's value fits the child's)."""
    try:
        return bool(distribution._contains(distribution.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def text(value: Any) -> str:
    """How a value reads in a mutation (``conv3``, ``0.0031``, ``64``)."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _nearby_index(distribution: IntDistribution, value: int, rng: np.random.Generator) -> int:
    count = int(size(distribution))
    index = (value - distribution.low) // distribution.step
    reach = max(1, round(0.1 * count))
    moves = [d for d in range(-reach, reach + 1) if d and 0 <= index + d < count]
    return distribution.low + distribution.step * (index + moves[_index(rng, len(moves))])


def _index(rng: np.random.Generator, count: int) -> int:
    """One of ``0 .. count - 1``."""
    return int(rng.integers(count))


def _bounds(distribution: IntDistribution | FloatDistribution) -> tuple[float, float]:
    low, high = float(distribution.low), float(distribution.high)
    return (math.log(low), math.log(high)) if distribution.log else (low, high)


def _reflect(x: float, low: float, high: float) -> float:
    span = high - low
    if span <= 0:
        return low
    x = (x - low) % (2 * span)
    return low + (x if x <= span else 2 * span - x)


def snap(distribution: IntDistribution | FloatDistribution, x: float) -> int | float:
    """``x`` moved onto the distribution's grid and range."""
    low, high = distribution.low, distribution.high
    step = distribution.step
    if step is not None:
        x = low + round((x - low) / step) * step
    x = min(max(x, low), high)
    if isinstance(distribution, IntDistribution):
        return int(round(x))
    return float(x)
