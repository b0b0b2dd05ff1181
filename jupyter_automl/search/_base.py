"""What the samplers of this package share: a seed their per-trial draws derive from, and no
relative (joint) sampling, since each parameter is drawn on its own."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from optuna.samplers import BaseSampler

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial


class SeededSampler(BaseSampler):
    """A sampler whose draws come from ``_draws.generator(self._seed, ...)``."""

    def __init__(self, seed: int | None) -> None:
        self._seed = random.getrandbits(32) if seed is None else seed

    def reseed_rng(self) -> None:
        self._seed = random.getrandbits(32)

    def infer_relative_search_space(self, study: Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}
