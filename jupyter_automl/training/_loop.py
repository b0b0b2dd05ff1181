"""``trial`` in an ``%%automl`` cell: what ``fit`` gets without asking, for a loop of one's own.

A ``tf.GradientTape`` loop, a hand-driven ``train_step`` or a loop over a ``tf.data`` pipeline
reports its steps with ``trial.report`` (Optuna's ``trial.report(value, step)``, also taking a
dict of metrics as Ray Tune's ``report`` does) and hands what must survive a crash to
``trial.checkpoint`` once (Ray Tune's ``get_checkpoint``, turned around: the objects are
restored in place). Each report then does what an epoch end of ``fit`` does: the per-trial
history and live curves, the pruner (a pruned trial stops at once, as in ``fit``), early
stopping, a checkpoint written off the training thread, and Stop.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._utils.objectives import is_number
from ..errors import AutomlError, TrialValueError
from ._checkpoint import PLAIN, arrays_of, kind_of, restore_tracked
from ._fit import TrialFit, _current


class LoopTrial:
    """The running trial, as a custom training loop sees it (``trial`` in the cell, as ``hp``
    is).

    Each :meth:`report` is what an epoch end of Keras's ``fit`` is: the trial's history and
    live curves, the pruner, ``--early-stopping``, a checkpoint of what :meth:`checkpoint`
    named, and Stop. When the cell ends without a value, the trial's value is its best
    reported step's. Outside a trial, every call is an error saying where ``trial`` works.

    Example:
        A loop without Keras; its state (a dict of plain values) is saved at every step and
        restored when a trial is retried:

        >>> import jupyter_automl
        >>> source = '''
        ... lr = hp.float("lr", 0.05, 0.5, log=True)
        ... state = {"w": 0.0}
        ... start = trial.checkpoint(state=state)  # 0, or the step a retried trial saved
        ... for step in range(start, 5):
        ...     state["w"] += lr * (1.0 - state["w"])
        ...     trial.report({"loss": (1.0 - state["w"]) ** 2}, step=step + 1)
        ... '''
        >>> result = jupyter_automl.run_study(source, "loop --trials 2 --minimize loss",
        ...                                   listeners=[])  # doctest: +ELLIPSIS
        study 'loop': 2/2 trials (2 complete, 0 pruned, 0 failed)
        ...
        >>> [row["epochs"] for row in result.trials]
        [5, 5]
        >>> result.best_value == min(row["loss"] for row in result.trials)
        True
    """

    def report(self, value: float | dict[str, float], step: int | None = None) -> None:
        """Report one step of training, as an epoch end of ``fit``.

        Args:
            value: A number (the objective), or a dict of metrics that holds the objective's
                (``{"loss": ..., "val_accuracy": ...}``; the same metrics every step).
            step: The step's number, 1 or more and increasing (default: the one after the
                last).

        Raises:
            optuna.TrialPruned: The pruner stops the trial; let it propagate, as a pruned
                ``fit`` does. With Stop pressed, the step is saved and the trial queued.
            TrialValueError: A step reported twice or going backwards, a value that is not a
                number, metrics that change between steps.
        """
        fit = _fit("report")
        report_step(fit, _metrics(value, fit), step)

    def should_prune(self) -> bool:
        """Optuna's question, for code written for Optuna.

        Returns:
            False: :meth:`report` already raises ``optuna.TrialPruned`` when the pruner
            says so.
        """
        _fit("should_prune")
        return False

    def should_stop(self) -> bool:
        """Whether ``--early-stopping N`` steps have passed without improvement.

        Returns:
            True once they have: end the loop, and the trial completes with its best step.
        """
        return _fit("should_stop").stopping_early()

    def checkpoint(self, **objects: Any) -> int:
        """Keep ``objects`` in every step's checkpoint; on a retried trial, restore them first.

        Call it once, after the model is built (a ``keras.Input``, or ``model.build``). The
        Keras model named here is the one exported as the study's best model, with the
        weights of its best step::

            start = trial.checkpoint(model=model, optimizer=optimizer, state=state)
            for step in range(start, steps):
                ...
                trial.report({"loss": loss, "val_accuracy": acc}, step=step + 1)

        Args:
            **objects: What to keep, by name: Keras models (weights), Keras optimizers
                (every variable), ``tf.train.Checkpoint`` objects, and dicts of plain values
                (numbers, strings, lists, dicts; kept as JSON), restored in place.

        Returns:
            The step to go on from: 0 on a first attempt, else the last saved step.

        Raises:
            TrialValueError: Nothing named, or an object it cannot keep.
        """
        if not objects:
            raise TrialValueError("trial.checkpoint() needs what to keep, by name: "
                                  "trial.checkpoint(model=model, optimizer=optimizer)")
        return track(_fit("checkpoint"), objects)

    @property
    def number(self) -> int:
        """The trial's number in the study (0, 1, 2...)."""
        return int(_fit("number").trial.number)

    @property
    def params(self) -> dict[str, Any]:
        """The parameters the trial has drawn so far, by name."""
        return dict(_fit("params").trial.params)

    def __repr__(self) -> str:
        fit = _current.get()
        return "<trial: outside a study>" if fit is None else f"<trial {fit.trial.number}>"


