"""Objective values: what counts as a number, the sign of each direction, the best trials.

One home for these, used by the runner (its best so far), the panel (its charts) and the
results (their summaries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def is_number(value: Any) -> bool:
    """A value usable as an objective: a real number (not a bool, not text)."""
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes))


def signs(directions: Sequence[str]) -> list[float]:
    """+1 for each objective to maximize, -1 for each to minimize."""
    return [1.0 if d == "maximize" else -1.0 for d in directions]


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


def front_text(size: int) -> str:
    """How the best trials of a multi-objective study are named in one line."""
    return f"Pareto front of {size} trial{'s' * (size != 1)}"
