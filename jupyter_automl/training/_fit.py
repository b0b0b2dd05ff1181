"""Keras instrumentation: inside a trial, ``keras.Model.fit`` reports, prunes, checkpoints,
stops early and resumes, without the user asking and keeping the user's own callbacks.

``install()`` wraps ``keras.Model.fit`` once per process. Outside a trial the wrapper calls the
original at once; inside one, the trial's :class:`TrialFit` (a context variable, so a background
thread's trial is its own) adds one callback and adjusts the call.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._utils.constraints import missing_metric, parse_constraint
from .._utils.failpoints import hit as failpoint
from .._utils.objectives import is_number
from .._utils.process import import_keras, rss_mb
from ..deploy import COSTS
from ..errors import MetricError, TrialValueError
from . import _checkpoint as checkpoint
from . import _distill as distillation
from . import _feed as feeds
from . import _memory as memory
from ._costs import Measured, measure_costs
from ._distill import Distillation
from ._strategy import gpu_peak_mb, reset_gpu_peaks

if TYPE_CHECKING:
    import optuna

    from ..runs import CheckpointStore
    from ..search import Darts

CHECK_STEPS = 3  # batches per epoch in --check mode


class StopRequested(KeyboardInterrupt):
    """Stop was pressed: the trial ends like an interrupt, checkpointed and queued for retry."""


@dataclass
class FitSettings:
    metric: str | None  # the first objective's metric; None picks val_loss, else loss
    direction: str = "minimize"
    report: bool = True  # intermediate values, for pruners and learning curves (one objective)
    prune: bool = True
    early_stopping: int | None = None
    check: bool = False
    cell_supplies_value: bool = False  # the cell returns its value: a missing metric may be there
    # --constraint: (expression, metric) of each; a metric in neither the first epoch's logs,
    # the measures, nor (maybe) the cell's value is an error at that epoch
    constraints: tuple[tuple[str, str], ...] = ()
    # the deployment costs the study measures (deploy.COSTS) and where their cache is
    measures: tuple[str, ...] = ()
    costs_folder: Path | None = None
    # a constraint on the model's params or a cost is checked before the first epoch, and a
    # model that misses it is not trained (off for PBT, --check, followers and strategies)
    early_costs: bool = False
    store: CheckpointStore | None = None  # --checkpoint-store: the checkpoints go there too
    # further objectives (metric, direction): the best epoch follows the first one in the logs
    others: tuple[tuple[str, str], ...] = ()
    # one of the other kernels of a multi-worker trial: it trains in step with the chief, which
    # alone reports, checkpoints and decides (see ``share_decision``)
    follower: bool = False
    checkpoint_every: float | None = None  # seconds: fit also saves inside an epoch this often
    seed: int | None = None  # the study's --seed: with the trial's number, the samples' order
    # --scheduler pbt: fit stops at this epoch (the end of the trial's generation), the trial's
    # result is its last epoch, and a restored optimizer keeps the learning rate the cell gave
    # it (a mutable parameter the generation may have changed)
    stop_at: int | None = None
    distill: Distillation | None = None  # --distill-from: learn from a teacher's predictions
    # --darts: the trial's mixed operations; their architecture weights step after each batch
    darts: Darts | None = None
    # --executions-per-trial: which of the trial's executions this fit trains (0: the first),
    # kept in its checkpoints; and the objective of the executions before it, by step, which
    # each reported step is averaged with (engine/_trial.py reports in the last one only)
    execution: int = 0
    earlier: tuple[dict[int, float], ...] = ()


CONTINUE, PRUNE, STOP = 0, 1, 2  # what the chief decided at the end of an epoch
# what a trial knows of its model once it has trained, beside its logs: ``params``
# (TrialFit.measures) and the deployment costs it is asked to measure (training/_costs.py)
MEASURES = ("params", *COSTS)


class TrialFit:
    """The Keras side of one trial: its epochs, best epoch, checkpoints and resume point."""

    def __init__(self, trial: optuna.Trial, folder: Path, settings: FitSettings,
                 resume: checkpoint.Checkpoint | None = None,
                 on_epoch: Callable[[TrialFit], None] | None = None,
                 should_stop: Callable[[bool], bool] | None = None,
                 share_decision: Callable[[int], int] | None = None) -> None:
        self.trial = trial
        self.folder = folder
        self.settings = settings
        self.resume = resume
        self.on_epoch = on_epoch
        self.should_stop = should_stop
        # multi-worker: every kernel calls it with its flag at each epoch's end and gets the
        # sum over the kernels, so the followers learn the chief's decision
        self.share_decision = share_decision
        self.writer = checkpoint.CheckpointWriter(folder, settings.store, trial.number)
        self.history: list[dict[str, float]] = list(resume.history) if resume else []
        self.model: Any = None
        self.train_x: Any = None  # what the last fit was given as x (the calibration sample's)
        # the model's params and deployment costs, known before it trained (early_costs)
        self.known_costs: dict[str, float] = {}
        self.misfit: str | None = None  # why the model was not trained: it misses a bound
        self.costs: Measured | None = None  # of ``costs_model``
        self.costs_model: Any = None
        self.metric = settings.metric
        self.direction = settings.direction
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: list[Any] | None = None
        self.since_best = 0
        self.offset = 0  # epochs of earlier fit() calls in this trial
        self.epochs_planned = 0
        self.epochs_asked = 0  # the epochs the cell's last fit asked for
        self.resumed_at: int | None = None
        self.peak_mb: float | None = None
        self.gpu_peak_mb: float | None = None  # the GPUs' memory at its highest (none: no GPU)
        self.tracked: dict[str, Any] = {}  # what a custom loop's checkpoints hold, by name
        # the per-trial log folders given to the cell's TensorBoard callbacks (absolute)
        self.tensorboard_dirs: list[str] = []
        # --checkpoint-every: the order of fit's samples (kept by a retry, so it can find the
        # batch an epoch had reached), the epoch under way, and when it was last saved
        self.order_seed = (resume.order_seed if resume is not None and resume.order_seed
                           is not None else (settings.seed or 0) * 1_000_003 + trial.number
                           + settings.execution * 7_919)
        self.feed: feeds.Feed | None = None
        self.epoch_index = 0  # epochs finished before the one under way
        self.batch_offset = 0  # batches of the epoch under way that an earlier process trained
        self.saved_at = time.monotonic()
        if self.history and self.metric is None:
            self.metric = _default_metric(self.history[0])
        for logs in self.history:
            self._track_best(logs, None)
        if resume is not None and self.best_epoch == resume.epoch and resume.weights:
            self.best_weights = resume.weights  # (a custom loop's are taken once restored)

    # -- the wrapped call ----------------------------------------------------------------------
    def fit(self, original: Callable[..., Any], model: Any, args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> Any:
        call = inspect.signature(original).bind(model, *args, **kwargs)
        call.apply_defaults()
        a = call.arguments
        user_callbacks = a.get("callbacks") or []
        a["callbacks"] = [*_as_list(user_callbacks), _callback_class()(self)]
        self._trial_log_dirs(a["callbacks"])
        search = self.settings.darts.callback(a) if self.settings.darts is not None else None
        if search is not None:
            a["callbacks"].append(search)
        if "verbose" not in kwargs and len(args) < 5:
            a["verbose"] = 0
        if self.settings.check:
            a["epochs"] = int(a.get("initial_epoch") or 0) + 1
            a["steps_per_epoch"] = min(a.get("steps_per_epoch") or CHECK_STEPS, CHECK_STEPS)
            if a.get("validation_data") is not None or a.get("validation_split"):
                a["validation_steps"] = 1
        self.train_x = a.get("x")
        self._check_before_training(model)
        restore: Callable[[], None] | None = None
        if self.settings.distill is not None:  # targets packed, the student compiled for them
            restore = distillation.apply(a, model, self.settings.distill)
        self.model = model
        self.epochs_asked = int(a["epochs"])
        if self.settings.stop_at is not None:  # PBT: this trial trains one generation
            a["epochs"] = min(int(a["epochs"]), self.settings.stop_at)
        self.epochs_planned = self.offset + int(a["epochs"]) - int(a.get("initial_epoch") or 0)
        self.feed, why = None, ""
        if self.share_decision is not None:  # every worker reads its own shard of the data
            why = "multi-worker training shards its data in an order of its own"
        elif self.settings.checkpoint_every and not self.settings.check:
            self.feed, why = feeds.position(a, self.order_seed)
        resume = self.resume
        try:
            if resume is not None and resume.batch:
                if self.feed is not None:
                    return self._fit_from_batch(original, call, resume)
                print(f"jupyter-automl: trial {self.trial.number} cannot go back to batch "
                      f"{resume.batch} of epoch {resume.epoch + 1}: {why}. The epoch restarts "
                      "from its first batch, with the weights saved at that batch",
                      file=sys.stderr)
            return _call(original, call)
        finally:
            if restore is not None:
                restore()
            model._initial_epoch = None
            self.offset = len(self.history)
            self.batch_offset = 0
            self.writer.wait()

    def _fit_from_batch(self, original: Callable[..., Any], call: inspect.BoundArguments,
                        resume: checkpoint.Checkpoint) -> Any:
        """Resume inside an epoch: one ``fit`` call trains the rest of that epoch (its
        checkpoint restored, its first batches skipped), the next the epochs after it."""
        assert self.feed is not None
        epoch, batch = resume.epoch, resume.batch
        of = f" of {self.feed.batches}" if self.feed.batches else ""
        print(f"jupyter-automl: trial {self.trial.number} resumes epoch {epoch + 1} at batch "
              f"{batch + 1}{of}", file=sys.stderr)
        self.batch_offset = batch
        rest = self.feed.rest(dict(call.arguments), epoch, batch)
        first = _call(original, call, **{**rest, "epochs": epoch + 1})
        self.batch_offset = 0
        self.model._initial_epoch = None  # set by the restore, for the call that just ended
        if self.model.stop_training or epoch + 1 >= int(call.arguments["epochs"]):
            return first
        after = self.feed.after(dict(call.arguments), epoch + 1)
        then = _call(original, call, **{**after, "initial_epoch": epoch + 1})
        for key, values in first.history.items():
            then.history[key] = values + then.history.get(key, [])
        then.epoch = first.epoch + then.epoch
        return then

    def _trial_log_dirs(self, callbacks: list[Any]) -> None:
        """A ``keras.callbacks.TensorBoard`` of the cell's writes to a subfolder ``trial-N`` of
        its ``log_dir`` (as KerasTuner does), so that trials do not write over each other's
        curves; the runner adds the HParams records beside them (engine/_tensorboard.py). The
        other kernels of a multi-worker trial write to a folder of their own, thrown away."""
        import keras

        if self.settings.check:
            return
        for callback in callbacks:
            if not isinstance(callback, keras.callbacks.TensorBoard):
                continue
            root = getattr(callback, "_automl_root", None) or callback.log_dir
            callback._automl_root = root  # a callback kept across trials: the same root
            if self.settings.follower:
                callback.log_dir = tempfile.mkdtemp(prefix="automl-follower-tb-")
                continue
            callback.log_dir = os.path.join(os.path.abspath(root),
                                            trial_log_folder(self.trial.number))
            if callback.log_dir not in self.tensorboard_dirs:
                self.tensorboard_dirs.append(callback.log_dir)

    # -- callback events -------------------------------------------------------------------------
    def train_begin(self, model: Any) -> None:
        self.saved_at = time.monotonic()
        reset_gpu_peaks()  # the trial's own peak (kept across its fits by record_step)
        resume, self.resume = self.resume, None  # only the trial's first fit() resumes
        if resume is None or (resume.epoch == 0 and not resume.batch):
            return
        try:
            model.set_weights(resume.weights)
            _restore_optimizer(model, resume.optimizer, self.trial.number,
                               keep_rate=self.settings.stop_at is not None)
        except (ValueError, TypeError) as exc:
            print(f"jupyter-automl: trial {self.trial.number} could not restore its checkpoint "
                  f"({exc}); training from epoch 0")
            self.history.clear()
            self.batch_offset = 0
            return
        model._initial_epoch = resume.epoch
        self.resumed_at = resume.epoch
        self.offset = 0

    def epoch_begin(self, epoch: int) -> None:
        self.epoch_index = self.offset + epoch
        if self.feed is not None:
            self.feed.epoch_begin(self.epoch_index)

    def batch_begin(self, model: Any, batch: int) -> None:
        """``--checkpoint-every``: save inside the epoch once the time has come; with Stop
        pressed, save and stop here rather than at the end of a long epoch."""
        every = self.settings.checkpoint_every
        if every is None or batch == 0 or self.settings.follower or self.settings.check:
            return
        failpoint("batch.begin")
        stop = self.share_decision is None and self.should_stop is not None and \
            self.should_stop(False)
        if not stop and time.monotonic() - self.saved_at < every:
            return
        done = self.batch_offset + batch  # batches of this epoch trained, here and before
        weights = model.get_weights()
        optimizer = [v.numpy() for v in getattr(model.optimizer, "variables", [])]
        self.writer.save(self.epoch_index, weights, optimizer,
                         {**self.state(), "batch": done}, batch=done,
                         order_seed=self.order_seed)
        self.saved_at = time.monotonic()
        if stop:
            self.writer.wait()
            raise StopRequested(f"stopped at batch {done} of epoch {self.epoch_index + 1}")

    def epoch_end(self, model: Any, epoch: int, raw_logs: dict[str, Any]) -> None:
        logs = {k: float(v) for k, v in raw_logs.items() if is_number(v)}
        if self.supernet:  # the architecture weights, for the panel and the checkpoint's history
            logs.update(self.settings.darts.logs())  # type: ignore[union-attr]
        step = self.offset + epoch + 1
        logs["epoch"] = step
        self.history.append(logs)
        value = self.value_of(logs)
        if len(self.history) == 1 and not self.settings.cell_supplies_value:
            self._check_constraints(logs)
        if self.settings.follower:
            self._track_best(logs, None)
            self._decide(CONTINUE, step, value)
        else:
            self._report_and_checkpoint(model, step, logs, value)
        if self.stopping_early():
            model.stop_training = True

    def _report_and_checkpoint(self, model: Any, step: int, logs: dict[str, float],
                               value: float | None) -> None:
        """The chief's epoch end: report, checkpoint, and decide whether the trial goes on."""
        weights = model.get_weights()
        self.record_step(step, logs, value, weights)
        optimizer = [v.numpy() for v in getattr(model.optimizer, "variables", [])]
        self.writer.save(step, weights, optimizer, self.state(), order_seed=self.order_seed)
        self.saved_at = time.monotonic()
        self.after_save(step, value)

    def record_step(self, step: int, logs: dict[str, float], value: float | None,
                   weights: list[Any] | None) -> None:
        """The best step so far, the report to Optuna and the pruner's verdict."""
        self._track_best(logs, weights)
        if value is not None and self.settings.report:
            value = self.reported(value, step)
            self.trial.report(value, step)
            if self.settings.prune and self.trial.should_prune():
                self._decide(PRUNE, step, value)
        self.peak_mb = max(self.peak_mb or 0.0, rss_mb())
        if (gpu := gpu_peak_mb()) is not None:
            self.gpu_peak_mb = max(self.gpu_peak_mb or 0.0, gpu)

    def reported(self, value: float, step: int) -> float:
        """What step ``step`` reports to Optuna: its value, averaged with the same step of the
        trial's earlier executions that reached it (``--executions-per-trial``)."""
        seen = [curve[step] for curve in self.settings.earlier if step in curve]
        return (value + math.fsum(seen)) / (1 + len(seen)) if seen else value

    def after_save(self, step: int, value: float | None) -> None:
        """Once a step's checkpoint is on its way: the listeners, then Stop (when pressed, the
        step is on disk before the trial gives up) or go on."""
        if self.on_epoch is not None:
            self.on_epoch(self)
        failpoint("epoch.saved")
        stop = self.should_stop is not None and self.should_stop(True)  # look for a request now
        if stop:
            self.writer.wait()
        self._decide(STOP if stop else CONTINUE, step, value)

    def _decide(self, decision: int, step: int, value: float | None) -> None:
        """Act on ``decision``, once every kernel of the trial knows it (``share_decision``)."""
        if self.share_decision is not None:
            decision = self.share_decision(decision)
        if decision == PRUNE:
            import optuna

            shown = "" if value is None else f": {self.metric}={value:.4g}"
            raise optuna.TrialPruned(f"pruned at {self.unit} {step}{shown}")
        if decision == STOP:
            raise StopRequested(f"stopped after {self.unit} {step}")

    def forget(self) -> None:
        """Drop the steps of an earlier attempt: this one starts from step 0."""
        self.history.clear()
        self.best_value = self.best_epoch = self.best_weights = None
        self.since_best = 0

    def stopping_early(self) -> bool:
        """True once the objective has not improved for ``--early-stopping`` steps."""
        patience = self.settings.early_stopping
        return patience is not None and self.since_best >= patience

    # -- results ---------------------------------------------------------------------------------
    @property
    def supernet(self) -> bool:
        """Whether the model trains mixed operations (a --darts search): not a model to keep."""
        return self.settings.darts is not None and bool(self.settings.darts.owners)

    @property
    def best_logs(self) -> dict[str, float]:
        if self.best_epoch is None:
            return self.history[-1] if self.history else {}
        return next(h for h in self.history if h["epoch"] == self.best_epoch)

    def _check_constraints(self, logs: dict[str, float]) -> None:
        """At the first epoch, a constraint on a metric that the logs lack, that the trial
        does not measure and that the cell does not return: an error now, not at the end."""
        for text, metric in self.settings.constraints:
            if metric not in logs and metric not in MEASURES:
                raise MetricError(missing_metric(
                    text, metric, [*(k for k in logs if k != "epoch"), *MEASURES]))

    def _check_before_training(self, model: Any) -> None:
        """With a constraint on the model's ``params`` or a deployment cost, what the model
        costs is known before it trains (it depends on the architecture only): a model that
        misses the bound is not trained, and the trial is pruned saying why."""
        settings = self.settings
        if not settings.early_costs or self.costs_model is not None or self.supernet \
                or not getattr(model, "built", False):
            return
        bounds = [parse_constraint(text) for text, metric in settings.constraints
                  if metric in MEASURES]
        if not bounds:
            return
        known = {"params": float(model.count_params())}
        if settings.measures:
            self.costs = measure_costs(model, settings.measures, settings.costs_folder,
                                       self.train_x)
            known.update(self.costs.costs)
        self.costs_model, self.known_costs = model, known
        missed = [f"{c.text} ({c.metric} = {known[c.metric]:.4g})" for c in bounds
                  if c.metric in known and c.violation(known[c.metric]) > 0]
        if missed:
            import optuna

            self.misfit = f"not trained: its model misses {', '.join(missed)}"
            raise optuna.TrialPruned(self.misfit)

    def measures(self) -> dict[str, float]:
        """What the trial measured of its model, beside the logs: ``params``, the weights it
        counts (none for a cell that trained no Keras model)."""
        if self.model is None or self.supernet:
            return {}
        return {"params": float(self.model.count_params())}  # MEASURES

    @property
    def unit(self) -> str:
        """What a step of this trial is called: an epoch of fit, a step of a custom loop."""
        return "step" if self.tracked or (self.model is None and self.history) else "epoch"

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    def state(self) -> dict[str, Any]:
        """The trial's state.json as of now: a copy of the history, since the checkpoint
        writer's thread writes it while training appends the next epochs (a state.json
        listing an epoch whose checkpoint is not on disk yet)."""
        return {"trial": self.trial.number, "pid": os.getpid(),  # the process training it
                "history": list(self.history), "metric": self.metric,
                "best_epoch": self.best_epoch, "best_value": self.best_value,
                "epochs_planned": self.epochs_planned, "resumed_at": self.resumed_at,
                "peak_mb": self.peak_mb, "execution": self.settings.execution,
                **({"gpu_peak_mb": self.gpu_peak_mb} if self.gpu_peak_mb is not None else {})}

    def value_of(self, logs: dict[str, float]) -> float | None:
        if self.metric is None:
            self.metric = _default_metric(logs)
        value = logs.get(self.metric)
        if value is None and (self.settings.cell_supplies_value or self.metric in MEASURES):
            # e.g. --minimize params (returned by the cell, or measured once the trial has
            # trained) --maximize val_accuracy (logged): the epochs are followed on the latter
            logged = [(m, d) for m, d in self.settings.others if m in logs]
            if not logged:
                return None
            (self.metric, self.direction), value = logged[0], logs[logged[0][0]]
        if value is None:
            available = ", ".join(k for k in logs if k != "epoch")
            raise MetricError(f"metric {self.metric!r} is not in the training logs; they have: "
                              f"{available}. Pass one of those to --maximize/--minimize (val_* "
                              "needs validation_data or validation_split)")
        if not math.isfinite(value):
            raise TrialValueError(f"{self.metric} became {value} at epoch {logs['epoch']:.0f}")
        return value

    def _track_best(self, logs: dict[str, float], weights: list[Any] | None) -> None:
        value = logs.get(self.metric) if self.metric else None
        if value is None:
            return
        # PBT: a member is as good as its last epoch (the weights the next generation takes)
        better = (self.best_value is None or self.settings.stop_at is not None or (
            value > self.best_value if self.direction == "maximize" else value < self.best_value))
        if better:
            self.best_value, self.best_epoch = value, int(logs["epoch"])
            self.best_weights = weights
            self.since_best = 0
        else:
            self.since_best += 1