def track(fit: TrialFit, objects: dict[str, Any]) -> int:
    """Keep ``objects`` in every checkpoint of the trial ``fit`` from now on; on a retried trial,
    restore them from its last checkpoint first. Returns the step the loop goes on from."""
    for name, obj in objects.items():
        kind_of(name, obj)
    fit.tracked = dict(objects)
    model = next((o for o in objects.values() if kind_of("", o) == "model"), None)
    for obj in objects.values():  # a tf.train.Checkpoint(model=...) holds one too
        if model is None and kind_of("", obj) == "tf":
            model = next((v for v in vars(obj).values()
                          if hasattr(v, "get_weights") and hasattr(v, "set_weights")), None)
    if model is not None:
        fit.model = model  # the best model is exported from it
    resume, fit.resume = fit.resume, None
    if resume is None or resume.epoch == 0:
        return 0
    try:
        restore_tracked(fit.tracked, resume)
    except Exception as exc:  # noqa: BLE001 - any mismatch costs the steps, not the trial
        print(f"jupyter-automl: trial {fit.trial.number} could not restore its checkpoint "
              f"({type(exc).__name__}: {exc}); starting from step 0")
        fit.forget()
        return 0
    fit.resumed_at = resume.epoch
    if fit.model is not None and fit.best_epoch == resume.epoch:
        fit.best_weights = fit.model.get_weights()  # the best step so far is the restored one
    return resume.epoch

def report_step(fit: TrialFit, metrics: dict[str, float], step: int | None) -> None:
    """One step of a custom loop, as one epoch of Keras's ``fit``: logs, report and prune, early
    stopping, a checkpoint of the tracked objects, the listeners, and Stop."""
    if fit.resume is not None:  # a retry whose loop kept nothing: it starts over
        fit.resume = None
        fit.forget()
    last = int(fit.history[-1]["epoch"]) if fit.history else 0
    if step is None:
        step = last + 1
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise TrialValueError(f"trial.report(step={step!r}): a step is a whole number, 1 or "
                              "more (or leave it out to count 1, 2, 3...)")
    step = int(step)
    if step <= last:
        raise TrialValueError(f"trial.report(step={step}): step {last} was already reported "
                              "and steps must increase; report each step once (or leave "
                              "step out to count on from the last one)")
    if fit.history:
        before = set(fit.history[-1]) - {"epoch"}
        if set(metrics) != before:
            raise TrialValueError(
                f"trial.report at step {step} has the metrics {sorted(metrics)}, the steps "
                f"before had {sorted(before)}: report the same metrics at every step")
    logs = {**metrics, "epoch": float(step)}
    fit.history.append(logs)
    value = fit.value_of(logs)
    weights = fit.model.get_weights() if fit.model is not None else None
    fit.record_step(step, logs, value, weights)
    arrays, plain = arrays_of(fit.tracked, fit.model, weights)
    if plain:
        arrays[PLAIN] = np.array(plain)
    fit.writer.save_arrays(step, arrays, fit.state())
    fit.after_save(step, value)


def _fit(what: str) -> TrialFit:
    fit = _current.get()
    if fit is None:
        raise AutomlError(f"trial.{what} works inside an %%automl cell, while a trial runs")
    return fit


def _metrics(value: Any, fit: TrialFit) -> dict[str, float]:
    if isinstance(value, dict):
        metrics = value
    else:
        name = fit.metric or fit.settings.metric or "value"
        fit.metric = fit.metric or name
        metrics = {name: value}
    checked = {}
    for name, number in metrics.items():
        if not isinstance(name, str) or name == "epoch":
            raise TrialValueError(f"trial.report: {name!r} cannot name a metric; use another "
                                  "name (a string, not 'epoch')")
        if not is_number(number):
            try:  # a scalar tensor or numpy value
                number = float(number)
            except (TypeError, ValueError):
                raise TrialValueError(f"trial.report: {name} is {number!r}, not a number; "
                                      f"report float({name}) of a scalar") from None
        checked[name] = float(number)
    return checked


trial = LoopTrial()
