"""Search strategies of our own: as Optuna samplers, regularized evolution, REINFORCE, and TPE
with evolution's local steps; and differentiable search (DARTS) inside a trial's ``fit``.

Each keeps no state outside the study, so a rerun, a second runner on a shared study and worker
kernels continue one search. The samplers import Optuna, so they load on first use: the trial
table reads a trial's origin (:func:`origin_text`) without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._darts import (
    DEFAULT_BETA,
    DERIVED_FROM,
    LEARNING_RATE,
    SUPERNET,
    WEIGHTS,
    Darts,
    DartsSettings,
    retrains_owed,
    weights_by_epoch,
)
from ._lineage import EVOLVED_FROM, MUTATION, origin_text

if TYPE_CHECKING:
    from ._evolution import EvolutionSampler
    from ._hybrid import HybridSampler
    from ._reinforce import ReinforceSampler

__all__ = [
    "DEFAULT_BETA",
    "DERIVED_FROM",
    "LEARNING_RATE",
    "EVOLVED_FROM",
    "MUTATION",
    "SUPERNET",
    "WEIGHTS",
    "Darts",
    "DartsSettings",
    "EvolutionSampler",
    "HybridSampler",
    "ReinforceSampler",
    "origin_text",
    "retrains_owed",
    "weights_by_epoch",
]


def __getattr__(name: str) -> Any:
    if name == "EvolutionSampler":
        from ._evolution import EvolutionSampler

        return EvolutionSampler
    if name == "HybridSampler":
        from ._hybrid import HybridSampler

        return HybridSampler
    if name == "ReinforceSampler":
        from ._reinforce import ReinforceSampler

        return ReinforceSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
