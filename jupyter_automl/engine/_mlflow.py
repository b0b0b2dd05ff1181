"""MLflow for a study (``--mlflow [URI]``): each trial an MLflow run of the experiment named
after the study, with its parameters, its per-epoch metrics (step = epoch), its result
(``objective/<metric>``), its state (the run's status, and ``automl.state``) and tags naming the
study and the trial; the best model (``best/model.keras``) an artifact of the best trial's run.

A retried trial (its kernel died, Stop, an interrupt) continues the run of the trial it retries
(the run's id is kept in the trial's ``mlflow_run_id`` attribute), logging the epochs after those
already there. The server is asked before the first trial whether it answers and takes the
credentials, which MLflow reads from its own environment (``MLFLOW_TRACKING_TOKEN``,
``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``): never from the option line, never logged. Why
this is a listener writing from the notebook: ``_tracking.py``.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from .. import _optuna
from ..errors import TrackingError
from ..runs import LOST, redact
from ._events import Listener, Outcome
from ._tracking import (
    epochs_after,
    first_execution,
    params_of,
    result_metrics,
    trial_epochs,
)

if TYPE_CHECKING:
    import optuna

    from ..training import TrialFit
    from ._events import RunEnd, RunView

RUN_ID = "mlflow_run_id"  # the trial attribute holding its MLflow run's id
STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
HEALTH_TIMEOUT = 10.0  # seconds the server has to answer /health before the first trial
CREDENTIALS = ("set MLflow's credentials in the kernel's environment (MLFLOW_TRACKING_TOKEN, or "
               "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD), never on the option "
               "line")


def check_server(uri: str) -> None:
    """An http(s) tracking server must answer ``/health`` now (MLflow's own client retries a
    server that does not answer for minutes): a :class:`TrackingError` saying so, else."""
    if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
        return  # a folder, a database: MLflow opens it itself
    shown = redact(uri)
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health",  # noqa: S310 - http(s) only
                                    timeout=HEALTH_TIMEOUT):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise TrackingError(f"--mlflow: the MLflow server {shown} refused the credentials "
                                f"(HTTP {exc.code}): {CREDENTIALS}") from None
        raise TrackingError(f"--mlflow: {shown} answered /health with HTTP {exc.code}; is it "
                            "an MLflow tracking server? Fix --mlflow (or MLFLOW_TRACKING_URI). "
                            "No trial has started.") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: a bad URL
        reason = getattr(exc, "reason", exc)
        raise TrackingError(f"--mlflow: the MLflow tracking server {shown} does not answer "
                            f"({reason}). Start it (mlflow server --host 127.0.0.1 --port 5000) "
                            "or fix --mlflow / MLFLOW_TRACKING_URI. No trial has started.") \
            from None


def _refused(exc: Exception) -> bool:
    code = str(getattr(exc, "error_code", ""))
    return code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or "401" in str(exc) \
        or "403" in str(exc)


class MlflowRuns(Listener):
    """Logs each trial of the study as a run of one MLflow experiment."""

    title = "the MLflow logger"

    def __init__(self, client: Any, uri: str, experiment_id: str) -> None:
        self.client = client
        self.uri = uri
        self.experiment_id = experiment_id
        self._runs: dict[int, str] = {}  # trial -> its run's id
        self._logged: dict[int, int] = {}  # trial -> the last epoch its run has
        self._params: dict[int, set[str]] = {}  # trial -> the params its run has

    @classmethod
    def connect(cls, uri: str, experiment: str) -> MlflowRuns:
        """The MLflow experiment ``experiment`` on the tracking server ``uri`` ("" for
        MLFLOW_TRACKING_URI's), created if new; a :class:`TrackingError` if it cannot be used."""
        uri = uri or os.environ.get("MLFLOW_TRACKING_URI", "")
        if not uri:
            raise TrackingError("--mlflow without a URI logs to MLFLOW_TRACKING_URI, which is "
                                "not set: give --mlflow http://HOST:5000, or set it")
        check_server(uri)
        # MLflow prints a "View run" link for each run it ends: one line of ours says where
        # the experiment is instead (a user who set the variable keeps their choice)
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=uri)
        try:
            found = client.get_experiment_by_name(experiment)
            if found is None:
                experiment_id = client.create_experiment(experiment,
                                                         tags={"automl.study": experiment})
            elif found.lifecycle_stage == "deleted":
                raise TrackingError(
                    f"--mlflow: the MLflow experiment {experiment!r} is deleted on "
                    f"{redact(uri)}: restore it (mlflow experiments restore --experiment-id "
                    f"{found.experiment_id}) or name another with --mlflow-experiment")
            else:
                experiment_id = found.experiment_id
        except MlflowException as exc:
            if _refused(exc):
                raise TrackingError(f"--mlflow: the MLflow server {redact(uri)} refused the "
                                    f"credentials: {CREDENTIALS}") from None
            raise TrackingError(f"--mlflow: the MLflow experiment {experiment!r} on "
                                f"{redact(uri)} cannot be used: {exc.message}") from None
        print(f"jupyter-automl: logging the trials to MLflow at {redact(uri)}, experiment "
              f"{experiment!r} (id {experiment_id})", file=sys.stderr)
        return cls(client, uri, experiment_id)

    # -- the hooks -----------------------------------------------------------------------------
    def study_started(self, run: RunView) -> None:
        """The runs of trials whose process died with them (failed since by the recovery)
        still say RUNNING: ended now, as failures (a retry opens its run again)."""
        from optuna.trial import TrialState

        for trial in run.study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
            run_id = trial.user_attrs.get(RUN_ID)
            if run_id is None or LOST not in trial.user_attrs \
                    or self.client.get_run(run_id).info.status != "RUNNING":
                continue
            lost = str(trial.user_attrs.get(LOST, "its process died"))
            self._tag(run_id, {"automl.state": "FAIL", "automl.lost": lost})
            self.client.set_terminated(run_id, status="FAILED")

    def trial_started(self, run: RunView, trial: optuna.Trial) -> None:
        number = trial.number
        tags = {"automl.study": run.name, "automl.trial": str(number),
                "automl.state": "RUNNING"}
        run_id = self._retried_run(run, trial)
        if run_id is not None:  # the retry goes on in the run of the trial it retries
            self.client.update_run(run_id, status="RUNNING")
            history = self.client.get_run(run_id).data
            if "automl.lost" in history.tags:  # the attempt's, said by automl.retry_of now
                self.client.delete_tag(run_id, "automl.lost")
            self._params[number] = set(history.params)
            self._logged[number] = self._last_step(run_id, history.metrics)
            self._tag(run_id, {**tags, "automl.retry_of": str(trial.user_attrs["retry_of"])})
        else:
            created = self.client.create_run(self.experiment_id, run_name=f"trial-{number:03d}",
                                             tags=tags)
            run_id = created.info.run_id
            self._params[number], self._logged[number] = set(), 0
        self._runs[number] = run_id
        trial.set_user_attr(RUN_ID, run_id)

    def epoch_ended(self, run: RunView, fit: TrialFit) -> None:
        number = fit.trial.number
        if number not in self._runs or not fit.history or not first_execution(fit):
            return
        after = max(self._logged[number], int(fit.resumed_at or 0))
        self._log_params(number, dict(fit.trial.params))
        self._log_epochs(number, epochs_after(fit.history[-1:], after))

    def trial_finished(self, run: RunView, trial: optuna.Trial, outcome: Outcome) -> None:
        number = trial.number
        run_id = self._runs.get(number)
        if run_id is None:
            return
        history, resumed = trial_epochs(run, trial, outcome)
        self._log_params(number, params_of(run, trial))
        self._log_epochs(number, epochs_after(history, max(self._logged[number], resumed)))
        last = int(history[-1].get("epoch", 0)) if history else 0
        self._log_metrics(run_id, result_metrics(run, outcome.values), last)
        state = outcome.state.name
        tags = {"automl.state": state}
        if state == "PRUNED":
            tags["automl.pruned"] = "true"
        if outcome.error:
            tags["automl.error"] = outcome.error[-4000:]
        if "kernel" in outcome.extra:
            tags["automl.kernel"] = str(outcome.extra["kernel"])
        self._tag(run_id, tags)
        self.client.set_terminated(run_id, status=STATUS.get(state, "FAILED"))
        self._forget(number)

    def trial_lost(self, run: RunView, trial: optuna.Trial, why: str) -> None:
        run_id = self._runs.get(trial.number)
        if run_id is None:
            return
        self._tag(run_id, {"automl.state": "FAIL", "automl.lost": why})
        cut = why in ("stopped", "interrupted")
        self.client.set_terminated(run_id, status="KILLED" if cut else "FAILED")
        self._forget(trial.number)

    def study_finished(self, run: RunView, reason: RunEnd) -> None:
        """The best model, an artifact of its trial's run (each Pareto-front trial's, with
        several objectives), tagged ``automl.best``."""
        several = len(run.prepared.options.directions) > 1
        best: set[str] = set()
        for number, _ in run.front:
            run_id = _optuna.trial_by_number(run.study, number).user_attrs.get(RUN_ID)
            model = run.paths.best_model(number if several else None)
            if run_id is None or not model.exists():
                continue  # a trial logged before --mlflow was given
            self.client.log_artifact(run_id, str(model), artifact_path="model")
            if run.paths.best_params.exists():
                self.client.log_artifact(run_id, str(run.paths.best_params),
                                         artifact_path="model")
            self.client.set_tag(run_id, "automl.best", "true")
            best.add(run_id)
        study = run.name.replace("'", "")
        for old in self.client.search_runs(
                [self.experiment_id], f"tags.`automl.study` = '{study}' and "
                                      "tags.`automl.best` = 'true'"):
            if old.info.run_id not in best:
                self.client.delete_tag(old.info.run_id, "automl.best")

    # -- logging -------------------------------------------------------------------------------
    def _retried_run(self, run: RunView, trial: optuna.Trial) -> str | None:
        """The run of the trial ``trial`` retries (if that one was logged)."""
        source = trial.user_attrs.get("retry_of")
        if source is None:
            return None
        attrs = _optuna.trial_by_number(run.study, int(source)).user_attrs
        run_id = attrs.get(RUN_ID)
        return None if run_id is None else str(run_id)

    def _last_step(self, run_id: str, metrics: dict[str, float]) -> int:
        steps = [m.step for key in metrics if not key.startswith("objective/")
                 for m in self.client.get_metric_history(run_id, key)[-1:]]
        return max(steps, default=0)

    def _log_params(self, number: int, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        new = {k: v for k, v in params.items() if k not in self._params[number]}
        if new:
            self.client.log_batch(self._runs[number],
                                  params=[Param(k, str(v)[:6000]) for k, v in new.items()])
            self._params[number].update(new)

    def _log_epochs(self, number: int, epochs: list[tuple[int, dict[str, float]]]) -> None:
        for step, logs in epochs:
            self._log_metrics(self._runs[number], logs, step)
            self._logged[number] = step

    def _log_metrics(self, run_id: str, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        if values:
            now = int(time.time() * 1000)
            self.client.log_batch(run_id, metrics=[Metric(k, v, now, step)
                                                   for k, v in values.items()])

    def _tag(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def _forget(self, number: int) -> None:
        for kept in (self._runs, self._logged, self._params):
            kept.pop(number, None)
