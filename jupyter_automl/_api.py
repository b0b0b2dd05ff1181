"""The library API behind the magic: run a cell body as a study, or smoke-test it with --check."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._utils.duration import format_duration
from ._utils.io import write_atomic
from .engine._best import BestExporter
from .engine._cell import Cell
from .engine._events import Listener
from .engine._options import StudyOptions, parse_options
from .engine._runner import StudyRunner
from .engine._study import PreparedStudy, prepare
from .errors import AutomlError
from .results._result import AutomlResult
from .runs._paths import StudyPaths
from .ui._display import display_mode
from .ui._progress import ProgressLine


def run_study(source: str, options: str | StudyOptions = "",
              namespace: dict[str, Any] | None = None,
              listeners: Sequence[Listener] | None = None,
              setup_cells: Sequence[str] = (), display: str = "auto") -> Any:
    """Run ``source`` as the study ``options`` describe and return its :class:`AutomlResult`.

    ``namespace`` is where the cell's free names are looked up (the notebook's, in the magic).
    ``listeners`` default to what ``display`` picks (see :mod:`.display`): the live panel, a
    progress line and static charts, or a progress line. The best model is always exported.
    ``setup_cells`` (the ``%%automl_setup`` cells) are recorded in the study's ``setup/``.
    ``--check`` returns None; ``--background`` returns the running :class:`BackgroundRun`.
    """
    opts = parse_options(options) if isinstance(options, str) else options
    if opts.edit:
        raise AutomlError("--edit works on a notebook cell (where %load_ext jupyter_automl "
                          "turns it into the space builder), not through run_study")
    cell = Cell.parse(source, opts.name)
    namespace = {} if namespace is None else namespace
    if opts.check:
        check(opts, cell, namespace)
        return None
    mode = display_mode(display)
    if opts.background:
        from .engine._background import start

        return start(opts.name, lambda: new_runner(opts, cell, namespace, setup_cells, []),
                     mode, namespace)
    runner = new_runner(opts, cell, namespace, setup_cells,
                        default_listeners(mode) if listeners is None else listeners)
    return finish(runner, runner.run())


def new_runner(opts: StudyOptions, cell: Cell, namespace: dict[str, Any],
               setup_cells: Sequence[str], listeners: Sequence[Listener]) -> StudyRunner:
    """Open the study and make its runner (the best-model exporter first among listeners)."""
    prepared = prepare(opts, cell)
    record_setup(prepared.paths, setup_cells)
    if prepared.kept_aside is not None:
        print(f"--fresh: the previous study folder is kept as {prepared.kept_aside}")
        opts.fresh = False  # a Resume of this run continues it rather than starting over
    if opts.kernels or opts.gateways:
        from .workers._pool import PoolRunner
        from .workers.kernels._gateway import GatewayKernel
        from .workers.kernels._local import LocalKernel

        kernels: list[Any] = [LocalKernel(i, Path.cwd(), env)
                              for i, env in enumerate(gpu_env(opts))]
        for url, count in opts.gateways:
            kernels += [GatewayKernel(len(kernels), url) for _ in range(count)]
        runner: type[PoolRunner] = PoolRunner
        if opts.strategy == "multi-worker":  # each trial across all the kernels
            from .workers._cluster import ClusterRunner

            runner = ClusterRunner
        return runner(prepared, cell, namespace, [BestExporter(), *listeners], kernels,
                      setup_cells, opts.ship, opts.listen)
    return StudyRunner(prepared, cell, namespace, [BestExporter(), *listeners])


def default_listeners(mode: str) -> list[Listener]:
    if mode == "widgets":
        from .ui._panel import StudyPanel

        return [StudyPanel()]
    if mode == "static":
        from .ui._static import StaticReport

        return [ProgressLine(), StaticReport()]
    return [ProgressLine()]


def finish(runner: StudyRunner, reason: str) -> AutomlResult:
    """Say how the run ended and return the study's result."""
    prepared = runner.prepared
    if reason == "already finished":
        print(f"study {runner.name!r} already has {runner.done}/{prepared.total} finished "
              "trials; raise --trials to run more")
    elif reason == "timeout":
        print(f"--timeout reached: {runner.done}/{runner.total} trials finished; rerun the "
              "cell to continue")
    elif reason == "elsewhere":
        print(f"study {runner.name!r}: {runner.done}/{runner.total} trials finished; the "
              f"{runner.in_flight} running in other processes complete its total")
    elif reason == "stopped":
        print(f"study {runner.name!r} stopped: {runner.done}/{runner.total} trials finished; "
              "Resume (or rerun the cell) to continue")
    result = AutomlResult(prepared.paths, prepared.url, study=prepared.study)
    print(result.summary())
    return result


def check(options: StudyOptions, cell: Cell, namespace: dict[str, Any]) -> None:
    """Run one short trial in memory: 1 epoch of a few batches; the study is not touched."""
    import optuna

    study = optuna.create_study(directions=options.directions)
    with tempfile.TemporaryDirectory(prefix="automl-check-") as tmp:
        prepared = PreparedStudy(study, StudyPaths(Path(tmp) / options.name), options,
                                 url="memory", total=1)
        runner = StudyRunner(prepared, cell, namespace)
        start = time.monotonic()
        outcome = runner.run_trial(study.ask())
    if outcome.state == "FAIL":
        raise AutomlError(f"--check failed:\n{outcome.error}")
    trial = study.trials[-1]
    values = outcome.values if outcome.state == "COMPLETE" else outcome.state.lower()
    epochs = f", {outcome.fit.epochs_run} epoch(s) of at most 3 batches" \
        if outcome.fit and outcome.fit.history else ""
    print(f"--check passed in {format_duration(time.monotonic() - start)}{epochs}: "
          f"value {values}, params {trial.params}. Remove --check to run the study.")


def record_setup(paths: StudyPaths, cells: Sequence[str]) -> None:
    """Write the setup cells to ``setup/NN.py``, replacing an older record."""
    for old in paths.setup.glob("*.py") if paths.setup.exists() else []:
        old.unlink()
    for i, source in enumerate(cells):
        write_atomic(paths.setup / f"{i:02d}.py", source.encode())


def gpu_env(opts: StudyOptions) -> list[dict[str, str]]:
    """The environment of each local worker kernel: its GPUs under ``--gpus-per-trial``."""
    if opts.gpus_per_trial is None:
        return [{} for _ in range(opts.kernels)]
    from .training._strategy import gpu_count, gpu_sets

    return [{"CUDA_VISIBLE_DEVICES": devices, "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
            for devices in gpu_sets(opts.kernels, opts.gpus_per_trial, gpu_count())]
