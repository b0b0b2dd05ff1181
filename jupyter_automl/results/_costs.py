"""The deployment costs a study measured of its trials' models (``--measure``; the figures
are training/_costs.py's): the user attributes they are kept in, and what they say about the
study as a whole."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._utils.constraints import is_feasible
from ..deploy import COSTS as COST_NAMES

if TYPE_CHECKING:
    import optuna

COSTS = "costs"  # user attribute: {measure: value} of the trial's model
COST_SECONDS = "cost_seconds"  # user attribute: what measuring took (0: read from the cache)
COSTS_CACHED = "costs_cached"  # user attribute: the architecture had been measured before


def costs_of(attrs: dict[str, Any]) -> dict[str, float]:
    """A trial's measured costs (none when it measured none)."""
    return {k: float(v) for k, v in (attrs.get(COSTS) or {}).items()}


def cost_names(costs: Iterable[dict[str, float]]) -> list[str]:
    """The measures some trial has, in :data:`~jupyter_automl.deploy.COSTS`'s order."""
    seen = {name for figures in costs for name in figures}
    return [name for name in COST_NAMES if name in seen]


def costs_text(trials: Iterable[optuna.trial.FrozenTrial]) -> str | None:
    """``deployment costs (tflite_int8_kb): 12 trials, 5 measured in 0.3 s each, 7 read from
    the cache of architectures measured before; 4 not trained, their models missing a
    bound``; None for a study that measured nothing."""
    from optuna.trial import TrialState

    trials = list(trials)
    measured = [t for t in trials if t.user_attrs.get(COSTS)]
    untrained = sum(t.state == TrialState.PRUNED and not is_feasible(t.constraints)
                    for t in measured)
    if not measured:
        return None
    names = cost_names(costs_of(t.user_attrs) for t in measured)
    cached = sum(bool(t.user_attrs.get(COSTS_CACHED)) for t in measured)
    spent = [float(t.user_attrs.get(COST_SECONDS) or 0.0) for t in measured
             if not t.user_attrs.get(COSTS_CACHED)]
    each = f" in {sum(spent) / len(spent):.1f} s each" if spent else ""
    return (f"deployment costs ({', '.join(names)}): {len(measured)} trial"
            f"{'s' if len(measured) != 1 else ''}, {len(spent)} measured{each}, {cached} read "
            "from the cache of architectures measured before"
            + (f"; {untrained} not trained, their models missing a bound" if untrained else ""))
