"""One trial in this process: the cell run in a copy of the notebook's namespace, with ``hp``
bound to the trial and Keras's ``fit`` instrumented. The default executor of the loop, and
what a worker kernel runs for the driver.

A cell that raises fails its trial (its traceback, the cell's frames only, kept); a
configuration error (a metric the logs lack, a bad range) is fatal: the same for every
parameter set, it stops the study.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .. import _optuna
from .._utils.process import rss_mb
from ..errors import (
    AutomlError,
    MetricError,
    PbtError,
    SpaceError,
    TrialValueError,
    disk_full,
)
from ..results import (
    COST_SECONDS,
    COSTS,
    COSTS_CACHED,
    EPOCHS,
    FINAL,
    GENERATION,
    MEMBER,
    MUTABLE,
    predecessor,
)
from ..runs import root_cause, storage_failure
from ..search import DERIVED_FROM, LEARNING_RATE, SUPERNET, WEIGHTS, Darts, DartsSettings
from ..space import TrialSpace, bind_space, unbind_space
from ..training import (
    Checkpoint,
    Distillation,
    FitSettings,
    Measured,
    StopRequested,
    TrialFit,
    Unreadable,
    bind_fit,
    decision_broadcast,
    end_session,
    fresh_session,
    install,
    load_checkpoint,
    load_stored,
    measure_costs,
    strategy_scope,
    unbind_fit,
)
from ._cell import Cell, trial_namespace
from ._events import Outcome, RunEnd, TrialLost
from ._executions import Executions, better, unseed
from ._options import SEARCH
from ._recovery import ran_elsewhere
from ._values import constraint_values, resolve_values

if TYPE_CHECKING:
    import optuna

    from ._study import PreparedStudy

FATAL = (MetricError, SpaceError, PbtError)  # the same for every parameter set: stop the study


class ThisKernel:
    """Runs each trial here, one at a time (the loop's default executor)."""

    label = "this kernel"
    slots = 1
    restart_text = "going on with the next trial"

    def __init__(self, prepared: PreparedStudy, cell: Cell, user_ns: dict[str, Any]) -> None:
        self.prepared = prepared
        self.cell = cell
        self.user_ns = user_ns
        self.on_epoch: Callable[[TrialFit], None] | None = None
        self.should_stop: Callable[[bool], bool] | None = None  # (look now?) -> stop?

    @contextlib.contextmanager
    def session(self, run: Any) -> Iterator[None]:
        self.on_epoch, self.should_stop = run.epoch_ended, run.stop_event.is_set
        yield

    def prepare(self, slot: int) -> bool:
        """Nothing to start: the trials run here."""
        return True

    def replace(self, slot: int) -> bool:
        return True

    def run(self, trial: optuna.Trial, slot: int = 0) -> Outcome:
        try:
            return self.run_trial(trial)
        except StopRequested:  # the panel's Stop: checkpointed at the end of its epoch
            raise TrialLost(cut=RunEnd.STOPPED, stops_study=True) from None
        except KeyboardInterrupt:
            raise TrialLost(cut=RunEnd.INTERRUPTED, stops_study=True) from None
        except Exception as exc:  # what run_trial lets through: the disk full, or ours
            if disk_full(exc) is None:
                raise
            raise TrialLost(cut=RunEnd.DISK_FULL, stops_study=True, said=str(exc)) from None

    def interrupt(self) -> None:
        """Nothing to do: the interrupt reaches the trial in this very thread."""

    def run_trial(self, trial: optuna.Trial, follower: bool = False) -> Outcome:
        """Run the cell once for ``trial``; every exception but an interrupt becomes an Outcome.

        A ``follower`` is another kernel of a multi-worker trial: it trains in step with the
        chief and leaves the reporting, the checkpoints and the decisions to it.
        With ``--executions-per-trial N`` the cell runs N times (see ``_executions``)."""
        session = None
        if self.cell.uses_keras or "keras" in sys.modules:
            install()
            session = fresh_session()
        options = self.prepared.options
        start = time.monotonic()
        try:
            if options.executions > 1 and not follower and not options.check:
                outcome = self._run_executions(trial, Executions.of(trial, options.executions))
            else:
                outcome = self._execute(trial, self._resume_point(trial), follower)
        finally:
            if session is not None:  # what TensorFlow would keep of the trial for good
                end_session(session)
        outcome.duration = time.monotonic() - start
        return outcome

    def _run_executions(self, trial: optuna.Trial, runs: Executions) -> Outcome:
        """The trial's executions still to run, each seeded; its outcome, their mean. An
        execution that does not complete ends the trial as it ended."""
        from optuna.trial import TrialState

        resume = runs.resume_point(trial, self._resume_point(trial))
        chosen: Outcome | None = None  # the best execution's: its model is the trial's
        peaks: list[float] = []
        violations: dict[str, list[float]] = {}
        try:
            while runs.next < runs.total:
                runs.begin(trial, self.prepared.options.seed)
                outcome = self._execute(trial, resume, runs=runs, violations=violations)
                resume = None
                peaks.append(outcome.peak_mb or 0.0)
                if outcome.fit is not None and outcome.fit.resumed_at:
                    trial.set_user_attr("resumed_at_epoch", outcome.fit.resumed_at)
                if outcome.state != TrialState.COMPLETE:
                    outcome.peak_mb = max(peaks)
                    return outcome
                assert outcome.values is not None
                runs.finished(trial, outcome.values, outcome.fit)
                chosen = better(chosen, outcome, self.prepared.options.directions[0])
        finally:
            unseed()
        for text, figures in violations.items():
            trial.set_constraint(text, math.fsum(figures) / len(figures))
        return Outcome(TrialState.COMPLETE, values=runs.result(trial),
                       fit=chosen.fit if chosen is not None else None,
                       peak_mb=max(peaks, default=None) or rss_mb())

    def _execute(self, trial: optuna.Trial, resume: Checkpoint | None, follower: bool = False,
                 runs: Executions | None = None,
                 violations: dict[str, list[float]] | None = None) -> Outcome:
        """Run the cell once, resuming from ``resume``; as the next of ``runs`` (its
        constraints' violations then collected in ``violations``, to be averaged)."""
        import optuna
        from optuna.trial import TrialState

        options = self.prepared.options
        settings = self._fit_settings(trial)
        if runs is not None:
            runs.configure(settings)
        settings.distill = self._distillation(trial)
        if settings.stop_at is not None and self.prepared.options.seed is not None \
                and "keras" in sys.modules:
            _seed_member(trial, self.prepared.options.seed)
        if follower:
            settings.report = settings.prune = False
            settings.follower = True
        darts = Darts(DartsSettings(options.darts_lr, options.darts_beta)) \
            if options.darts else None
        settings.darts = darts
        name = options.strategy
        fit = TrialFit(trial, self.prepared.paths.trial(trial.number), settings,
                       resume, self.on_epoch, should_stop=self.should_stop,
                       share_decision=decision_broadcast(name) if name else None)
        space = TrialSpace(trial, self.prepared.overrides,
                           mix=darts.mix if darts is not None else None)
        space_token = bind_space(space)
        fit_token = bind_fit(fit)
        try:
            with strategy_scope(name):
                value = self.cell.run(trial_namespace(self.user_ns, self.cell))
            if settings.stop_at is not None and not follower:
                _record_member(trial, fit, space)
            measured = fit.measures()
            wanted = [name for name in options.measures  # what the cell returns, it says
                      if not (isinstance(value, dict) and name in value)]
            if wanted and not fit.supernet and not follower:
                measured.update(self._measure_costs(trial, fit, wanted))
            values = resolve_values(value, fit, self.prepared, measured)
            if options.constraints and not fit.supernet and not follower:
                for constraint, figure in constraint_values(value, fit, options.constraints,
                                                            measured):
                    violation = constraint.violation(figure)
                    if violations is None:
                        trial.set_constraint(constraint.text, violation)
                    else:
                        violations.setdefault(constraint.text, []).append(violation)
            if fit.supernet and not follower and not options.check:
                _record_search(trial, fit)
            outcome = Outcome(TrialState.COMPLETE, values=values)
        except optuna.TrialPruned as exc:
            if fit.misfit is not None and not follower:  # it missed a bound: not trained
                self._record_known_costs(trial, fit)
                trial.set_user_attr("error", fit.misfit)  # why, for the tables
            outcome = Outcome(TrialState.PRUNED, error=str(exc))
        except optuna.exceptions.UpdateFinishedTrialError:  # another runner took the trial
            outcome = Outcome(TrialState.FAIL, taken=True)
        except FATAL as exc:
            outcome = Outcome(TrialState.FAIL, error=str(exc), fatal=exc)
        except (TrialValueError, AutomlError) as exc:
            outcome = Outcome(TrialState.FAIL, error=str(exc))
        except Exception as exc:
            if (full := disk_full(exc)) is not None:  # not the cell's fault: the run stops
                raise full from None
            if (failure := storage_failure(exc)) is not None:  # nor is a database's: retried
                why = f"its storage failed ({root_cause(failure)})"
                raise TrialLost(why, said=why) from None
            outcome = Outcome(TrialState.FAIL, error=self.cell.format_error(exc))
        finally:
            unbind_fit(fit_token)
            unbind_space(space_token)
            fit.writer.wait()
        if fit.history and not follower:
            from ..runs import write_state

            write_state(fit.folder, fit.state())
        outcome.fit = fit
        outcome.peak_mb = fit.peak_mb or rss_mb()
        return outcome

    def _measure_costs(self, trial: optuna.Trial, fit: TrialFit,
                       wanted: list[str]) -> dict[str, float]:
        """The deployment costs ``wanted`` of the model the trial trained (read where its
        architecture was measured before, or measured before it trained), kept in the trial's
        user attributes with the seconds measuring took."""
        got = fit.costs if fit.costs is not None and fit.costs_model is fit.model \
            and set(wanted) <= set(fit.costs.costs) else \
            measure_costs(fit.model, wanted, self.prepared.paths.root / "costs", fit.train_x)
        self._record_costs(trial, got)
        return got.costs

    def _record_known_costs(self, trial: optuna.Trial, fit: TrialFit) -> None:
        """A trial whose model missed a bound before training: what it would cost, and how
        far past each bound on those figures it is (its constraints)."""
        if fit.costs is not None:
            self._record_costs(trial, fit.costs)
        for constraint in self.prepared.options.constraints:
            if constraint.metric in fit.known_costs:
                trial.set_constraint(constraint.text,
                                     constraint.violation(fit.known_costs[constraint.metric]))

    @staticmethod
    def _record_costs(trial: optuna.Trial, got: Measured) -> None:
        trial.set_user_attr(COSTS, got.costs)
        trial.set_user_attr(COST_SECONDS, round(got.seconds, 3))
        if got.cached:
            trial.set_user_attr(COSTS_CACHED, True)

    def _resume_point(self, trial: optuna.Trial) -> Checkpoint | None:
        """The checkpoint a retried trial resumes from: its runs folder's, or the store's
        when that one is newer (the trial ran on another machine); None, saying why, if it
        cannot."""
        source = trial.user_attrs.get("resume_from")
        if source is None:
            return None
        paths, store = self.prepared.paths, self.prepared.store
        folder = paths.trial(int(source))
        try:
            saved = load_checkpoint(folder)
        except Unreadable as exc:
            saved, why = None, str(exc)
        else:
            why = ""
        if store is not None:  # newer there when the trial ran on another machine
            try:
                stored = load_stored(store, int(source), folder, than=saved)
            except Exception as exc:  # noqa: BLE001 - the store is a copy: say so, go on
                why = why or f"the store {store.url} cannot be read ({type(exc).__name__}: {exc})"
                stored = None
            if stored is not None:
                print(f"jupyter-automl: trial {trial.number} resumes from the checkpoint of "
                      f"trial {source} in {store.url} (epoch {stored.epoch})",
                      file=sys.stderr)
                return stored
        if saved is not None:
            return saved
        if not why:
            if not ran_elsewhere(_optuna.trial_by_number(self.prepared.study, int(source)),
                                 paths):
                return None
            why = (f"it ran in another runs folder or on another machine, and its checkpoint "
                   f"is not in {folder}" + (f" nor in {store.url}" if store else "; give every "
                   "runner of the study the same --checkpoint-store (a bucket), or "
                   "--checkpoint-dir on a shared disk, to resume across machines"))
        start = predecessor(trial)  # PBT: the checkpoint its generation started from
        if start is not None and start != int(source):
            try:
                saved = load_checkpoint(paths.trial(start))
            except Unreadable:
                saved = None
            if saved is not None:
                print(f"jupyter-automl: the checkpoint of trial {source} cannot be used "
                      f"({why}); trial {trial.number} starts its generation again from the "
                      f"checkpoint of trial {start}, at epoch {saved.epoch}", file=sys.stderr)
                return saved
        print(f"jupyter-automl: the checkpoint of trial {source} cannot be used ({why}); "
              f"trial {trial.number} restarts at epoch 0", file=sys.stderr)
        return None

    def _distillation(self, trial: optuna.Trial) -> Distillation | None:
        """``--distill-from``: the teacher, and the temperature and soft weight (drawn as the
        trial's parameters ``distill_temperature`` / ``distill_soft_weight`` with search)."""
        options = self.prepared.options
        if options.teacher is None:
            return None
        temperature = trial.suggest_float("distill_temperature", 1.0, 10.0, log=True) \
            if options.temperature == SEARCH else float(options.temperature)
        weight = trial.suggest_float("distill_soft_weight", 0.1, 0.9) \
            if options.soft_weight == SEARCH else float(options.soft_weight)
        return Distillation(options.teacher, temperature, weight)

    def _fit_settings(self, trial: optuna.Trial) -> FitSettings:
        options = self.prepared.options
        first = self.prepared.objectives[0]
        # --scheduler pbt: the trial trains its member's generation, to the epoch that ends it
        stop_at = (int(trial.user_attrs.get(GENERATION, 0)) + 1) * options.interval \
            if options.pbt and not options.check else None
        return FitSettings(
            metric=first.metric, direction=first.direction,
            report=len(options.directions) == 1,
            prune=len(options.directions) == 1 and options.effective_pruner != "none",
            early_stopping=options.early_stopping, check=options.check,
            checkpoint_every=options.checkpoint_every, seed=options.seed,
            cell_supplies_value=self.cell.returns_value,
            constraints=tuple((c.text, c.metric) for c in options.constraints),
            measures=tuple(options.measures),
            costs_folder=self.prepared.paths.root / "costs",
            early_costs=stop_at is None and not options.check and options.strategy is None,
            store=self.prepared.store,
            others=tuple((o.metric, o.direction) for o in self.prepared.objectives[1:]
                         if o.metric is not None),
            stop_at=stop_at,
        )


def _seed_member(trial: optuna.Trial, seed: int) -> None:
    """A PBT study with --seed: each member's generation draws its initial weights, dropout
    masks and sample order from a seed of its own, so the whole run repeats itself."""
    attrs = trial.user_attrs
    member, generation = int(attrs.get(MEMBER, 0)), int(attrs.get(GENERATION, 0))
    sys.modules["keras"].utils.set_random_seed(
        (seed * 1_000_003 + generation * 1_009 + member) % 2**31)


def _record_search(trial: optuna.Trial, fit: TrialFit) -> None:
    """A --darts search has ended: the strongest option of each choice becomes the trial's
    parameter, and a trial that trains that architecture from scratch is queued next (once,
    though a retry of the search finishes it again)."""
    from optuna.distributions import CategoricalDistribution

    darts = fit.settings.darts
    assert darts is not None
    study = trial.study
    for name, label in darts.derived().items():
        _optuna.set_param(study, trial, name, label, CategoricalDistribution(darts.labels[name]))
    trial.set_user_attr(SUPERNET, True)
    trial.set_user_attr(WEIGHTS, darts.weights())
    if darts.lr is not None:
        trial.set_user_attr(LEARNING_RATE, darts.lr)
    searches = {trial.number, trial.user_attrs.get("retry_of", trial.number)}
    if any(t.user_attrs.get(DERIVED_FROM) in searches
           for t in study.get_trials(deepcopy=False)):
        return
    params = _optuna.frozen(study, trial).params
    study.enqueue_trial(params, user_attrs={DERIVED_FROM: trial.number})


def _record_member(trial: optuna.Trial, fit: TrialFit, space: TrialSpace) -> None:
    """A PBT member's generation: what the next generation needs to know of it (the epochs
    its fit asks for, whether it reached them, its mutable parameters). Raises
    :class:`PbtError` for a cell PBT cannot run."""
    if fit.model is None or fit.tracked or not fit.history:
        raise PbtError(
            "--scheduler pbt trains each member with Keras model.fit, --interval epochs at a "
            "time from the checkpoint of the generation before; this cell did not call "
            "model.fit (a custom loop cannot be resumed by PBT). Train with model.fit, or drop "
            "--scheduler pbt")
    mutable = sorted(name for name, spec in space.specs.items() if spec.mutable)
    if not mutable:
        raise PbtError(
            "--scheduler pbt changes the mutable parameters while the members train, but no "
            f"hp call in this cell is mutable (parameters: {', '.join(space.specs) or 'none'})."
            " Mark those PBT may change, e.g. hp.float(\"lr\", 1e-4, 1e-1, log=True, "
            "mutable=True)")
    assert fit.settings.stop_at is not None
    trial.set_user_attr(EPOCHS, fit.epochs_asked)
    trial.set_user_attr(FINAL, fit.settings.stop_at >= fit.epochs_asked)
    trial.set_user_attr(MUTABLE, mutable)
