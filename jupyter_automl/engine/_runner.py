"""The one trial loop: it owns the study's total, the timeout, Stop, the failure rules and
what listeners are told, and hands "run this trial" to an executor (:class:`~._events.Executor`:
this kernel, a pool of worker kernels, a cluster of them).

Each executor slot (one thread each when there are several) asks for a trial, has it run and
tells its outcome. A cell that raises fails its trial (traceback shown once, kept on the trial)
and the study goes on, until ``max_failures`` trials in a row have failed. A configuration
error stops the study at once. A lost trial (its kernel died, the user interrupted it) is
failed and queued to resume from its checkpoint; an interrupt then stops the study, and
rerunning the cell resumes it.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .. import _optuna
from .._utils.constraints import is_feasible
from .._utils.duration import eta
from .._utils.failpoints import hit as failpoint
from .._utils.objectives import front_text, pareto_front, signs
from ..errors import (
    DiskFullError,
    StudyInterrupted,
    TooManyFailuresError,
    disk_full,
    disk_full_text,
)
from ..results import own_best_trials
from ..runs import (
    LOST,
    RERUN_OF,
    Backups,
    RunnerLock,
    clear_stop,
    heartbeat_interval,
    live_claims,
    sqlite_file,
    storage_errors,
)
from ..search import SUPERNET, retrains_owed
from ..training import memory_scope
from ._events import Executor, Listener, Outcome, RunEnd, TrialLost
from ._executions import checkpoint_text
from ._pbt import PbtSchedule, is_final
from ._recovery import fail_and_retry, recover

if TYPE_CHECKING:
    import optuna
    from optuna.trial import TrialState

    from ..training import TrialFit
    from ._study import PreparedStudy


class StopSignal(threading.Event):
    """Stop, for one run: set in this process (the panel's button, ``%automl stop``, an
    interrupt), or by a stop request in the study's folder (JupyterLab's AutoML sidebar), which
    is looked for at most every ``POLL`` seconds, or at once when asked to ``look`` (at a step's
    end, where a stop takes effect: a request written during a step stops the trial at that
    step's end, not at the next)."""

    POLL = 0.5

    def __init__(self, request: Path) -> None:
        super().__init__()
        self.request = request
        self._looked = 0.0

    def is_set(self, look: bool = False) -> bool:
        if super().is_set():
            return True
        now = time.monotonic()
        if look or now - self._looked >= self.POLL:
            self._looked = now
            if self.request.exists():
                failpoint("stop.read")
                self.set()
                return True
        return False


class StudyRunner:
    """One run of a study: from its storage as it is now to its total (or a stop)."""

    def __init__(self, prepared: PreparedStudy, executor: Executor,
                 listeners: Sequence[Listener] = ()) -> None:
        self.prepared = prepared
        self.study = prepared.study
        self.paths = prepared.paths
        self.executor = executor
        self.listeners = list(listeners)
        self.name = prepared.options.name
        self.total = prepared.total
        self.counts: Counter[TrialState] = Counter()
        self.best_text = ""
        self.started = time.monotonic()
        self.finished_here = 0  # trials this run finished, for the ETA
        self.in_flight = 0  # trials of the study running now, here or in other processes
        self.reason: RunEnd | None = None
        self.front: list[tuple[int, list[float]]] = []  # the best trial, or the Pareto front
        self.stop_event = StopSignal(self.paths.stop_request)  # the trial checkpoints, queued
        self.lock: RunnerLock | None = None
        # copies of the runs folder's own SQLite file, between trials and at the run's end
        self.backups = Backups(self.paths) \
            if sqlite_file(prepared.url) == self.paths.db.absolute() else None
        self._mutex = threading.RLock()  # the slots' threads ask, tell and count one at a time
        self._changed = threading.Condition(self._mutex)  # a trial ended (PBT waits for that)
        # --scheduler pbt decides each trial; else the sampler does (study.ask)
        self.schedule = PbtSchedule(prepared) if prepared.options.pbt else None
        self._final_seen = False  # PBT: a member's final generation has finished
        self._recovered_at = 0.0
        self._alone = False  # no other runner was alive at the last census
        self._broken: set[int] = set()  # listeners switched off after they raised
        self._failures = 0  # trials in a row that failed
        self._hung = 0  # trials in a row whose worker did not answer within --trial-timeout
        self._fatal: BaseException | None = None
        self._lost_now: list[int] = []  # trials an interrupt cut short
        self._edits_seen = self.paths.edits_stamp()  # trials edited by hand (%automl discard)

    # -- the template ------------------------------------------------------------------------
    def run(self) -> RunEnd:
        """Run trials until the study's total is reached; return why the run ended (the rest
        of the total may be running in other processes: ``ELSEWHERE``). An interrupt raises
        StudyInterrupted."""
        with storage_errors(self.prepared.url), self._claim() as lock, memory_scope():
            self.lock = lock
            self._recover(lock)
            self._count_trials()
            if self._alone:  # a stop request no live runner saw is not this run's
                clear_stop(self.paths)
            if (self.schedule.is_complete() if self.schedule is not None
                    else self._total_reached()):
                return RunEnd.ALREADY_FINISHED
            self._emit("study_started")
            try:
                with self.executor.session(self):
                    self._drive(lock)
                self.reason = self._ending()
            except KeyboardInterrupt:  # between trials: nothing is lost, the asked trial retries
                self.reason = RunEnd.INTERRUPTED
                raise StudyInterrupted(self._interrupted_text(self.reason)) from None
            except StudyInterrupted:
                self.reason = self.reason or RunEnd.INTERRUPTED
                raise
            finally:
                if self.backups is not None:
                    self.backups.take()
                self._emit("study_finished", self.reason or RunEnd.STOPPED)
        return self.reason

    def _claim(self) -> RunnerLock:
        """This run's lock file; heartbeats where other machines may share the study; each
        trial's runner recorded where runners may not share this runs folder (--storage)."""
        return RunnerLock(self.paths, self.study, heartbeats=self.prepared.shared,
                          record=self.prepared.options.storage is not None)

    def _drive(self, lock: RunnerLock) -> None:
        """Run the executor's slots: here for one, in a thread each for several."""
        if self.executor.slots == 1:
            self._serve(0, lock)
            return
        threads = [threading.Thread(target=self._serve_or_stop, args=(slot, lock),
                                    name=f"automl-slot-{slot}", daemon=True)
                   for slot in range(self.executor.slots)]
        for thread in threads:
            thread.start()
        try:
            while any(t.is_alive() for t in threads):
                for thread in threads:
                    thread.join(0.2)
        except KeyboardInterrupt:
            self.reason = RunEnd.INTERRUPTED
            self.stop_event.set()
            self.executor.interrupt()  # the running trials are lost, failed and queued
            for thread in threads:
                thread.join()
            raise StudyInterrupted(self._interrupted_text(self.reason)) from None

    def _serve_or_stop(self, slot: int, lock: RunnerLock) -> None:
        try:
            self._serve(slot, lock)
        except BaseException as exc:  # a setup error, a fatal trial: stop the study with it
            with self._mutex:
                if self._fatal is None and not self.stop_event.is_set():
                    self._fatal = exc
                self.stop_event.set()

    def _serve(self, slot: int, lock: RunnerLock) -> None:
        """One slot: trial after trial until the study needs no more of it."""
        if not self.executor.prepare(slot):
            return
        while (trial := self._next_trial(lock)) is not None:
            try:
                outcome = self.executor.run(trial, slot)
            except TrialLost as lost:
                # an interrupt shuts the workers down: their trials are lost to it
                cut = self.reason if self.stop_event.is_set() and self.reason else lost.cut
                if cut is RunEnd.DISK_FULL:
                    self._out_of_space(trial, lock, lost.said)
                self._lost(trial, lost.why if cut is None else str(cut), cut, lock, lost.said)
                if lost.hung and cut is None:
                    self._hung_again(lost.said)
                if lost.stops_study:
                    self.reason = lost.cut or RunEnd.STOPPED
                    raise StudyInterrupted(self._interrupted_text(self.reason)) from None
                if self.stop_event.is_set() or not self.executor.replace(slot):
                    return
                continue
            self._finished(trial, outcome, lock)

    def _hung_again(self, said: str) -> None:
        """One more trial in a row whose worker never answered: a cell that hangs every time
        (each attempt, then each new draw) stops the study at ``max_failures`` of them, the
        trial queued to resume."""
        with self._mutex:
            self._hung += 1
            hung = self._hung
        if hung >= self.prepared.options.max_failures:
            raise TooManyFailuresError(
                f"{hung} trials in a row did not answer within --trial-timeout; the last: "
                f"{said}\nFix the cell (or give it a longer --trial-timeout) and rerun it: the "
                f"{self.done} finished trials are kept.")

    def _ending(self) -> RunEnd:
        """Why the run ended, once every slot has."""
        if self._fatal is not None:
            raise self._fatal
        if self.stop_event.is_set():
            return RunEnd.STOPPED
        self._count_trials()
        if self.schedule.finished if self.schedule is not None else self._total_reached():
            return RunEnd.FINISHED
        timeout = self.prepared.options.timeout
        return RunEnd.TIMEOUT if timeout is not None and self.elapsed >= timeout \
            else RunEnd.ELSEWHERE

    # -- the steps of a slot -------------------------------------------------------------------
    def _next_trial(self, lock: RunnerLock) -> optuna.Trial | None:
        """The next trial to run, or None when the study needs no more (total reached or
        running elsewhere, timeout, Stop)."""
        with self._mutex:
            if self.should_end():
                return None
            if self.schedule is not None:
                trial = self.schedule.next_trial(self, lock)
                if trial is None:
                    return None
            elif self._why_no_more_trials(lock) is not None:
                return None
            else:
                trial = self.study.ask()
            try:
                lock.claim(trial)
            except OSError as exc:
                if disk_full(exc) is None:
                    raise
                self._out_of_space(trial, lock, f"{exc} (the runner's lock file "
                                                f"'{lock.path}', claiming trial {trial.number})")
            self._emit("trial_started", trial)
            return trial

    def _finished(self, trial: optuna.Trial, outcome: Outcome, lock: RunnerLock) -> None:
        from optuna.trial import TrialState

        with self._mutex:
            failpoint("trial.tell")
            self._tell(trial, outcome)
            failpoint("trial.told")
            lock.release_trial(trial.number)
            if self.backups is not None:
                self.backups.maybe()
            self._emit("trial_finished", trial, outcome)
            failed = outcome.state == TrialState.FAIL and not outcome.taken
            self._failures = self._failures + 1 if failed else 0
            self._hung = 0
            self._changed.notify_all()
            if outcome.fatal is not None:
                raise outcome.fatal
            if self._failures >= self.prepared.options.max_failures:
                raise TooManyFailuresError(
                    f"{self._failures} trials in a row failed; the last one with:\n"
                    f"{outcome.error}\nFix the cell (%%automl --check runs one short trial) "
                    f"and rerun it: the {self.done} finished trials are kept.")

    def _lost(self, trial: optuna.Trial, why: str, cut: RunEnd | None, lock: RunnerLock,
              said: str) -> None:
        """A trial that ended without an outcome (``why``; ``cut`` short by Stop or an
        interrupt): failed, and queued to resume from its checkpoint (unless it has used up
        its attempts)."""
        import optuna
        from optuna.trial import TrialState

        with self._mutex:
            self._changed.notify_all()
            stored = _optuna.frozen(self.study, trial)
            if stored.state.is_finished():
                lock.release_trial(trial.number)
                return  # told, or taken over by another runner, meanwhile
            try:
                retried = fail_and_retry(self.study, stored, self.paths, reason=why)
            except optuna.exceptions.UpdateFinishedTrialError:
                lock.release_trial(trial.number)
                return
            # released once the storage has it failed and queued: if that raised (its disk
            # full, its server gone), the lock file still claims the trial, and the next
            # runner finds it orphaned
            lock.release_trial(trial.number)
            self.counts[TrialState.FAIL] += 1
            self._emit("trial_lost", trial, why)
            self._failures += 1  # a cell that hangs every time must not loop for ever
            if self.stop_event.is_set() or cut is not None:
                self._lost_now.append(trial.number)
            else:
                again = "queued to resume from its checkpoint" if retried else "not retried"
                print(f"trial {trial.number} lost: {said}; the trial is {again}; "
                      f"{self.executor.restart_text}")

    def _out_of_space(self, trial: optuna.Trial, lock: RunnerLock, said: str) -> NoReturn:
        """A write of the study's found its disk full (``said``): the trial failed and queued
        to resume from its last checkpoint where the storage can still record that (else the
        next run finds it orphaned and does), the run stopped, and the error says how much
        space to free."""
        self.stop_event.set()
        self.reason = RunEnd.DISK_FULL
        try:
            self._lost(trial, str(RunEnd.DISK_FULL), RunEnd.DISK_FULL, lock, said)
        except Exception:  # noqa: BLE001 - study.db's disk is the full one: the next run
            self._lost_now.append(trial.number)  # finds the trial's runner gone, and retries it
        full = disk_full_text(self.paths.trials, self.paths.space_needed())
        raise DiskFullError(f"{said}\n{full}. {self._interrupted_text(RunEnd.DISK_FULL)}") \
            from None

    def _interrupted_text(self, reason: RunEnd) -> str:
        """``study 'digits' interrupted: 7/40 trials finished, trial 7 was checkpointed at
        epoch 3 and will resume from there. Rerun the cell to resume.``"""
        text = f"study {self.name!r} {reason}: {self.done}/{self.total} trials finished"
        saved = {n: len(self.paths.read_state(n).get("history", [])) for n in self._lost_now}
        # a checkpoint inside the first epoch (--checkpoint-every) has no epoch in its history
        resumed = sorted(n for n in saved if saved[n] or self.paths.checkpoint(n).exists())
        where = {n: f" at epoch {saved[n]}" if saved[n] else "" for n in resumed}
        if self.prepared.options.executions > 1:  # which execution; not a finished one's
            places = {n: checkpoint_text(self.paths.read_state(n), _optuna.trial_by_number(
                self.study, n).user_attrs, self.prepared.options.executions) for n in resumed}
            where = {n: place for n, place in places.items() if place is not None}
            resumed = sorted(where)
        fresh = sorted(n for n in saved if n not in resumed)
        if len(resumed) == 1:
            text += (f", trial {resumed[0]} was checkpointed{where[resumed[0]]} and will resume "
                     "from there")
        elif resumed:
            text += (f", trials {', '.join(map(str, resumed))} were checkpointed and will "
                     "resume from there")
        if fresh:
            several = len(fresh) > 1
            text += (f", trial{'s' * several} {', '.join(map(str, fresh))} "
                     f"{'have' if several else 'has'} no checkpoint yet and will start again")
        return text + ". Rerun the cell to resume."

    # -- for a schedule (PBT) -------------------------------------------------------------------
    def should_end(self) -> bool:
        """Stop was asked, or --timeout has passed: no new trial starts."""
        timeout = self.prepared.options.timeout
        return self.stop_event.is_set() or (timeout is not None and self.elapsed >= timeout)

    def refresh_counts(self, lock: RunnerLock) -> None:
        """The study's counts from its storage; the trials of dead runners failed and queued
        (a runner waiting for a PBT generation waits on them)."""
        if time.monotonic() - self._recovered_at > heartbeat_interval():
            self._recover(lock)
        self._count_trials()

    def wait_for_change(self, seconds: float = 0.5) -> None:
        """Wait (the slots' lock released) until a trial ends here, or ``seconds`` pass (for
        the trials of other processes)."""
        self._changed.wait(seconds)

    def set_total(self, total: int) -> None:
        """The study's total, once it is known (PBT: the population x its generations)."""
        self.total = total
        self.paths.write_spec({**self.paths.read_spec(), "trials": total})

    # -- the study's figures, from its storage -----------------------------------------------
    def _why_no_more_trials(self, lock: RunnerLock) -> RunEnd | None:
        """None while this runner should ask for another trial, else why it should not
        (``FINISHED``, or ``ELSEWHERE``: the rest of the total runs in other processes).

        The study's total counts every runner's trials (read from the storage before each
        trial, as Optuna's ``MaxTrialsCallback`` does): a runner asks for one only while the
        finished and running trials leave room for it. With --darts, a running search keeps
        room for its retrain, and a queued retrain runs even past the total. If the rest is
        running elsewhere, the runners of those trials are checked first: the trials of dead
        ones are retried here.
        """
        if lock.heartbeats and time.monotonic() - self._recovered_at > heartbeat_interval():
            self._recover(lock)
        self._count_trials(best=self._edited())
        queued, searching = self._retrains_owed()
        if queued:
            return None  # a --darts search's retrain: it runs, even past the total
        if self.done + self.in_flight + searching >= self.total and self._reruns_queued():
            return None  # a trial queued by %automl rerun: it runs, even past the total
        if self.done >= self.total and not searching:
            return RunEnd.FINISHED
        if self.done + self.in_flight + searching < self.total:
            return None
        if self._recover(lock):
            self._count_trials()
            queued, searching = self._retrains_owed()
            if queued or self.done + self.in_flight + searching < self.total:
                return None
        return RunEnd.ELSEWHERE

    def _retrains_owed(self) -> tuple[int, int]:
        """With --darts, the retrains its searches are owed: (queued, not queued yet because
        the search is still running); (0, 0) otherwise."""
        if not self.prepared.options.darts:
            return 0, 0
        return retrains_owed(self.study.get_trials(deepcopy=False))

    def _edited(self) -> bool:
        """Whether a trial was discarded, or a discard taken back, since this runner last
        looked (``%automl discard`` touches the study's ``edits.stamp``): its counts and best
        are then read from the storage again. A file's time per trial, not a query."""
        stamp = self.paths.edits_stamp()
        if stamp == self._edits_seen:
            return False
        self._edits_seen = stamp
        self._alone = False  # the next census reads the storage, even alone on the study
        return True

    def _reruns_queued(self) -> bool:
        """Whether ``%automl rerun`` queued a trial that has not started yet. Read only where
        the total would end the run: a query then, not one per trial."""
        from optuna.trial import TrialState

        return any(RERUN_OF in t.user_attrs for t in self.study.get_trials(
            deepcopy=False, states=(TrialState.WAITING,)))

    def _total_reached(self) -> bool:
        """The study's total is reached, every --darts search has had its retrain, and no
        rerun is queued."""
        return self.done >= self.total and self._retrains_owed() == (0, 0) \
            and not self._reruns_queued()

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

    def _count_trials(self, best: bool = False) -> None:
        """The study's trials by state, as the storage has them now (every runner's); the
        best too at the first census, or with ``best`` (a trial edited by hand).

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
        from optuna.trial import TrialState

        states = _optuna.state_counts(self.study)
        first = not self.counts
        self.counts = Counter({k: states.get(k, 0) for k in (
            TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)})
        self.in_flight = states.get(TrialState.RUNNING, 0)
        if first or best:
            if best:  # the trial edited is cached as it was
                _optuna.reread(self.study)
            self.front, self.best_text = [], ""
            for trial in own_best_trials(self.study):
                self._final_seen = self.schedule is not None and is_final(self.study, trial)
                self._note_values(trial.number, list(trial.values))

    # -- telling -------------------------------------------------------------------------------
    def _tell(self, trial: optuna.Trial, outcome: Outcome) -> None:
        """Record the outcome on the trial; a trial another runner has meanwhile failed (it
        took this runner for dead) is left as it is, and the run goes on."""
        import optuna
        from optuna.trial import TrialState

        if self._edited():  # read before this trial is told: its count is added below
            self._count_trials(best=True)
        try:
            if not outcome.taken:
                self._record(trial, outcome)
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            if not _optuna.frozen(self.study, trial).state.is_finished():
                raise
            outcome.taken = True
        if outcome.taken:
            self._taken_over(trial, outcome)
            return
        self.counts[outcome.state] += 1
        if outcome.state != TrialState.FAIL:
            self.finished_here += 1
        if outcome.values is not None and self._counts_as_best(trial):
            self._note_values(trial.number, outcome.values)
        elif outcome.values is not None and self.prepared.options.constraints and \
                not self.front:
            self.best_text = "no feasible trial yet"

    def _counts_as_best(self, trial: optuna.Trial) -> bool:
        """Whether ``trial`` may be the best: in a PBT study, once a member's final generation
        has finished, only final generations are (the best model is a trained member); a
        --darts search never is (its model mixes every option), nor a trial that misses a
        --constraint."""
        options = self.prepared.options
        # read from the storage: a worker kernel marks its search and records its constraints
        # there, and this process's ``trial`` keeps the attributes it had when it was asked
        stored = _optuna.frozen(self.study, trial) if options.darts or options.constraints \
            else None
        if options.darts and stored.user_attrs.get(SUPERNET):  # type: ignore[union-attr]
            return False
        if options.constraints and not is_feasible(stored.constraints):  # type: ignore[union-attr]
            return False
        if self.schedule is None:
            return True
        if is_final(self.study, trial):
            if not self._final_seen:
                self._final_seen, self.front = True, []
            return True
        return not self._final_seen

    def _record(self, trial: optuna.Trial, outcome: Outcome) -> None:
        from optuna.trial import TrialState

        if outcome.state == TrialState.FAIL and outcome.error:
            trial.set_user_attr("error", outcome.error[-4000:])
        resumed = outcome.fit.resumed_at if outcome.fit is not None \
            else outcome.extra.get("resumed_at")
        if resumed:
            trial.set_user_attr("resumed_at_epoch", resumed)
        if "kernel" in outcome.extra:  # the worker kernel that ran it
            trial.set_user_attr("kernel", outcome.extra["kernel"])
        _optuna.tell(self.study, trial, outcome.values if outcome.state == TrialState.COMPLETE
                     else None, outcome.state)
        if outcome.state == TrialState.FAIL and outcome.fatal is None:
            print(f"trial {trial.number} failed:\n{outcome.error}", file=sys.stderr)

    def _taken_over(self, trial: optuna.Trial, outcome: Outcome) -> None:
        """The trial ran here while another runner took this one for dead and failed it."""
        stored = _optuna.frozen(self.study, trial)
        why = stored.user_attrs.get(LOST, "another runner ended it")
        outcome.state, outcome.values = stored.state, None
        outcome.error = (f"trial {trial.number} was taken over while it ran here: another "
                         f"runner of the study found it {stored.state.name} ({why}) and queued "
                         "its retry. Its result here is dropped; this run goes on with the "
                         "next trial.")
        print(outcome.error, file=sys.stderr)

    def _note_values(self, number: int, values: list[float]) -> None:
        directions = signs(self.prepared.options.directions)
        self.front = pareto_front([*self.front, (number, values)], directions)
        if len(directions) > 1:
            self.best_text = front_text(len(self.front))
        else:
            metric = self.prepared.objectives[0].metric
            self.best_text = f"best {metric + ' ' if metric else ''}{self.front[0][1][0]:.6g}"

    # -- listeners -----------------------------------------------------------------------------
    def epoch_ended(self, fit: TrialFit) -> None:
        self._emit("epoch_ended", fit)

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
        """The study's finished trials, its --warm-start observations left out."""
        from optuna.trial import TrialState

        return self.counts[TrialState.COMPLETE] + self.counts[TrialState.PRUNED] \
            - self.prepared.warm

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def eta(self) -> float | None:
        return eta(self.elapsed, self.finished_here, self.total - self.done)
