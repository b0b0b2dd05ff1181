"""Headless runs: a notebook executed with papermill (``jupyter-automl run``), a sweep over a grid
of its parameters, the trials of the running study watched from outside, and the kernel these
runs use (quiet, encrypted, interruptible)."""

from ._commands import (
    INTERRUPTED,
    parse_value,
    run_arguments,
    run_command,
    sweep_arguments,
    sweep_command,
)
from ._headless_kernel import HeadlessKernelManager, forward_interrupts
from ._run import (
    NotebookRun,
    TrialWatcher,
    check_kernel,
    current_study,
    describe_unfinished,
    parameter_warnings,
    read_parameters_file,
    run_notebook,
)
from ._sweep import run_sweep

__all__ = ["INTERRUPTED", "HeadlessKernelManager", "NotebookRun", "TrialWatcher", "check_kernel",
           "current_study", "describe_unfinished", "forward_interrupts", "parameter_warnings",
           "parse_value", "read_parameters_file", "run_arguments", "run_command",
           "run_notebook", "run_sweep", "sweep_arguments", "sweep_command"]