_current: contextvars.ContextVar[TrialFit | None] = contextvars.ContextVar(
    "jupyter_automl_fit", default=None
)


def bind(fit: TrialFit | None) -> contextvars.Token[TrialFit | None]:
    return _current.set(fit)


def unbind(token: contextvars.Token[TrialFit | None]) -> None:
    _current.reset(token)


def install() -> None:
    """Wrap ``keras.Model.fit`` (once per process). Imports keras: call only when it is used."""
    keras = import_keras()

    if getattr(keras.Model.fit, "_jupyter_automl", False):
        return
    original = keras.Model.fit

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        trial_fit = _current.get()
        if trial_fit is None:
            return original(self, *args, **kwargs)
        return trial_fit.fit(original, self, args, kwargs)

    fit._jupyter_automl = True  # type: ignore[attr-defined]
    keras.Model.fit = fit


def fresh_session() -> int | None:
    """Before a Keras trial: the mark that :func:`end_session` drops the trial's TensorFlow
    gradients from. Keras's global state is cleared with the collections after trials (see
    ``_memory``), not here: clearing it before every trial, as KerasTuner does, slows each
    trial by about 0.2 s."""
    return memory.gradient_mark()


def end_session(mark: int | None) -> None:
    """After a Keras trial: what TensorFlow keeps of it for good dropped (see ``_memory``), so
    memory stays flat over a long study."""
    memory.release(mark)


