"""TPE with evolution's local steps: every ``every``-th trial mutates the best of a tournament
(:class:`EvolutionSampler`), the others are TPE's. TPE models the whole space; the evolution
steps search around the best trials found, which TPE's density model is slow to do in spaces of
many choices (``benchmarks/search_quality.py`` measures both on public tables).

The trial's number says which sampler draws it, so a rerun, a second runner and worker kernels
route each trial the same way.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from optuna.exceptions import ExperimentalWarning
from optuna.samplers import BaseSampler, TPESampler

from ._evolution import EvolutionSampler

if TYPE_CHECKING:
    from collections.abc import Sequence

    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial, TrialState

EVERY = 3  # one trial in three is an evolution step


class HybridSampler(BaseSampler):
    """Multivariate TPE, with one trial in ``every`` drawn by regularized evolution."""

    def __init__(self, seed: int | None = None, every: int = EVERY,
                 population: int = 30, tournament: int = 15) -> None:
        self.every = every
        with warnings.catch_warnings():  # "group" is experimental in Optuna: chosen on purpose
            warnings.simplefilter("ignore", ExperimentalWarning)
            self.tpe = TPESampler(seed=seed, multivariate=True, group=True)
        self.evolution = EvolutionSampler(population, tournament, seed=seed)

    def _for(self, trial: FrozenTrial) -> BaseSampler:
        return self.evolution if trial.number % self.every == 0 else self.tpe

    def reseed_rng(self) -> None:
        self.tpe.reseed_rng()
        self.evolution.reseed_rng()

    def infer_relative_search_space(self, study: Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name,
                                                    param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.tpe.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self.tpe.after_trial(study, trial, state, values)
