"""REINFORCE (Williams, 1992) as an Optuna sampler, as in NAS-Bench-201's reinforcement-learning
baseline: a policy of independent softmax distributions, one per parameter (over a choice's
options, or over bins of an int's or a float's range), updated by the policy gradient of each
finished trial's value against a moving-average baseline, with Adam.

The policy is rebuilt from the study's finished trials in the order of their numbers, so a rerun,
a second runner and worker kernels all continue the one policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from .._utils.constraints import infeasibility
from . import _draws
from ._base import SeededSampler

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial

BINS = 10  # the most actions an int's or a float's range is cut into


class ReinforceSampler(SeededSampler):
    """REINFORCE with Adam (``learning_rate``) and a baseline that moves by ``momentum``."""

    def __init__(self, learning_rate: float = 0.1, momentum: float = 0.9,
                 seed: int | None = None) -> None:
        if not learning_rate > 0 or not 0 <= momentum < 1:
            raise ValueError("reinforce needs learning_rate > 0 and 0 <= momentum < 1 "
                             f"(got {learning_rate}, {momentum})")
        self.learning_rate, self.momentum = learning_rate, momentum
        super().__init__(seed)
        self._policies: dict[int, _Policy] = {}  # by study: the policy and the trials it saw

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        rng = _draws.generator(self._seed, trial.number, param_name)
        if _draws.size(param_distribution) < 2:
            return _draws.uniform(param_distribution, rng)
        logits = self.policy(study).logits(param_name, param_distribution)
        probabilities = _softmax(logits)
        action = int(rng.choice(len(probabilities), p=probabilities))
        return _Actions(param_distribution).value(action, rng)

    def policy(self, study: Study) -> _Policy:
        """The study's policy, updated with the trials that finished since it was last asked
        (rebuilt from the first trial when an earlier-numbered one finished late)."""
        done = sorted((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                       if t.values is not None), key=lambda t: t.number)
        numbers = [t.number for t in done]
        policy = self._policies.get(study._study_id)
        if policy is None or numbers[:len(policy.seen)] != policy.seen:
            policy = self._policies[study._study_id] = _Policy(
                self.learning_rate, self.momentum,
                -1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1.0)
        for trial in done[len(policy.seen):]:
            policy.learn(trial)
        return policy


@dataclass
class _Policy:
    """Softmax logits per parameter, trained by REINFORCE with Adam."""

    learning_rate: float
    momentum: float
    sign: float  # +1 to maximize the value, -1 to minimize it
    seen: list[int] = field(default_factory=list)
    baseline: float | None = None
    worst: float = math.inf  # the lowest reward learned from
    step: int = 0
    _logits: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _moments: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def logits(self, name: str, distribution: BaseDistribution) -> np.ndarray:
        key = (name, repr(distribution))
        if key not in self._logits:
            self._logits[key] = np.zeros(_Actions(distribution).count)
        return self._logits[key]

    def learn(self, trial: FrozenTrial) -> None:
        """One policy-gradient step from ``trial``: its actions made likelier in proportion to
        how far its reward beats the baseline."""
        self.seen.append(trial.number)
        reward = self.sign * float(trial.value)  # type: ignore[arg-type]
        if infeasibility(trial.constraints) > 0:  # --constraint: as the worst trial yet, or
            reward = min(reward, self.worst)  # worse: its actions become less likely
        self.worst = min(self.worst, reward)
        if self.baseline is None:
            self.baseline = reward
        advantage = reward - self.baseline
        self.baseline = self.momentum * self.baseline + (1 - self.momentum) * reward
        self.step += 1
        for name, distribution in trial.distributions.items():
            if _draws.size(distribution) < 2:
                continue
            logits = self.logits(name, distribution)
            action = _Actions(distribution).action(trial.params[name])
            gradient = -advantage * (np.eye(len(logits))[action] - _softmax(logits))  # ascent
            logits -= self._adam((name, repr(distribution)), gradient)

    def _adam(self, key: tuple[str, str], gradient: np.ndarray) -> np.ndarray:
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        m, v = self._moments.get(key, (np.zeros_like(gradient), np.zeros_like(gradient)))
        m, v = beta1 * m + (1 - beta1) * gradient, beta2 * v + (1 - beta2) * gradient ** 2
        self._moments[key] = (m, v)
        m_hat, v_hat = m / (1 - beta1 ** self.step), v / (1 - beta2 ** self.step)
        return self.learning_rate * m_hat / (np.sqrt(v_hat) + eps)


class _Actions:
    """A parameter's actions: a choice's options; a number's values when it has at most
    :data:`BINS` of them on a linear grid; else :data:`BINS` bins of its range (on the log scale
    where it is log-scaled), a value drawn uniformly within the chosen bin."""

    def __init__(self, distribution: BaseDistribution) -> None:
        d: Any = distribution
        self.distribution = d
        self.categorical = isinstance(d, CategoricalDistribution)
        size = _draws.size(d)
        self.exact = not self.categorical and size <= BINS and not d.log
        self.count = int(size) if self.categorical or self.exact else BINS

    def action(self, value: Any) -> int:
        d = self.distribution
        if self.categorical:
            return int(d.choices.index(value))
        if self.exact:
            return int(round((value - d.low) / d.step))
        low, high = self._bounds()
        x = math.log(value) if d.log else float(value)
        return min(int((x - low) / (high - low) * self.count), self.count - 1)

    def value(self, action: int, rng: np.random.Generator) -> Any:
        d = self.distribution
        if self.categorical:
            return d.choices[action]
        if self.exact:
            return type(d.low)(d.low + action * d.step)
        low, high = self._bounds()
        width = (high - low) / self.count
        x = rng.uniform(low + action * width, low + (action + 1) * width)
        return _draws.snap(d, math.exp(x) if d.log else x)

    def _bounds(self) -> tuple[float, float]:
        d = self.distribution
        low, high = float(d.low), float(d.high)
        return (math.log(low), math.log(high)) if d.log else (low, high)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()