@functools.cache
def _callback_class() -> type:
    import keras

    class AutomlCallback(keras.callbacks.Callback):
        """Forwards Keras events to the trial's :class:`TrialFit`."""

        def __init__(self, trial_fit: TrialFit) -> None:
            super().__init__()
            self.trial_fit = trial_fit

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.trial_fit.train_begin(self.model)

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.trial_fit.epoch_begin(epoch)

        def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.trial_fit.batch_begin(self.model, batch)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.trial_fit.epoch_end(self.model, epoch, logs or {})

    return AutomlCallback


def trial_log_folder(number: int) -> str:
    """A trial's TensorBoard run folder: ``trial-007`` (sorted as the trials ran)."""
    return f"trial-{number:03d}"


def _default_metric(logs: dict[str, float]) -> str:
    return "val_loss" if "val_loss" in logs else "loss"


def _restore_optimizer(model: Any, values: list[np.ndarray], number: int,
                       keep_rate: bool = False) -> None:
    """Put a checkpoint's optimizer variables back (its step count, moments, learning rate;
    with ``keep_rate`` the learning rate the cell compiled stays). Keras builds an optimizer
    at its first step, after ``on_train_begin``: built here first."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not values:
        return
    if not getattr(optimizer, "built", True):
        optimizer.build(model.trainable_variables)
    variables = optimizer.variables
    if len(variables) != len(values):
        print(f"jupyter-automl: trial {number} restored its weights but not its optimizer's "
              f"state ({len(values)} saved variables, the optimizer has {len(variables)}); "
              "the optimizer starts afresh", file=sys.stderr)
        return
    for variable, value in zip(variables, values):
        if keep_rate and variable.name == "learning_rate":
            continue
        variable.assign(value)


def _call(original: Callable[..., Any], call: inspect.BoundArguments, **changes: Any) -> Any:
    """``original`` called with ``call``'s arguments, ``changes`` made."""
    changed = call.signature.bind(**{**call.arguments, **changes})
    return original(*changed.args, **changed.kwargs)


def _as_list(callbacks: Any) -> list[Any]:
    return list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]


def save_model(fit: TrialFit | None, path: Path) -> None:
    """Save the trial's model with the weights of its best epoch to ``path``, atomically
    (nothing when the trial trained no Keras model, or a --darts search's mixed operations)."""
    if fit is None or fit.model is None or fit.supernet:
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
