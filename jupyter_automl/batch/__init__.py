"""Headless runs: a notebook executed with papermill (``jupyter-automl run``), a sweep over a grid
of its parameters, the trials of the running study watched from outside, and the kernel these
runs use (quiet, encrypted, interruptible)."""

from ._headless_kernel import HeadlessKernelManager, forward_interrupts
from ._run import (
    NotebookRun,
    TrialWatcher,
    check_kernel,
    describe_unfinished,
    parameter_warnings,
    read_parameters_file,
    read_progress,
    run_notebook,
)
from ._sweep import run_sweep

__all__ = ["HeadlessKernelManager", "NotebookRun", "TrialWatcher", "check_kernel",
           "describe_unfinished", "forward_interrupts", "parameter_warnings",
           "read_parameters_file", "read_progress", "run_notebook", "run_sweep"]
