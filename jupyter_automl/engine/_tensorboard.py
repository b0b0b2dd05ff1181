"""TensorBoard for a study: each trial's per-epoch curves in its own run folder, and the HParams
plugin's records (the experiment's parameters and metrics; each trial's parameter values,
state and result), so that TensorBoard's HParams dashboard shows the whole study.

Two ways in. ``--tensorboard [DIR]``: the curves are written here, from the runner's events, to
``DIR/trial-N/train`` and ``DIR/trial-N/validation`` (the layout of Keras's own callback: ``loss``
as ``epoch_loss``, ``val_loss`` as ``epoch_loss`` of ``validation``). A
``keras.callbacks.TensorBoard`` in the cell's ``fit``: the fit hook gives each trial a
subfolder ``trial-N`` of the callback's ``log_dir`` (``training/_fit.py``), Keras writes the
curves there, and the records are written beside them here. Why from the notebook:
``_tracking.py``.

The files are written with TensorBoard's own record format and protos, not through TensorFlow:
the notebook need not load TensorFlow (its trials may run on worker kernels).
"""

from __future__ import annotations

import itertools
import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..training import MEASURES
from ..training import trial_log_folder as trial_folder
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

EXPERIMENT = ".automl-experiment"  # the suffix of the file holding the experiment's config
SESSION = ".automl-session"  # the suffix of a trial's HParams records (written once it ended)
STATE = "trial_state"  # the hparam that says the trial's Optuna state
_count = itertools.count()


def curve_tag(key: str) -> tuple[str, str]:
    """Where Keras's callback puts a log key: (tag, the trial's subfolder)."""
    if key.startswith("val_"):
        return f"epoch_{key[4:]}", "validation"
    return f"epoch_{key}", "train"


class EventFile:
    """One event file of TensorBoard's format, written synchronously (each event flushed)."""

    def __init__(self, folder: Path, suffix: str = ".automl") -> None:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        folder.mkdir(parents=True, exist_ok=True)
        name = (f"events.out.tfevents.{time.time():010.0f}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_count)}{suffix}")
        self.path = folder / name
        self._event = event_pb2.Event
        self._writer = RecordWriter(open(self.path, "wb"))  # noqa: SIM115 - closed in close()
        self.write(self._event(wall_time=time.time(), file_version="brain.Event:2"))

    def write(self, event: Any) -> None:
        self._writer.write(event.SerializeToString())
        self._writer.flush()

    def summary(self, summary: Any, step: int = 0) -> None:
        self.write(self._event(wall_time=time.time(), step=step, summary=summary))

    def scalars(self, values: dict[str, float], step: int) -> None:
        from tensorboard.compat.proto import summary_pb2

        self.summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=k, simple_value=v)
                                                for k, v in values.items()]), step)

    def close(self) -> None:
        self._writer.close()


def _hparams_summary(tag: str, **data: Any) -> Any:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    content = plugin_data_pb2.HParamsPluginData(**data)
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(content),
                      tensor=metadata.NULL_TENSOR)
    return summary


def session_start(params: dict[str, Any], group: str, started: float) -> Any:
    """The HParams record of a trial's parameters (``group``: its name in the dashboard)."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionStartInfo(group_name=group, start_time_secs=started)
    for name, value in sorted(params.items()):
        if isinstance(value, bool) or value is None:
            info.hparams[name].string_value = str(value)
        elif isinstance(value, (int, float)):
            info.hparams[name].number_value = float(value)
        else:
            info.hparams[name].string_value = str(value)
    return _hparams_summary(metadata.SESSION_START_INFO_TAG, session_start_info=info)


def session_end(state: str) -> Any:
    """The HParams record of how a trial ended: COMPLETE is a success, FAIL (or lost) a
    failure; PRUNED has no status of its own in TensorBoard (unknown), its ``trial_state``
    hparam says it."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    status = {"COMPLETE": api_pb2.STATUS_SUCCESS, "FAIL": api_pb2.STATUS_FAILURE}.get(
        state, api_pb2.STATUS_UNKNOWN)
    info = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=time.time())
    return _hparams_summary(metadata.SESSION_END_INFO_TAG, session_end_info=info)


