"""Inside a worker kernel: the driver calls :func:`configure` once, then :func:`run` per trial.

The worker reaches the driver's study through Optuna's gRPC storage proxy, binds to the trial
the driver asked for, and runs the cell with the same runner code as the notebook's kernel
(so hp, Keras instrumentation, checkpoints and pruning behave the same). Its answer is JSON.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from .. import _optuna
from .._utils.failpoints import hit as failpoint
from ..errors import disk_full

STORAGE_ENV = "JUPYTER_AUTOML_STORAGE_URL"  # a server database the worker reaches itself
FOLLOW_POLL = 0.05  # seconds between two looks for a parameter the chief has not drawn yet

_state: dict[str, Any] = {}


def config_json(prepared: Any, cell_source: str, host: str, port: int, index: int) -> str:
    """What :func:`configure` needs, from the driver's prepared study."""
    options = asdict(prepared.options)
    return json.dumps({"options": options, "cell": cell_source, "host": host, "port": port,
                       "index": index, "root": str(prepared.paths.root),
                       "checkpoint_dir": None if prepared.paths.checkpoint_dir is None
                       else str(prepared.paths.checkpoint_dir),
                       "total": prepared.total,
                       "overrides": [s.to_dict() for s in prepared.overrides.values()]})


def configure(config: str) -> None:
    import optuna
    from IPython import get_ipython

    from .._utils.constraints import Constraint
    from ..engine import (
        Cell,
        Objective,
        PreparedStudy,
        StopSignal,
        StudyOptions,
        ThisKernel,
        make_pruner,
        make_sampler,
    )
    from ..runs import StudyPaths, open_storage
    from ..space import ParamSpec
    from .kernels import connect_from_env

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = json.loads(config)
    raw = cfg["options"]
    options = StudyOptions(**{**raw, "objectives": [Objective(**o) for o in raw["objectives"]],
                              "constraints": [Constraint(**c) for c in raw["constraints"]]})
    cell = Cell.parse(cfg["cell"], options.name)
    overrides = {s["name"]: ParamSpec.from_dict(s) for s in cfg["overrides"]}
    space = [overrides.get(p.name, p) for p in cell.space.params]
    # Each worker draws with its own seed, or all of them would propose the same points.
    seed = None if options.seed is None else options.seed + 1000 * (cfg["index"] + 1)
    url = os.environ.get(STORAGE_ENV)
    storage = open_storage(url) if url else connect_from_env(cfg["host"], cfg["port"])
    study = optuna.load_study(
        study_name=options.name, storage=storage,
        sampler=make_sampler(options.sampler, seed, len(options.directions), space,
                             options.population, options.tournament),
        pruner=make_pruner(options.effective_pruner))
    paths = StudyPaths.at(Path(cfg["root"]), cfg["checkpoint_dir"])
    prepared = PreparedStudy(study, paths, options, url or f"grpc://{cfg['host']}:{cfg['port']}",
                             cfg["total"], overrides=overrides)
    here = ThisKernel(prepared, cell, get_ipython().user_ns)
    here.should_stop = StopSignal(paths.stop_request).is_set  # a local kernel sees the folder
    _state["here"] = here
    _state["direct"] = bool(url)


def run(number: int) -> str:
    """Run trial ``number`` of the configured study; return its outcome as JSON."""
    import optuna

    here = _state["here"]
    study = here.prepared.study
    if _state["direct"]:  # Optuna's cache of a database, in this process, learns of the trial
        study.get_trials(deepcopy=False)
    trial_id = _optuna.trial_id(_optuna.trial_by_number(study, number))
    from ..engine import TrialLost
    from ..training import StopRequested

    try:
        outcome = here.run_trial(optuna.trial.Trial(study, trial_id))
    except StopRequested as exc:  # checkpointed; the driver fails and queues the trial
        return json.dumps({"stopped": True, "error": str(exc)})
    except TrialLost as exc:  # the storage failed under the trial: the driver retries it
        return json.dumps({"lost": exc.why})
    except Exception as exc:  # the disk is full: the driver stops the run, the trial queued
        if disk_full(exc) is None:
            raise
        return json.dumps({"disk_full": True, "error": str(exc)})
    fit = outcome.fit
    export_error = None
    if outcome.state == optuna.trial.TrialState.COMPLETE and fit is not None \
            and fit.model is not None:
        from ..training import save_model

        # The driver cannot reach this kernel's model object: it copies this file instead.
        try:
            save_model(fit, here.prepared.paths.trial_model(number))
        except OSError as exc:  # the driver says so if this trial is the best
            export_error = f"{type(exc).__name__}: {exc}"
    curve = [] if fit is None or fit.metric is None else [
        (int(h["epoch"]), h[fit.metric]) for h in fit.history if fit.metric in h]
    failpoint("worker.reply")
    return json.dumps({
        "state": outcome.state.name, "values": outcome.values, "error": outcome.error,
        "fatal": None if outcome.fatal is None else type(outcome.fatal).__name__,
        "duration": outcome.duration, "curve": curve,
        "peak_mb": outcome.peak_mb,
        "gpu_peak_mb": None if fit is None else fit.gpu_peak_mb,
        "resumed_at": None if fit is None else fit.resumed_at,
        "taken": outcome.taken, "export_error": export_error,
        # for the driver's experiment trackers (engine/_tracking.py): every epoch's logs, and
        # the folders the cell's TensorBoard callbacks wrote to
        "history": [] if fit is None else fit.history,
        "tensorboard_dirs": [] if fit is None else fit.tensorboard_dirs,
    })


def follow(number: int) -> str:
    """Run trial ``number`` alongside the chief kernel of a multi-worker trial."""
    here = _state["here"]
    study = here.prepared.study
    trial_id = _optuna.trial_id(_optuna.trial_by_number(study, number))
    outcome = here.run_trial(cast(Any, FollowerTrial(_optuna.storage_of(study), trial_id)),
                             follower=True)
    return json.dumps({"state": outcome.state.name, "error": outcome.error})


class ChiefEnded(Exception):
    """The chief finished the trial before drawing a parameter this kernel asks for."""


class FollowerTrial:
    """The chief's trial, seen from another kernel of a multi-worker trial.

    The cell runs the same code with the same parameters on every kernel, so each ``hp`` call
    here waits for the chief to draw that parameter and takes its value from the study.
    """

    def __init__(self, storage: Any, trial_id: int) -> None:
        self._storage = storage
        self._trial_id = trial_id
        frozen = storage.get_trial(trial_id)
        self.number = frozen.number
        self.user_attrs = frozen.user_attrs

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._drawn(name)

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._drawn(name)

    def suggest_categorical(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._drawn(name)

    def _drawn(self, name: str) -> Any:
        while True:
            frozen = self._storage.get_trial(self._trial_id)
            if name in frozen.params:
                return frozen.params[name]
            if frozen.state.is_finished():
                raise ChiefEnded(f"trial {self.number} ended before its chief drew {name!r}")
            time.sleep(FOLLOW_POLL)
