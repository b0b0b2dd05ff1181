"""Keeping the study's best model on disk: ``best/model.keras`` and ``best/params.json``.

With one objective the best trial's model is saved when a trial beats it; with several, every
trial on the Pareto front has ``best/<number>/model.keras`` and trials that fall off it are
removed. The weights saved are those of the trial's best epoch.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _optuna
from .._utils.failpoints import hit as failpoint
from .._utils.io import write_json
from ..errors import ExportError
from ..runs import BEST_MODEL
from ..training import save_model
from ._events import Listener, Outcome

if TYPE_CHECKING:
    import optuna

    from ._events import RunView


# Models this process could not save (study folder -> trial number and outcome): the next run
# of that study in this process saves them first, so a full disk costs no model.
_UNSAVED: dict[Path, tuple[int, Outcome]] = {}


class BestExporter(Listener):
    """Saves a completed trial's model when it joins the runner's best trials.

    Essential: a model that cannot be saved (disk full, no permission) stops the study with an
    :class:`~.errors.ExportError`, raised after the trial is told, so the trial is kept; the
    model stays in memory and the study's next run in this kernel saves it."""

    title = "the best-model exporter"
    essential = True

    def study_started(self, runner: RunView) -> None:
        unsaved = _UNSAVED.get(runner.paths.root)
        if unsaved is None or unsaved[0] not in {n for n, _ in runner.front}:
            _UNSAVED.pop(runner.paths.root, None)
            return
        number, outcome = unsaved
        self._save(runner, number, outcome)
        print(f"saved the best model of trial {number}, which could not be saved before, in "
              f"{runner.paths.best}")

    def trial_finished(self, runner: RunView, trial: optuna.Trial,
                       outcome: Outcome) -> None:
        from optuna.trial import TrialState

        if outcome.state == TrialState.COMPLETE and trial.number in {n for n, _ in runner.front}:
            self._save(runner, trial.number, outcome)

    def _save(self, runner: RunView, number: int, outcome: Outcome) -> None:
        try:
            self._export(runner, number, outcome)
        except OSError as exc:
            if outcome.fit is not None:
                _UNSAVED[runner.paths.root] = (number, outcome)
            raise ExportError(
                f"trial {number} finished ({outcome.state.name}, value {outcome.values}) and is "
                "kept in the study, but it is the best so far and its model could not be saved "
                f"in {runner.paths.best}: {exc}. Free disk space or fix the folder's permissions, "
                "then rerun the cell: the study resumes"
                + (", and saves this model first (it is kept in this kernel's memory)."
                   if outcome.fit is not None else ".")) from None
        _UNSAVED.pop(runner.paths.root, None)

    def _export(self, runner: RunView, number: int, outcome: Outcome) -> None:
        front = runner.front
        paths = runner.paths
        several = len(runner.prepared.options.directions) > 1
        target = paths.best_model(number if several else None)
        saved = paths.trial_model(number)
        if outcome.extra.get("export_error"):  # the worker kernel could not write it
            raise OSError(outcome.extra["export_error"])
        if outcome.fit is None and saved.exists():  # the trial ran on a worker kernel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved, target)
        else:
            save_model(outcome.fit, target)
        failpoint("best.export")  # the model in place, its params.json not yet
        if several:
            keep = {n for n, _ in front}
            for off, model in paths.front_models().items():
                if off not in keep:
                    shutil.rmtree(model.parent, ignore_errors=True)
        write_json(paths.best_params, _params(runner, front))
        store = runner.prepared.store
        if store is not None and not several and target.exists():  # for any machine
            try:
                store.put(BEST_MODEL, target.read_bytes())
            except Exception as exc:  # noqa: BLE001 - the store keeps a copy of the file
                print(f"jupyter-automl: the best model could not be copied to {store.url} "
                      f"({type(exc).__name__}: {exc}); it is in {target}", file=sys.stderr)


def _params(runner: RunView, front: list[tuple[int, list[float]]]) -> dict[str, Any]:
    metrics = [o.metric for o in runner.prepared.objectives]
    trials = []
    for number, values in front:
        params = _optuna.trial_by_number(runner.study, number).params
        trials.append({"trial": number, "values": values, "params": params})
    head = trials[0] if len(trials) == 1 else {}
    return {"study": runner.name, "metrics": metrics,
            "directions": runner.prepared.options.directions, **head, "pareto": trials}