def experiment(hparams: dict[str, Any], metrics: list[tuple[str, str]]) -> Any:
    """The HParams record of the experiment: each parameter's domain (``hparam_domains``) and
    the metrics (tag, the trial's subfolder holding it: "" for the trial's own)."""
    from tensorboard.plugins.hparams import api_pb2, metadata

    infos = []
    for name, domain in sorted(hparams.items()):
        info = api_pb2.HParamInfo(name=name)
        if domain[0] == "interval":
            info.type = api_pb2.DATA_TYPE_FLOAT64
            info.domain_interval.min_value, info.domain_interval.max_value = domain[1:]
        else:
            values = domain[1]
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          for v in values)
            info.type = api_pb2.DATA_TYPE_FLOAT64 if numbers else api_pb2.DATA_TYPE_STRING
            info.domain_discrete.extend(float(v) if numbers else str(v) for v in values)
        infos.append(info)
    metric_infos = [api_pb2.MetricInfo(name=api_pb2.MetricName(group=group, tag=tag))
                    for tag, group in sorted(set(metrics))]
    return _hparams_summary(metadata.EXPERIMENT_TAG, experiment=api_pb2.Experiment(
        hparam_infos=infos, metric_infos=metric_infos, time_created_secs=time.time()))


def hparam_domains(run: RunView) -> dict[str, Any]:
    """Each parameter's domain: the cell's space (as the study's spec recorded it), widened by
    what the study's trials drew (a parameter the source could not read, a saved space)."""
    from optuna.distributions import CategoricalDistribution

    domains: dict[str, Any] = {}
    for spec in run.paths.read_spec().get("space") or []:
        kind, name = spec.get("kind"), spec.get("name")
        if kind in ("int", "float") and spec.get("low") is not None:
            domains[name] = ("interval", float(spec["low"]), float(spec["high"]))
        elif kind == "choice" and spec.get("choices"):
            domains[name] = ("discrete", list(spec["choices"]))
        elif kind == "bool":
            domains[name] = ("discrete", ["False", "True"])
    for trial in run.study.get_trials(deepcopy=False):
        for name, dist in trial.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                old = domains.get(name, ("discrete", []))[1]
                values = [str(v) if isinstance(v, bool) or v is None else v
                          for v in dist.choices]
                domains[name] = ("discrete", list(dict.fromkeys([*old, *values])))
            else:
                low, high = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
                if name in domains and domains[name][0] == "interval":
                    low, high = min(low, domains[name][1]), max(high, domains[name][2])
                domains[name] = ("interval", low, high)
    domains[STATE] = ("discrete", ["COMPLETE", "PRUNED", "FAIL"])
    return domains


