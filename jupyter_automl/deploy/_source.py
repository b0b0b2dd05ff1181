"""What deploy is handed: a study's result, as a protocol, and the model file it takes from it.

Deploy reads no study itself (an import-linter contract says so): the caller opens the study
and hands its result over. :class:`jupyter_automl.results.AutomlResult` is one; anything with
these members is another.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .._utils.io import read_json
from ..errors import AutomlError

if TYPE_CHECKING:
    import optuna

    from ..runs import StudyPaths


class StudyResult(Protocol):
    """A study's result, as much of it as compressing, exporting and bundling read."""

    @property
    def name(self) -> str: ...

    @property
    def paths(self) -> StudyPaths: ...

    @property
    def spec(self) -> dict[str, Any]: ...

    @property
    def study(self) -> optuna.Study: ...

    @property
    def directions(self) -> list[str]: ...

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial | None: ...

    @property
    def best_trials(self) -> list[optuna.trial.FrozenTrial]: ...

    @property
    def done(self) -> int: ...

    @property
    def total(self) -> int: ...


def best_model_file(result: StudyResult, trial: int | None = None) -> tuple[Path, int]:
    """The saved model of the study's best trial (or of Pareto-front ``trial``) and its number."""
    if len(result.directions) > 1:
        return _front_model(result, trial)
    best = result.best_trial
    if best is None:
        raise _no_complete_trial(result)
    path = result.paths.best_model()
    saved = (read_json(result.paths.best_params) or {}).get("trial", best.number)
    if not path.exists():
        raise AutomlError(f"study {result.name!r} has no saved model to export: its best trial "
                          f"{best.number} trained no Keras model (its value came from the "
                          "cell's last expression); its parameters are in "
                          f"{result.paths.best_params}")
    if trial is not None and trial != saved:
        raise AutomlError(f"trial {trial} is not the best trial of study {result.name!r}, and "
                          f"only the best trial's model is kept: export trial {saved} by "
                          "leaving out --trial")
    return path, int(saved)


def _front_model(result: StudyResult, trial: int | None) -> tuple[Path, int]:
    if not result.best_trials:
        raise _no_complete_trial(result)
    front = sorted(result.paths.front_models())
    if not front:
        raise AutomlError(f"study {result.name!r} has no saved model: its Pareto-front trials "
                          "trained no Keras model")
    if trial is None:
        raise AutomlError(f"study {result.name!r} has {len(result.directions)} objectives, so "
                          "no single best model: pick one of its Pareto front with --trial N "
                          f"(N in {', '.join(map(str, front))})")
    if trial not in front:
        raise AutomlError(f"trial {trial} has no model on the Pareto front of study "
                          f"{result.name!r}; pick --trial N with N in "
                          f"{', '.join(map(str, front))}")
    return result.paths.best_model(trial), trial


def _no_complete_trial(result: StudyResult) -> AutomlError:
    return AutomlError(f"study {result.name!r} has no complete trial yet, so no best model to "
                       f"export; run it further, or see why its trials fail: "
                       f"jupyter-automl show {result.name}")


