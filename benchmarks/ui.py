"""Cost of one live-panel update for a large study, beside redrawing it with Optuna's plots.

Run from the repository root::

    .venv/bin/python benchmarks/ui.py            # 1000 trials x 50 epochs
    .venv/bin/python benchmarks/ui.py --quick    # 200 trials x 20 epochs

The panel side is ``StudyPanel.refresh()`` after a trial has finished: learning curves, history,
parallel coordinates, header, best trial and table, every widget message serialized to JSON as
a kernel would send it (the comm is replaced by one that does ``json.dumps``). The Optuna side
is what a user does today to see the same study: ``plot_intermediate_values`` +
``plot_optimization_history``, serialized with ``fig.to_json()`` as ``display`` would. Both use
the same 1000 trials (a quarter of them pruned halfway). Goal: our update costs at most 1/10.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import comm
import numpy as np
import optuna
from comm.base_comm import BaseComm

from jupyter_automl.results import StudyState
from jupyter_automl.ui._model import StudyModel
from jupyter_automl.ui._panel import StudyPanel

GOAL = 0.1


class JsonComm(BaseComm):
    """A comm that serializes each message the way the kernel's session would."""

    sent_bytes = 0

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                    buffers: Any = None, **keys: Any) -> None:
        JsonComm.sent_bytes += len(json.dumps(data, default=_jsonable))
        for buffer in buffers or []:
            JsonComm.sent_bytes += memoryview(buffer).nbytes


def _jsonable(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


def make_study(trials: int, epochs: int) -> tuple[StudyModel, optuna.Study]:
    rng = np.random.default_rng(0)
    model = StudyModel("big", ["val_loss"], ["minimize"], trials)
    study = optuna.create_study()
    dist = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
            "units": optuna.distributions.IntDistribution(16, 256)}
    for number in range(trials):
        pruned = number % 4 == 3
        length = epochs // 2 if pruned else epochs
        curve = list(np.exp(-np.arange(1, length + 1) / rng.uniform(5, 30)) + rng.uniform(0, .3))
        params = {"lr": float(rng.uniform(1e-4, 1e-1)), "units": int(rng.integers(16, 257))}
        state = optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE
        record = model.start(number, params)
        record.curve = [(e, float(v)) for e, v in enumerate(curve, 1)]
        model.finish(number, state, None if pruned else [float(min(curve))], params, 10.0,
                     500.0, None)
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions=dist,
            value=None if pruned else float(min(curve)),
            state=state,
            intermediate_values={e: float(v) for e, v in enumerate(curve, 1)}))
    model.status = StudyState.FINISHED
    return model, study


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 trials x 20 epochs")
    args = parser.parse_args(argv)
    trials, epochs = (200, 20) if args.quick else (1000, 50)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    comm.create_comm = lambda *a, **k: JsonComm(*a, **k)
    model, study = make_study(trials, epochs)
    panel = StudyPanel(display=False)
    panel.attach(model)  # builds the widgets once, as when the study starts

    def update() -> None:
        panel._trials_dirty = True  # a trial just finished
        panel.refresh(force=True)

    def epoch() -> None:
        panel.refresh(force=True)  # an epoch ended: curves and header only

    def optuna_plots() -> None:
        for fig in (optuna.visualization.plot_intermediate_values(study),
                    optuna.visualization.plot_optimization_history(study)):
            fig.to_json()

    JsonComm.sent_bytes = 0
    ours = timed(update, 5)
    sent = JsonComm.sent_bytes / 5
    ours_epoch = timed(epoch, 5)
    theirs = timed(optuna_plots, 3)
    ratio = ours / theirs
    print(f"{trials} trials x {epochs} epochs")
    print(f"  panel update after a trial  {ours * 1000:8.1f} ms  ({sent / 1e6:.1f} MB sent)")
    print(f"  panel update after an epoch {ours_epoch * 1000:8.1f} ms")
    print(f"  optuna plot_intermediate_values + plot_optimization_history "
          f"{theirs * 1000:8.1f} ms")
    print(f"  ratio panel / optuna: {ratio:.3f} (goal <= {GOAL}) "
          f"{'ok' if ratio <= GOAL else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