class TensorBoardRecords(Listener):
    """Writes the study's TensorBoard curves (``folder``, with ``--tensorboard``) and the
    HParams records (there, and beside any TensorBoard callback's per-trial folders)."""

    title = "the TensorBoard writer"

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder.absolute() if folder is not None else None
        self._written: dict[int, int] = {}  # trial -> its last epoch written
        self._files: dict[tuple[int, str], EventFile] = {}  # (trial, subfolder) -> open file
        self._started: dict[int, float] = {}
        self._elsewhere: set[Path] = set()  # callbacks' folders not on this machine (said once)
        self._metrics: dict[Path, set[tuple[str, str]]] = {}  # root -> (tag, subfolder) seen
        if self.folder is not None:
            self._metrics[self.folder] = set()

    def study_started(self, run: RunView) -> None:
        if self.folder is not None:
            self._metrics[self.folder].update(self._objective_tags(run))
            self._close_dead(run, self.folder)
            self._write_experiment(run, self.folder)

    def trial_started(self, run: RunView, trial: optuna.Trial) -> None:
        self._started[trial.number] = time.time()

    def epoch_ended(self, run: RunView, fit: TrialFit) -> None:
        if self.folder is None or not fit.history or not first_execution(fit):
            return
        number = fit.trial.number
        after = max(self._written.get(number, 0), int(fit.resumed_at or 0))
        self._write_epochs(number, epochs_after(fit.history[-1:], after))

    def trial_finished(self, run: RunView, trial: optuna.Trial, outcome: Outcome) -> None:
        history, resumed = trial_epochs(run, trial, outcome)
        new = [root for root in self._callback_roots(trial, outcome) if root not in self._metrics]
        roots = self._callback_roots(trial, outcome)
        curves = {curve_tag(k) for logs in history for k in logs if k != "epoch"}
        for root in roots:  # Keras's callback wrote these curves there
            self._metrics.setdefault(root, set()).update(curves)
        if self.folder is not None:
            after = max(self._written.get(trial.number, 0), resumed)
            self._write_epochs(trial.number, epochs_after(history, after))
            roots.insert(0, self.folder)
        last = int(history[-1].get("epoch", 0)) if history else 0
        values = result_metrics(run, outcome.values)
        for root in roots:
            self._record_session(run, trial, root, outcome.state.name, values, last)
        for root in new:  # the config at once, for a TensorBoard already watching
            self._write_experiment(run, root)
        self._close(trial.number)

    def trial_lost(self, run: RunView, trial: optuna.Trial, why: str) -> None:
        """A trial cut short (its kernel died, Stop, an interrupt): a failure; its retry,
        another trial, writes the epochs after its checkpoint."""
        if self.folder is not None:
            self._record_session(run, trial, self.folder, "FAIL", {}, 0)
        self._close(trial.number)

    def study_finished(self, run: RunView, reason: RunEnd) -> None:
        for number in list({n for n, _ in self._files}):
            self._close(number)
        for root in self._metrics:
            self._write_experiment(run, root)

    # -- writing ---------------------------------------------------------------------------
    def _write_epochs(self, number: int, epochs: list[tuple[int, dict[str, float]]]) -> None:
        assert self.folder is not None
        for step, logs in epochs:
            groups: dict[str, dict[str, float]] = {}
            for key, value in logs.items():
                tag, group = curve_tag(key)
                groups.setdefault(group, {})[tag] = value
                self._metrics[self.folder].add((tag, group))
            for group, values in groups.items():
                self._file(number, group).scalars(values, step)
            self._written[number] = step

    def _file(self, number: int, group: str) -> EventFile:
        if (number, group) not in self._files:
            assert self.folder is not None
            self._files[number, group] = EventFile(self.folder / trial_folder(number) / group)
        return self._files[number, group]

    def _record_session(self, run: RunView, trial: optuna.Trial, root: Path, state: str,
                        values: dict[str, float], step: int) -> None:
        params = {**params_of(run, trial), STATE: state}
        file = EventFile(root / trial_folder(trial.number), SESSION)
        try:
            started = self._started.get(trial.number, time.time())
            file.summary(session_start(params, trial_folder(trial.number), started))
            if values:
                file.scalars(values, step)
            file.summary(session_end(state), step)
        finally:
            file.close()
        self._metrics.setdefault(root, set()).update((tag, "") for tag in values)

    def _close_dead(self, run: RunView, root: Path) -> None:
        """The trials whose process died with them (failed since by the recovery): their
        curves are there, their records not yet; written now, as failures."""
        from optuna.trial import TrialState

        for trial in run.study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
            folder = root / trial_folder(trial.number)
            if folder.is_dir() and not any(folder.glob(f"*{SESSION}")):
                self._record_session(run, trial, root, "FAIL", {}, 0)  # type: ignore[arg-type]

    def _close(self, number: int) -> None:
        for key in [k for k in self._files if k[0] == number]:
            self._files.pop(key).close()

    def _write_experiment(self, run: RunView, root: Path) -> None:
        """The experiment's config, in a file of its own at the root (replacing the last one:
        TensorBoard reads the first config of a run)."""
        metrics = self._metrics.get(root, set()) | self._objective_tags(run)
        file = EventFile(root, EXPERIMENT)
        try:
            file.summary(experiment(hparam_domains(run), sorted(metrics)))
        finally:
            file.close()
        for old in root.glob(f"events.out.tfevents.*{EXPERIMENT}"):
            if old != file.path:
                old.unlink(missing_ok=True)

    @staticmethod
    def _objective_tags(run: RunView) -> set[tuple[str, str]]:
        tags = {(tag, "") for tag in result_metrics(run, [0.0] * len(run.prepared.objectives))}
        tags |= {curve_tag(o.metric) for o in run.prepared.objectives  # a curve of the logs
                 if o.metric and o.metric not in MEASURES}
        return tags

    def _callback_roots(self, trial: optuna.Trial, outcome: Outcome) -> list[Path]:
        """The log folders of the trial's TensorBoard callbacks (its ``trial-N`` subfolders'
        parents), wherever the trial ran on this machine's disks."""
        folders = outcome.fit.tensorboard_dirs if outcome.fit is not None \
            else outcome.extra.get("tensorboard_dirs") or []
        roots = []
        for folder in folders:
            root = Path(folder).parent
            if not Path(folder).is_dir():  # on a worker's machine (a gateway, a Ray node)
                if root not in self._elsewhere:
                    self._elsewhere.add(root)
                    print(f"jupyter-automl: trial {trial.number}'s TensorBoard callback wrote to "
                          f"{folder} on the machine that ran it, which this one cannot reach: "
                          "no HParams records there. --tensorboard DIR writes the curves and "
                          "the records here, from the trials' reports", file=sys.stderr)
                continue
            if root not in roots and root != self.folder:
                roots.append(root)
        return roots
