"""Keeping the study's best model on disk: ``best/model.keras`` and ``best/params.json``.

With one objective the best trial's model is saved when a trial beats it; with several, every
trial on the Pareto front has ``best/<number>/model.keras`` and trials that fall off it are
removed. The weights saved are those of the trial's best epoch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._utils.io import write_json
from ..errors import ExportError
from ._events import Listener, Outcome

if TYPE_CHECKING:
    import optuna

    from ..training._fit import TrialFit
    from ._runner import StudyRunner


TRIAL_MODEL = "model.keras"  # a worker kernel's trial leaves its model here


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

    def study_started(self, runner: StudyRunner) -> None:
        unsaved = _UNSAVED.get(runner.paths.root)
        if unsaved is None or unsaved[0] not in {n for n, _ in runner.front}:
            _UNSAVED.pop(runner.paths.root, None)
            return
        number, outcome = unsaved
        self._save(runner, number, outcome)
        print(f"saved the best model of trial {number}, which could not be saved before, in "
              f"{runner.paths.best}")

    def trial_finished(self, runner: StudyRunner, trial: optuna.Trial,
                       outcome: Outcome) -> None:
        if outcome.state == "COMPLETE" and trial.number in {n for n, _ in runner.front}:
            self._save(runner, trial.number, outcome)

    def _save(self, runner: StudyRunner, number: int, outcome: Outcome) -> None:
        try:
            self._export(runner, number, outcome)
        except OSError as exc:
            if outcome.fit is not None:
                _UNSAVED[runner.paths.root] = (number, outcome)
            raise ExportError(
                f"trial {number} finished ({outcome.state}, value {outcome.values}) and is kept "
                f"in the study, but it is the best so far and its model could not be saved in "
                f"{runner.paths.best}: {exc}. Free disk space or fix the folder's permissions, "
                "then rerun the cell: the study resumes"
                + (", and saves this model first (it is kept in this kernel's memory)."
                   if outcome.fit is not None else ".")) from None
        _UNSAVED.pop(runner.paths.root, None)

    def _export(self, runner: StudyRunner, number: int, outcome: Outcome) -> None:
        front = runner.front
        best = runner.paths.best
        target = best / "model.keras" if len(runner.prepared.options.directions) == 1 \
            else best / str(number) / "model.keras"
        saved = runner.paths.trial(number) / TRIAL_MODEL
        if outcome.extra.get("export_error"):  # the worker kernel could not write it
            raise OSError(outcome.extra["export_error"])
        if outcome.fit is None and saved.exists():  # the trial ran on a worker kernel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved, target)
        else:
            _save_model(outcome.fit, target)
        if len(runner.prepared.options.directions) > 1:
            keep = {str(n) for n, _ in front}
            for folder in best.glob("*/"):
                if folder.name.isdigit() and folder.name not in keep:
                    shutil.rmtree(folder, ignore_errors=True)
        write_json(best / "params.json", _params(runner, front))


def _params(runner: StudyRunner, front: list[tuple[int, list[float]]]) -> dict[str, Any]:
    metrics = [o.metric for o in runner.prepared.objectives]
    trials = []
    for number, values in front:
        frozen = runner.study._storage.get_trial(
            runner.study._storage.get_trial_id_from_study_id_trial_number(
                runner.study._study_id, number))
        trials.append({"trial": number, "values": values, "params": frozen.params})
    head = trials[0] if len(trials) == 1 else {}
    return {"study": runner.name, "metrics": metrics,
            "directions": runner.prepared.options.directions, **head, "pareto": trials}


def _save_model(fit: TrialFit | None, path: Path) -> None:
    if fit is None or fit.model is None:
        return
    model = fit.model
    if fit.best_weights is not None:
        model.set_weights(fit.best_weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
