"""Inside a worker kernel: the driver calls :func:`configure` once, then :func:`run` per trial.

The worker reaches the driver's study through Optuna's gRPC storage proxy, binds to the trial
the driver asked for, and runs the cell with the same runner code as the notebook's kernel
(so hp, Keras instrumentation, checkpoints and pruning behave the same). Its answer is JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

_state: dict[str, Any] = {}


def config_json(prepared: Any, cell_source: str, host: str, port: int, index: int) -> str:
    """What :func:`configure` needs, from the driver's prepared study."""
    options = asdict(prepared.options)
    return json.dumps({"options": options, "cell": cell_source, "host": host, "port": port,
                       "index": index, "root": str(prepared.paths.root),
                       "total": prepared.total,
                       "overrides": [s.to_dict() for s in prepared.overrides.values()]})


def configure(config: str) -> None:
    import optuna
    from IPython import get_ipython

    from .algorithms import make_pruner, make_sampler
    from .cell import Cell
    from .options import Objective, StudyOptions
    from .runner import StudyRunner
    from .runs import StudyPaths
    from .space import ParamSpec
    from .study import PreparedStudy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = json.loads(config)
    raw = cfg["options"]
    options = StudyOptions(**{**raw, "objectives": [Objective(**o) for o in raw["objectives"]]})
    cell = Cell.parse(cfg["cell"], options.name)
    overrides = {s["name"]: ParamSpec.from_dict(s) for s in cfg["overrides"]}
    space = [overrides.get(p.name, p) for p in cell.space.params]
    # Each worker draws with its own seed, or all of them would propose the same points.
    seed = None if options.seed is None else options.seed + 1000 * (cfg["index"] + 1)
    storage = optuna.storages.GrpcStorageProxy(host=cfg["host"], port=cfg["port"])
    study = optuna.load_study(
        study_name=options.name, storage=storage,
        sampler=make_sampler(options.sampler, seed, len(options.directions), space),
        pruner=make_pruner(options.effective_pruner))
    prepared = PreparedStudy(study, StudyPaths(Path(cfg["root"])), options,
                             f"grpc://{cfg['host']}:{cfg['port']}", cfg["total"],
                             overrides=overrides)
    _state["runner"] = StudyRunner(prepared, cell, get_ipython().user_ns)


def run(number: int) -> str:
    """Run trial ``number`` of the configured study; return its outcome as JSON."""
    import optuna

    runner = _state["runner"]
    study = runner.study
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    outcome = runner.run_trial(optuna.trial.Trial(study, trial_id))
    fit = outcome.fit
    if outcome.state == "COMPLETE" and fit is not None and fit.model is not None:
        from .export import TRIAL_MODEL, _save_model

        # The driver cannot reach this kernel's model object: it copies this file instead.
        _save_model(fit, runner.paths.trial(number) / TRIAL_MODEL)
    curve = [] if fit is None or fit.metric is None else [
        (int(h["epoch"]), h[fit.metric]) for h in fit.history if fit.metric in h]
    return json.dumps({
        "state": outcome.state, "values": outcome.values, "error": outcome.error,
        "fatal": None if outcome.fatal is None else type(outcome.fatal).__name__,
        "duration": outcome.duration, "curve": curve,
        "peak_mb": None if fit is None else fit.peak_mb,
        "resumed_at": None if fit is None else fit.resumed_at,
    })
