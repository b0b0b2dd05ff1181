"""Training inside a trial: the instrumented ``keras.Model.fit`` (reporting, pruning, early
stopping, resume), ``trial`` for custom loops (the same, step by step), the checkpoints, and
the ``tf.distribute`` strategy it runs under. Nothing here imports TensorFlow or Keras until a
trial trains."""

from ._checkpoint import Checkpoint, CheckpointWriter, Unreadable, load_stored
from ._checkpoint import load as load_checkpoint
from ._costs import Measured, architecture_key, calibration_sample, measure_costs
from ._distill import Distillation
from ._fit import (
    CONTINUE,
    MEASURES,
    PRUNE,
    STOP,
    FitSettings,
    StopRequested,
    TrialFit,
    end_session,
    fresh_session,
    install,
    save_model,
    trial_log_folder,
)
from ._fit import bind as bind_fit
from ._fit import unbind as unbind_fit
from ._loop import LoopTrial, trial
from ._memory import run_scope as memory_scope
from ._strategy import (
    STRATEGIES,
    decision_broadcast,
    distribution_strategy,
    gpu_count,
    gpu_sets,
    strategy_scope,
)

__all__ = [
    "CONTINUE", "MEASURES", "PRUNE", "STOP", "STRATEGIES", "Checkpoint", "CheckpointWriter",
    "Distillation", "FitSettings", "LoopTrial", "Measured", "StopRequested", "TrialFit",
    "Unreadable", "architecture_key", "bind_fit", "calibration_sample", "decision_broadcast",
    "distribution_strategy", "end_session", "fresh_session", "gpu_count", "gpu_sets", "install",
    "load_checkpoint", "load_stored", "measure_costs", "memory_scope", "save_model",
    "strategy_scope", "trial", "trial_log_folder", "unbind_fit",
]
