"""The samplers and pruners, one table each, by the names ``--sampler`` and ``--pruner`` take."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import OptionError, SpaceError
from ..space import ParamSpec

if TYPE_CHECKING:
    import optuna

DEFAULT_EVOLUTION_POPULATION = 30  # --sampler evolution: the last P finished trials


def default_tournament(population: int) -> int:
    """--sampler evolution: a parent is the best of half the population, drawn at random."""
    return max(1, population // 2)


@dataclass(frozen=True)
class Study:
    """What a sampler is made for: the study's seed, its number of objectives, its static space
    (the grid sampler needs it) and the settings of the search strategies of ours."""

    seed: int | None
    objectives: int
    space: list[ParamSpec]
    population: int | None = None  # --sampler evolution: its population (None: the default)
    tournament: int | None = None  # --sampler evolution: the members each parent is best of


@dataclass(frozen=True)
class Sampler:
    """A row of :data:`SAMPLERS`: how to make the sampler for a :class:`Study`."""

    make: Callable[[Study], optuna.samplers.BaseSampler]
    needs: str | None = None  # the package it imports, named when it is missing
    objectives: int | None = None  # the most objectives it handles (None: any)


def _tpe(study: Study) -> Any:
    from optuna.samplers import TPESampler

    return TPESampler(seed=study.seed, multivariate=True, group=True)


def _random(study: Study) -> Any:
    from optuna.samplers import RandomSampler

    return RandomSampler(seed=study.seed)


def _grid_sampler(study: Study) -> Any:
    from optuna.samplers import GridSampler

    return GridSampler(_grid(study.space), seed=study.seed)


def _gp(study: Study) -> Any:
    from optuna.samplers import GPSampler

    return GPSampler(seed=study.seed)


def _cmaes(study: Study) -> Any:
    from optuna.samplers import CmaEsSampler

    return CmaEsSampler(seed=study.seed)


def _nsga2(study: Study) -> Any:
    from optuna.samplers import NSGAIISampler

    return NSGAIISampler(seed=study.seed)


def _qmc(study: Study) -> Any:
    from optuna.samplers import QMCSampler

    return QMCSampler(seed=study.seed)


def _evolution(study: Study) -> Any:
    from ..search import EvolutionSampler

    population = study.population or DEFAULT_EVOLUTION_POPULATION
    return EvolutionSampler(population=population,
                            tournament=study.tournament or default_tournament(population),
                            seed=study.seed)


def _hybrid(study: Study) -> Any:
    if study.objectives > 1:  # evolution ranks by one value: TPE alone for a Pareto front
        return _tpe(study)
    from ..search import HybridSampler

    return HybridSampler(seed=study.seed)


def _reinforce(study: Study) -> Any:
    from ..search import ReinforceSampler

    return ReinforceSampler(seed=study.seed)


# The samplers, by the names --sampler takes. A new one is a factory (in a module of its own
# when it is ours) and a row here.
SAMPLERS: dict[str, Sampler] = {
    "tpe": Sampler(_tpe),
    "random": Sampler(_random),
    "grid": Sampler(_grid_sampler),
    "gp": Sampler(_gp, needs="torch"),
    "cmaes": Sampler(_cmaes, needs="cmaes", objectives=1),
    "nsga2": Sampler(_nsga2),
    "qmc": Sampler(_qmc),
    "evolution": Sampler(_evolution, objectives=1),
    "tpe+evolution": Sampler(_hybrid),
    "reinforce": Sampler(_reinforce, objectives=1),
}


def _hyperband() -> Any:
    from optuna.pruners import HyperbandPruner

    return HyperbandPruner(min_resource=1)


def _median() -> Any:
    from optuna.pruners import MedianPruner

    return MedianPruner(n_startup_trials=5, n_warmup_steps=1)


def _sha() -> Any:
    from optuna.pruners import SuccessiveHalvingPruner

    return SuccessiveHalvingPruner()


def _patient() -> Any:
    from optuna.pruners import MedianPruner, PatientPruner

    return PatientPruner(MedianPruner(n_startup_trials=5), patience=2)


def _none() -> Any:
    from optuna.pruners import NopPruner

    return NopPruner()


# The pruners, by the names --pruner takes: a new one is a factory and a row.
PRUNERS: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
    "hyperband": _hyperband,
    "median": _median,
    "sha": _sha,
    "patient": _patient,
    "none": _none,
}


def make_sampler(name: str, seed: int | None, n_objectives: int, space: list[ParamSpec],
                 population: int | None = None,
                 tournament: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler called ``name``; ``space`` is the static space (the grid sampler needs it),
    ``population`` and ``tournament`` evolution's settings."""
    import optuna

    row = SAMPLERS[name]
    if row.objectives is not None and n_objectives > row.objectives:
        raise OptionError(f"--sampler {name} handles one objective only; use nsga2 or tpe for "
                          "several --maximize/--minimize metrics")
    try:
        with warnings.catch_warnings():  # the user asked for it: "experimental" is noise here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return row.make(Study(seed, n_objectives, space, population, tournament))
    except ImportError as exc:
        package = row.needs or exc.name or "?"
        raise OptionError(f"--sampler {name} needs the package {package!r}: "
                          f"pip install {package} (or choose another --sampler)") from None


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return PRUNERS[name]()


def _grid(space: list[ParamSpec]) -> dict[str, list[Any]]:
    """The grid of a fully literal space; an error names the first parameter that has none."""
    grid: dict[str, list[Any]] = {}
    for spec in space:
        if not spec.exact:
            raise SpaceError(f"--sampler grid needs every parameter known before the run, but "
                             f"{spec.name!r} (line {spec.line}) is computed; use tpe or random")
        grid[spec.name] = _grid_values(spec)
    if not grid:
        raise SpaceError("--sampler grid found no hp calls in the cell")
    return grid


def _grid_values(spec: ParamSpec) -> list[Any]:
    if spec.kind == "choice":
        return list(spec.choices or [])
    if spec.kind == "bool":
        return [False, True]
    if spec.kind == "fixed":
        return [spec.value]
    if spec.step is None:
        raise SpaceError(f"--sampler grid needs a step for float parameter {spec.name!r} "
                         f"(line {spec.line}): hp.float({spec.name!r}, {spec.low}, {spec.high}, "
                         "step=...), or use tpe or random")
    assert spec.low is not None and spec.high is not None
    count = int(round((spec.high - spec.low) / spec.step)) + 1
    values = [spec.low + i * spec.step for i in range(count)]
    return [int(v) for v in values] if spec.kind == "int" else values
