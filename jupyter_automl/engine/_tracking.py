"""What the experiment trackers (TensorBoard's HParams records, MLflow's runs) share: a trial's
epochs however it ran, the epochs a tracker has not written yet, the trial's result under a
metric name (the trackers a study's options ask for: ``_trackers.py``).

Why the trackers live in the engine, as listeners of the runner, and write from the notebook:
the runner already hears of every trial wherever it ran (this kernel, worker kernels, Ray
actors, a multi-worker cluster), with its parameters, state and result in the study and its
epochs in the events (this kernel: each epoch as it ends; elsewhere: the worker's reply, or the
trial's ``state.json`` at its end). One writer per study, in one process, needs no TensorBoard
nor MLflow (nor their credentials) on the workers, never has two processes appending to one
event file or run, and knows which epochs it has already written, so a resumed trial writes only
the epochs after its resume point. The engine is the lowest layer that has the runner's events;
like the best-model exporter (``_best.py``), the trackers are part of every run the options ask
for, whatever the display.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _optuna

if TYPE_CHECKING:
    import optuna

    from ..training import TrialFit
    from ._events import Outcome, RunView


Epoch = tuple[int, dict[str, float]]  # (its number, from 1; its logs but "epoch")


def trial_epochs(run: RunView, trial: optuna.Trial, outcome: Outcome) -> tuple[list[Any], int]:
    """The finished trial's per-epoch logs and the epoch it resumed at (0: from scratch): its
    ``fit`` here, a worker's reply, or its ``state.json`` in the runs folder."""
    fit = outcome.fit
    if fit is not None:
        return list(fit.history), int(fit.resumed_at or 0)
    history = outcome.extra.get("history")
    if history is None:
        history = run.paths.read_state(trial.number).get("history", [])
    return list(history), int(outcome.extra.get("resumed_at") or 0)


def epochs_after(history: list[dict[str, Any]], after: int) -> list[Epoch]:
    """The epochs of ``history`` numbered after ``after`` (those not written yet)."""
    epochs = []
    for logs in history:
        step = int(logs.get("epoch", 0))
        if step > after:
            epochs.append((step, {k: float(v) for k, v in logs.items()
                                  if k != "epoch" and isinstance(v, (int, float))}))
    return epochs


def first_execution(fit: TrialFit) -> bool:
    """Whether ``fit`` trains a trial's first execution (``--executions-per-trial``): the
    curves written live are that one's, each epoch once."""
    return not getattr(fit.settings, "execution", 0)


def result_metrics(run: RunView, values: list[float] | None) -> dict[str, float]:
    """The trial's result by metric: ``objective/val_accuracy`` (``objective/value`` for an
    objective without a metric name, ``objective/value_1``... for several such)."""
    if values is None:
        return {}
    names = []
    for i, objective in enumerate(run.prepared.objectives):
        name = objective.metric or ("value" if i == 0 else f"value_{i}")
        names.append(f"objective/{name}")
    return dict(zip(names, (float(v) for v in values)))


def params_of(run: RunView, trial: optuna.Trial) -> dict[str, Any]:
    """The trial's parameters as the storage has them (a worker kernel draws them there)."""
    return dict(_optuna.frozen(run.study, trial).params)
