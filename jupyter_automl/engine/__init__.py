"""The engine: a study created or resumed from the cell's options, the one trial loop that runs
it (:class:`StudyRunner`, with an executor: this kernel by default), the recovery of trials whose
runner died, background runs, and the best model kept on disk."""

from . import _background as background
from ._algorithms import PRUNERS, SAMPLERS, make_pruner, make_sampler
from ._best import BestExporter
from ._cell import Cell
from ._events import Executor, Listener, Outcome, RunEnd, RunView, TrialLost
from ._options import (
    DEFAULT_STUDY,
    DEFAULT_TRIALS,
    PARSER,
    Objective,
    StudyOptions,
    parse_options,
)
from ._runner import StopSignal, StudyRunner
from ._study import PreparedStudy, prepare
from ._trackers import trackers as tracking_listeners
from ._trial import ThisKernel

__all__ = [
    "DEFAULT_STUDY", "DEFAULT_TRIALS", "PARSER", "PRUNERS", "SAMPLERS", "BestExporter", "Cell",
    "Executor", "Listener", "Objective", "Outcome", "PreparedStudy", "RunEnd", "RunView",
    "StopSignal", "StudyOptions", "StudyRunner", "ThisKernel", "TrialLost", "background",
    "make_pruner", "make_sampler", "parse_options", "prepare", "tracking_listeners",
]
