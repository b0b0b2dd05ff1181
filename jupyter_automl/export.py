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

from ._io import write_json
from .events import Listener, Outcome

if TYPE_CHECKING:
    import optuna

    from .keras_hooks import TrialFit
    from .runner import StudyRunner


TRIAL_MODEL = "model.keras"  # a worker kernel's trial leaves its model here


class BestExporter(Listener):
    """Saves a completed trial's model when it joins the runner's best trials."""

    def trial_finished(self, runner: StudyRunner, trial: optuna.Trial,
                       outcome: Outcome) -> None:
        front = runner.front
        if outcome.state != "COMPLETE" or trial.number not in {n for n, _ in front}:
            return
        best = runner.paths.best
        target = best / "model.keras" if len(runner.prepared.options.directions) == 1 \
            else best / str(trial.number) / "model.keras"
        saved = runner.paths.trial(trial.number) / TRIAL_MODEL
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
