"""The in-kernel trial loop: a template with hooks (:class:`~.events.Listener`) and typed failures.

Each trial runs the cell in a copy of the notebook's namespace with ``hp`` and Keras bound to it.
A cell that raises fails its trial (traceback shown once, kept on the trial) and the study goes
on, until ``max_failures`` trials in a row have failed. A configuration error (a metric the logs
lack, a bad range) stops the study at once. An interrupt checkpoints, marks the trial for retry
and stops; rerunning the cell resumes.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from . import checkpoint, keras_hooks, space, strategy
from .cell import Cell, trial_namespace
from .errors import (
    AutomlError,
    MetricError,
    SpaceError,
    StudyInterrupted,
    TooManyFailuresError,
    TrialValueError,
)
from .events import Listener, Outcome
from .keras_hooks import StopRequested
from .recovery import RunnerLock, fail_and_retry, recover
from .storage import storage_errors
from .study import PreparedStudy
from .values import pareto_front, resolve_values

if TYPE_CHECKING:
    import optuna

FATAL = (MetricError, SpaceError)  # the same for every parameter set: stop the study


class StudyRunner:
    def __init__(self, prepared: PreparedStudy, cell: Cell, user_ns: dict[str, Any],
                 listeners: Sequence[Listener] = ()) -> None:
        self.prepared = prepared
        self.study = prepared.study
        self.paths = prepared.paths
        self.cell = cell
        self.user_ns = user_ns
        self.listeners = list(listeners)
        self.name = prepared.options.name
        self.total = prepared.total
        self.counts: Counter[str] = Counter()
        self.best_text = ""
        self.started = time.monotonic()
        self.finished_here = 0  # trials this run finished, for the ETA
        self.recovered: list[int] = []
        self.reason = ""
        self.front: list[tuple[int, list[float]]] = []  # the best trial, or the Pareto front
        self.stop_event = threading.Event()  # Stop: the trial checkpoints at its next epoch

    # -- the template ------------------------------------------------------------------------
    def run(self) -> str:
        """Run trials until the study's total is reached; return why the run ended:
        "finished", "already finished" or "timeout" (an interrupt raises StudyInterrupted)."""
        with storage_errors(self.prepared.url), RunnerLock(self.paths) as lock:
            self.recovered = recover(self.study, self.paths, lock)
            self._load_counts()
            if self.done >= self.total:
                return "already finished"
            self._emit("study_started")
            try:
                self.reason = self._loop(lock)
            except KeyboardInterrupt:  # between trials: nothing is lost, the asked trial retries
                self.reason = "interrupted"
                raise StudyInterrupted(
                    f"study {self.name!r} interrupted: {self.done}/{self.total} trials finished."
                    " Rerun the cell to resume.") from None
            finally:
                self._emit("study_finished", self.reason or "stopped")
        return self.reason

    def _loop(self, lock: RunnerLock) -> str:
        timeout = self.prepared.options.timeout
        failures = 0
        while self.done < self.total:
            if timeout is not None and self.elapsed >= timeout:
                return "timeout"
            if self.stop_event.is_set():
                return "stopped"
            trial = self.study.ask()
            lock.claim(trial.number)
            self._emit("trial_started", trial)
            try:
                outcome = self.run_trial(trial)
            except StopRequested:
                self._interrupted(trial, "stopped")
            except KeyboardInterrupt:
                self._interrupted(trial, "interrupted")
            self._tell(trial, outcome)
            lock.release_trial(trial.number)
            self._emit("trial_finished", trial, outcome)
            failures = failures + 1 if outcome.state == "FAIL" else 0
            if outcome.fatal is not None:
                raise outcome.fatal
            if failures >= self.prepared.options.max_failures:
                raise TooManyFailuresError(
                    f"{failures} trials in a row failed; the last one with:\n{outcome.error}\n"
                    "Fix the cell (%%automl --check runs one short trial) and rerun it: the "
                    f"{self.done} finished trials are kept.")
        return "finished"

    def run_trial(self, trial: optuna.Trial, follower: bool = False) -> Outcome:
        """Run the cell once for ``trial``; every exception but an interrupt becomes an Outcome.

        A ``follower`` is another kernel of a multi-worker trial: it trains in step with the
        chief and leaves the reporting, the checkpoints and the decisions to it."""
        import optuna

        if self.cell.uses_keras or "keras" in sys.modules:
            keras_hooks.install()
            keras_hooks.fresh_session()
        settings = self._fit_settings()
        if follower:
            settings.report = settings.prune = False
            settings.follower = True
        name = self.prepared.options.strategy
        fit = keras_hooks.TrialFit(trial, self.paths.trial(trial.number), settings,
                                   self._resume_point(trial), self._epoch_ended,
                                   should_stop=self.stop_event.is_set,
                                   agree=strategy.agree(name) if name else None)
        space_token = space.bind(space.TrialSpace(trial, self.prepared.overrides))
        fit_token = keras_hooks.bind(fit)
        start = time.monotonic()
        try:
            with strategy.scope(name):
                value = self.cell.run(trial_namespace(self.user_ns, self.cell))
            outcome = Outcome("COMPLETE", values=resolve_values(value, fit, self.prepared))
        except optuna.TrialPruned as exc:
            outcome = Outcome("PRUNED", error=str(exc))
        except FATAL as exc:
            outcome = Outcome("FAIL", error=str(exc), fatal=exc)
        except (TrialValueError, AutomlError) as exc:
            outcome = Outcome("FAIL", error=str(exc))
        except Exception as exc:
            outcome = Outcome("FAIL", error=self.cell.format_error(exc))
        finally:
            keras_hooks.unbind(fit_token)
            space.unbind(space_token)
            fit.writer.wait()
        if fit.history and not follower:
            checkpoint.write_state(fit.folder, fit.state())
        outcome.fit = fit
        outcome.duration = time.monotonic() - start
        return outcome

    # -- steps -----------------------------------------------------------------------------------
    def _tell(self, trial: optuna.Trial, outcome: Outcome) -> None:
        from optuna.trial import TrialState

        if outcome.state == "FAIL":
            if outcome.error:
                trial.set_user_attr("error", outcome.error[-4000:])
            if outcome.fatal is None:
                print(f"trial {trial.number} failed:\n{outcome.error}", file=sys.stderr)
        if outcome.fit is not None and outcome.fit.resumed_at:
            trial.set_user_attr("resumed_at_epoch", outcome.fit.resumed_at)
        state = getattr(TrialState, outcome.state)
        _tell(self.study, trial, outcome.values if state == TrialState.COMPLETE else None, state)
        self.counts[outcome.state] += 1
        if outcome.state != "FAIL":
            self.finished_here += 1
        if outcome.values is not None:
            self._note_values(trial.number, outcome.values)

    def _interrupted(self, trial: optuna.Trial, reason: str) -> NoReturn:
        frozen = self.study._storage.get_trial(trial._trial_id)
        retried = fail_and_retry(self.study, frozen, self.paths, reason=reason)
        self.counts["FAIL"] += 1
        self.reason = reason
        saved = checkpoint.read_state(self.paths.trial(trial.number)).get("history", [])
        where = f" at epoch {len(saved)}" if saved else ""
        resume = (f"trial {trial.number} was checkpointed{where} and will resume from there"
                  if retried else f"trial {trial.number} is failed")
        raise StudyInterrupted(
            f"study {self.name!r} {reason}: {self.done}/{self.total} trials finished, {resume}."
            " Rerun the cell to resume.") from None

    def _resume_point(self, trial: optuna.Trial) -> checkpoint.Checkpoint | None:
        source = trial.user_attrs.get("resume_from")
        return None if source is None else checkpoint.load(self.paths.trial(int(source)))

    def _fit_settings(self) -> keras_hooks.FitSettings:
        options = self.prepared.options
        first = self.prepared.objectives[0]
        return keras_hooks.FitSettings(
            metric=first.metric, direction=first.direction,
            report=len(options.directions) == 1,
            prune=len(options.directions) == 1 and options.effective_pruner != "none",
            early_stopping=options.early_stopping, check=options.check,
            cell_supplies_value=self.cell.returns_value,
            others=tuple((o.metric, o.direction) for o in self.prepared.objectives[1:]
                         if o.metric is not None),
        )

    def _epoch_ended(self, fit: keras_hooks.TrialFit) -> None:
        self._emit("epoch_ended", fit)

    def _load_counts(self) -> None:
        states = Counter(t.state.name for t in self.study.get_trials(deepcopy=False))
        self.counts = Counter({k: states.get(k, 0) for k in ("COMPLETE", "PRUNED", "FAIL")})
        for trial in self.study.best_trials:
            self._note_values(trial.number, list(trial.values))

    def _note_values(self, number: int, values: list[float]) -> None:
        signs = [1.0 if d == "maximize" else -1.0 for d in self.prepared.options.directions]
        self.front = pareto_front([*self.front, (number, values)], signs)
        if len(signs) > 1:
            self.best_text = f"Pareto front: {len(self.front)} trials"
        else:
            metric = self.prepared.objectives[0].metric
            self.best_text = f"best {metric + ' ' if metric else ''}{self.front[0][1][0]:.6g}"

    def _emit(self, event: str, *args: Any) -> None:
        for listener in self.listeners:
            getattr(listener, event)(self, *args)

    # -- figures -----------------------------------------------------------------------------
    @property
    def done(self) -> int:
        return self.counts["COMPLETE"] + self.counts["PRUNED"]

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def eta(self) -> float | None:
        if not self.finished_here:
            return None
        return self.elapsed / self.finished_here * max(0, self.total - self.done)


def _tell(study: optuna.Study, trial: optuna.Trial, values: list[float] | None,
          state: optuna.trial.TrialState) -> None:
    """``study.tell`` without the deep copy of the told trial it reads back and returns.

    That copy is a database read per trial which ``study.optimize`` does not make; skipping
    it keeps this loop as fast as Optuna's own (benchmarks/overhead.py).
    """
    try:
        from optuna.study._tell import _tell_with_warning
    except ImportError:  # a future Optuna moved it: the public call is only slower
        study.tell(trial, values, state=state)
        return
    _tell_with_warning(study=study, trial=trial, value_or_values=values, state=state,
                       suppress_warning=True)
