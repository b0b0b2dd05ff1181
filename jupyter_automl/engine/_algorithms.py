"""Registries of samplers and pruners, by the names the ``--sampler``/``--pruner`` options use."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import OptionError, SpaceError
from ..space import ParamSpec

if TYPE_CHECKING:
    import optuna

# the names --sampler and --pruner take: one factory each below
SAMPLERS = ("tpe", "random", "grid", "gp", "cmaes", "nsga2", "qmc")
PRUNERS = ("hyperband", "median", "sha", "patient", "none")


def make_sampler(name: str, seed: int | None, n_objectives: int,
                 space: list[ParamSpec]) -> optuna.samplers.BaseSampler:
    """The sampler called ``name``; ``space`` is the static space (the grid sampler needs it)."""
    import optuna

    s = optuna.samplers
    factories: dict[str, Callable[[], Any]] = {
        "tpe": lambda: s.TPESampler(seed=seed, multivariate=True, group=True),
        "random": lambda: s.RandomSampler(seed=seed),
        "grid": lambda: s.GridSampler(_grid(space), seed=seed),
        "gp": lambda: s.GPSampler(seed=seed),
        "cmaes": lambda: s.CmaEsSampler(seed=seed),
        "nsga2": lambda: s.NSGAIISampler(seed=seed),
        "qmc": lambda: s.QMCSampler(seed=seed),
    }
    if name == "cmaes" and n_objectives > 1:
        raise OptionError("--sampler cmaes handles one objective only; use nsga2 or tpe for "
                          "several --maximize/--minimize metrics")
    try:
        with warnings.catch_warnings():  # the user asked for it: "experimental" is noise here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return factories[name]()
    except ImportError as exc:
        package = {"gp": "torch", "cmaes": "cmaes"}.get(name, exc.name or "?")
        raise OptionError(f"--sampler {name} needs the package {package!r}: "
                          f"pip install {package} (or choose another --sampler)") from None


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    import optuna

    p = optuna.pruners
    factories: dict[str, Callable[[], Any]] = {
        "hyperband": lambda: p.HyperbandPruner(min_resource=1),
        "median": lambda: p.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
        "sha": lambda: p.SuccessiveHalvingPruner(),
        "patient": lambda: p.PatientPruner(p.MedianPruner(n_startup_trials=5), patience=2),
        "none": lambda: p.NopPruner(),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return factories[name]()


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
