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
import traceback
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from .. import _optuna
from ..errors import (
    AutomlError,
    MetricError,
    SpaceError,
    StudyInterrupted,
    TooManyFailuresError,
    TrialValueError,
)
from ..runs._storage import storage_errors
from ..space import _hp as space
from ..training import _checkpoint as checkpoint
from ..training import _fit as keras_hooks
from ..training import _strategy as strategy
from ..training._fit import StopRequested
from ._cell import Cell, trial_namespace
from ._events import Listener, Outcome
from ._recovery import (
    RunnerLock,
    fail_and_retry,
    heartbeat_interval,
    live_claims,
    ran_elsewhere,
    recover,
)
from ._study import PreparedStudy
from ._values import pareto_front, resolve_values

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
        self.in_flight = 0  # trials of the study running now, here or in other processes
        self.reason = ""
        self.lock: RunnerLock | None = None
        self._recovered_at = 0.0
        self._alone = False  # no other runner was alive at the last census
        self._broken: set[int] = set()  # listeners switched off after they raised
        self.front: list[tuple[int, list[float]]] = []  # the best trial, or the Pareto front
        self.stop_event = threading.Event()  # Stop: the trial checkpoints at its next epoch

    # -- the template ------------------------------------------------------------------------
    def run(self) -> str:
        """Run trials until the study's total is reached; return why the run ended:
        "finished", "already finished", "timeout", "stopped" or "elsewhere" (the rest of the
        total is running in other processes). An interrupt raises StudyInterrupted."""
        with storage_errors(self.prepared.url), self._claim() as lock:
            self.lock = lock
            self._recover(lock)
            self._census()
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

    def _claim(self) -> RunnerLock:
        """This run's lock file; heartbeats where other machines may share the study; each
        trial's runner recorded where runners may not share this runs folder (--storage)."""
        return RunnerLock(self.paths, self.study, heartbeats=self.prepared.shared,
                          record=self.prepared.options.storage is not None)

    def _loop(self, lock: RunnerLock) -> str:
        timeout = self.prepared.options.timeout
        failures = 0
        while True:
            if timeout is not None and self.elapsed >= timeout:
                return "timeout"
            if self.stop_event.is_set():
                return "stopped"
            rest = self._rest(lock)
            if rest is not None:
                return rest
            trial = self.study.ask()
            lock.claim(trial)
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
            failures = failures + 1 if outcome.state == "FAIL" and not outcome.taken else 0
            if outcome.fatal is not None:
                raise outcome.fatal
            if failures >= self.prepared.options.max_failures:
                raise TooManyFailuresError(
                    f"{failures} trials in a row failed; the last one with:\n{outcome.error}\n"
                    "Fix the cell (%%automl --check runs one short trial) and rerun it: the "
                    f"{self.done} finished trials are kept.")

    def _rest(self, lock: RunnerLock) -> str | None:
        """None while this runner should ask for another trial, else why it should not.

        The study's total counts every runner's trials (read from the storage before each
        trial, as Optuna's ``MaxTrialsCallback`` does): a runner asks for one only while the
        finished and running trials leave room for it. If the rest is running elsewhere, the
        runners of those trials are checked first: the trials of dead ones are retried here.
        """
        if lock.heartbeats and time.monotonic() - self._recovered_at > heartbeat_interval():
            self._recover(lock)
        self._census()
        if self.done >= self.total:
            return "finished"
        if self.done + self.in_flight < self.total:
            return None
        if self._recover(lock):
            self._census()
            if self.done + self.in_flight < self.total:
                return None
        return "elsewhere"

    def _recover(self, lock: RunnerLock) -> list[int]:
        """Fail the trials of dead runners and queue their retries."""
        self._recovered_at = time.monotonic()
        lost = recover(self.study, self.paths, lock)
        if lost:
            print(f"trial{'s' * (len(lost) > 1)} {', '.join(map(str, lost))} of study "
                  f"{self.name!r} lost {'their' if len(lost) > 1 else 'its'} runner (its "
                  "process died or stopped answering): queued to resume from the last "
                  "checkpoint")
        return lost

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
        except optuna.exceptions.UpdateFinishedTrialError:  # another runner took the trial
            outcome = Outcome("FAIL", taken=True)
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
        """Record the outcome on the trial; a trial another runner has meanwhile failed (it
        took this runner for dead) is left as it is, and the run goes on."""
        import optuna

        try:
            if not outcome.taken:
                self._record(trial, outcome)
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            if not _optuna.frozen(self.study, trial).state.is_finished():
                raise
            outcome.taken = True
        if outcome.taken:
            self._taken(trial, outcome)
            return
        self.counts[outcome.state] += 1
        if outcome.state != "FAIL":
            self.finished_here += 1
        if outcome.values is not None:
            self._note_values(trial.number, outcome.values)

    def _record(self, trial: optuna.Trial, outcome: Outcome) -> None:
        from optuna.trial import TrialState

        if outcome.state == "FAIL" and outcome.error:
            trial.set_user_attr("error", outcome.error[-4000:])
        resumed = outcome.fit.resumed_at if outcome.fit is not None \
            else outcome.extra.get("resumed_at")
        if resumed:
            trial.set_user_attr("resumed_at_epoch", resumed)
        if "kernel" in outcome.extra:  # the worker kernel that ran it
            trial.set_user_attr("kernel", outcome.extra["kernel"])
        state = getattr(TrialState, outcome.state)
        _optuna.tell(self.study, trial, outcome.values if state == TrialState.COMPLETE
                     else None, state)
        if outcome.state == "FAIL" and outcome.fatal is None:
            print(f"trial {trial.number} failed:\n{outcome.error}", file=sys.stderr)

    def _taken(self, trial: optuna.Trial, outcome: Outcome) -> None:
        stored = _optuna.frozen(self.study, trial)
        why = stored.user_attrs.get("failed_because", "another runner ended it")
        outcome.state, outcome.values = stored.state.name, None
        outcome.error = (f"trial {trial.number} was taken over while it ran here: another "
                         f"runner of the study found it {stored.state.name} ({why}) and queued "
                         "its retry. Its result here is dropped; this run goes on with the "
                         "next trial.")
        print(outcome.error, file=sys.stderr)

    def _interrupted(self, trial: optuna.Trial, reason: str) -> NoReturn:
        import optuna

        try:
            retried = fail_and_retry(self.study, _optuna.frozen(self.study, trial), self.paths,
                                     reason=reason)
        except optuna.exceptions.UpdateFinishedTrialError:  # taken over meanwhile
            retried = False
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
        """The checkpoint a retried trial resumes from; None (saying why) if it cannot."""
        source = trial.user_attrs.get("resume_from")
        if source is None:
            return None
        folder = self.paths.trial(int(source))
        try:
            saved = checkpoint.load(folder)
        except checkpoint.Unreadable as exc:
            why = str(exc)
        else:
            if saved is not None or not ran_elsewhere(
                    _optuna.trial_by_number(self.study, int(source)), self.paths):
                return saved
            why = (f"it ran in another runs folder or on another machine, and its checkpoint "
                   f"is not in {folder}; give every runner of the study the same "
                   "--checkpoint-dir on a shared disk to resume across machines")
        print(f"jupyter-automl: the checkpoint of trial {source} cannot be used ({why}); "
              f"trial {trial.number} restarts at epoch 0", file=sys.stderr)
        return None

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

    def _census(self) -> None:
        """The study's trials by state, as the storage has them now (every runner's).

        A runner alone on its study (no other live lock, no storage others may share) since
        its last census knows the figures already: its own counts, kept as it tells trials.
        That spares a query per trial."""
        lock = self.lock
        alone = lock is not None and not lock.record and not live_claims(self.paths, lock)[1]
        was_alone, self._alone = self._alone, alone
        if lock is not None and alone:
            if was_alone:
                self.in_flight = len(lock.claimed)
                return
            if self.counts:  # the others have ended: did any leave a trial running?
                self._recover(lock)
        states = _optuna.state_counts(self.study)
        first = not self.counts
        self.counts = Counter({k: states.get(k, 0) for k in ("COMPLETE", "PRUNED", "FAIL")})
        self.in_flight = states.get("RUNNING", 0)
        if first:
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
        """Tell every listener; one that raises is switched off with a warning, and the trial
        and the study go on. An essential listener (the best-model exporter) raises."""
        for listener in self.listeners:
            if id(listener) in self._broken:
                continue
            try:
                getattr(listener, event)(self, *args)
            except Exception:
                if listener.essential:
                    raise
                self._broken.add(id(listener))
                print(f"jupyter-automl: {listener.title} failed in {event} and is switched off "
                      f"for the rest of this run; the trials go on.\n{traceback.format_exc()}",
                      file=sys.stderr)

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

