"""The library API behind the magic: run a cell body as a study, or smoke-test it with --check."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._utils.duration import format_duration
from ._utils.io import write_atomic
from ._utils.process import THREAD_ENV
from .engine import (
    BestExporter,
    Cell,
    Executor,
    Listener,
    PreparedStudy,
    RunEnd,
    StudyOptions,
    StudyRunner,
    ThisKernel,
    background,
    parse_options,
    prepare,
    tracking_listeners,
)
from .errors import AutomlError, path_error
from .results import COSTS, AutomlResult
from .runs import StudyPaths, storage_errors
from .ui import DISPLAYS, display_mode


def run_study(source: str, options: str | StudyOptions = "",
              namespace: dict[str, Any] | None = None,
              listeners: Sequence[Listener] | None = None,
              setup_cells: Sequence[str] = (), display: str = "auto") -> Any:
    """Run ``source`` as the study ``options`` describe and return its :class:`AutomlResult`.

    ``namespace`` is where the cell's free names are looked up (the notebook's, in the magic).
    ``listeners`` default to those of the display ``display`` picks (:data:`.ui.DISPLAYS`,
    :func:`.ui.display_mode`): the live panel, a progress line and static charts, or a
    progress line. The best model is always exported.
    ``setup_cells`` (the ``%%automl_setup`` cells) are recorded in the study's ``setup/``.
    ``--check`` returns None; ``--background`` returns the running :class:`BackgroundRun`.
    A file of the study's that cannot be written (its runs folder read-only, the disk full)
    is a :class:`~.errors.PathError` naming it; what finished is kept.
    """
    try:
        return _run(source, options, namespace, listeners, setup_cells, display)
    except OSError as exc:  # the runs folder, the storage's file: not the cell's own errors
        if exc.filename is None:
            raise
        raise path_error(exc) from None


def _run(source: str, options: str | StudyOptions, namespace: dict[str, Any] | None,
         listeners: Sequence[Listener] | None, setup_cells: Sequence[str],
         display: str) -> Any:
    opts = parse_options(options) if isinstance(options, str) else options
    if opts.edit:
        raise AutomlError("--edit works on a notebook cell (where %load_ext jupyter_automl "
                          "turns it into the space builder), not through run_study")
    cell = Cell.parse(source, opts.name)
    namespace = {} if namespace is None else namespace
    if opts.check:
        check(opts, cell, namespace)
        return None
    shown = DISPLAYS[display_mode(display)].listeners() if listeners is None else listeners
    if opts.background:  # a run in a thread prints nothing: the panel alone follows it
        panel = next((listener for listener in shown if listener.controls), None)
        return background.start(opts.name,
                                lambda: new_runner(opts, cell, namespace, setup_cells, []),
                                panel, namespace, finish)
    runner = new_runner(opts, cell, namespace, setup_cells, shown)
    return finish(runner, runner.run())


def new_runner(opts: StudyOptions, cell: Cell, namespace: dict[str, Any],
               setup_cells: Sequence[str], listeners: Sequence[Listener]) -> StudyRunner:
    """Open the study and make its runner (the best-model exporter first among listeners, then
    the experiment trackers: TensorBoard's records, MLflow's runs)."""
    prepared = prepare(opts, cell)
    record_setup(prepared.paths, setup_cells)
    if prepared.kept_aside is not None:
        print(f"--fresh: the previous study folder is kept as {prepared.kept_aside}")
        opts.fresh = False  # a Resume of this run continues it rather than starting over
    trackers = tracking_listeners(prepared)  # an MLflow server that does not answer: said now
    return StudyRunner(prepared, executor(opts, prepared, cell, namespace, setup_cells),
                       [BestExporter(), *trackers, *listeners])


def executor(opts: StudyOptions, prepared: PreparedStudy, cell: Cell,
             namespace: dict[str, Any], setup_cells: Sequence[str]) -> Executor:
    """What runs the trials (a row of :data:`EXECUTORS`, as :func:`executor_name` picks)."""
    return EXECUTORS[executor_name(opts)](opts, prepared, cell, namespace, setup_cells)


def executor_name(opts: StudyOptions) -> str:
    """This kernel; a pool of worker kernels (``--kernels``); all of them together on each
    trial (``--kernels`` with ``--strategy multi-worker``); or actors on a Ray cluster
    (``--kernels ray*N``)."""
    if opts.ray:
        return "ray"
    if not (opts.kernels or opts.gateways):
        return "this kernel"
    return "multi-worker" if opts.strategy == "multi-worker" else "kernels"


def _this_kernel(opts: StudyOptions, prepared: PreparedStudy, cell: Cell,
                 namespace: dict[str, Any], setup_cells: Sequence[str]) -> Executor:
    return ThisKernel(prepared, cell, namespace)


def _pool(opts: StudyOptions, prepared: PreparedStudy, cell: Cell,
          namespace: dict[str, Any], setup_cells: Sequence[str]) -> Executor:
    from .workers import KernelPool

    return KernelPool(prepared, cell, namespace, _kernels(opts), setup_cells, opts.ship,
                      opts.listen)


def _ray(opts: StudyOptions, prepared: PreparedStudy, cell: Cell,
         namespace: dict[str, Any], setup_cells: Sequence[str]) -> Executor:
    from .workers import RayPool

    return RayPool(prepared, cell, namespace, _kernels(opts), setup_cells, opts.ship,
                   opts.listen)


def _cluster(opts: StudyOptions, prepared: PreparedStudy, cell: Cell,
             namespace: dict[str, Any], setup_cells: Sequence[str]) -> Executor:
    from .workers import KernelCluster

    return KernelCluster(prepared, cell, namespace, _kernels(opts), setup_cells, opts.ship,
                         opts.listen)


def _kernels(opts: StudyOptions) -> list[Any]:
    """The worker kernels of ``--kernels``: local ones, then the gateways'."""
    from .workers import GatewayKernel, LocalKernel, RayKernel

    if opts.ray:  # a Ray actor per slot, each holding a CPU and its GPU share
        address, count = opts.ray
        return [RayKernel(i, address, Path.cwd(), gpus=opts.gpus_per_trial)
                for i in range(count)]
    kernels: list[Any] = [LocalKernel(i, Path.cwd(), env) for i, env in enumerate(gpu_env(opts))]
    for url, count in opts.gateways:
        kernels += [GatewayKernel(len(kernels), url) for _ in range(count)]
    return kernels


# What runs a study's trials, by the names :func:`executor_name` gives. A new executor is a
# module with a class that has the ``Executor`` protocol (engine/_events.py), a row here, and
# the option that picks it in ``executor_name``.
EXECUTORS: dict[str, Callable[[StudyOptions, PreparedStudy, Cell, dict[str, Any],
                               Sequence[str]], Executor]] = {
    "this kernel": _this_kernel,
    "kernels": _pool,
    "multi-worker": _cluster,
    "ray": _ray,
}


def finish(runner: StudyRunner, reason: RunEnd) -> AutomlResult:
    """Say how the run ended and return the study's result."""
    prepared = runner.prepared
    if reason is RunEnd.ALREADY_FINISHED:
        print(f"study {runner.name!r} already has {runner.done}/{prepared.total} finished "
              "trials; raise --trials to run more")
    elif reason is RunEnd.TIMEOUT:
        print(f"--timeout reached: {runner.done}/{runner.total} trials finished; rerun the "
              "cell to continue")
    elif reason is RunEnd.ELSEWHERE:
        print(f"study {runner.name!r}: {runner.done}/{runner.total} trials finished; the "
              f"{runner.in_flight} running in other processes complete its total")
    elif reason is RunEnd.STOPPED:
        print(f"study {runner.name!r} stopped: {runner.done}/{runner.total} trials finished; "
              "Resume (or rerun the cell) to continue")
    result = AutomlResult(prepared.paths, prepared.url, study=prepared.study)
    with storage_errors(prepared.url):  # a database server gone as the run ended
        print(result.summary())
    return result


def check(options: StudyOptions, cell: Cell, namespace: dict[str, Any]) -> None:
    """Run one short trial in memory: 1 epoch of a few batches; the study is not touched."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.create_study(directions=options.directions)
    with tempfile.TemporaryDirectory(prefix="automl-check-") as tmp:
        prepared = PreparedStudy(study, StudyPaths(Path(tmp) / options.name), options,
                                 url="memory", total=1)
        start = time.monotonic()
        outcome = ThisKernel(prepared, cell, namespace).run_trial(study.ask())
    if outcome.state == TrialState.FAIL:
        raise AutomlError(f"--check failed:\n{outcome.error}")
    trial = study.trials[-1]
    values = outcome.values if outcome.state == TrialState.COMPLETE \
        else outcome.state.name.lower()
    epochs = f", {outcome.fit.epochs_run} epoch(s) of at most 3 batches" \
        if outcome.fit and outcome.fit.history else ""
    costs = trial.user_attrs.get(COSTS)
    measured = "" if not costs else ", deployment costs " + ", ".join(
        f"{name} {figure:.4g}" for name, figure in costs.items())
    print(f"--check passed in {format_duration(time.monotonic() - start)}{epochs}: "
          f"value {values}, params {trial.params}{measured}. Remove --check to run the study.")


def record_setup(paths: StudyPaths, cells: Sequence[str]) -> None:
    """Write the setup cells to ``setup/NN.py``, replacing an older record."""
    for old in paths.setup.glob("*.py") if paths.setup.exists() else []:
        old.unlink(missing_ok=True)  # another runner starting at once removed it first
    for i, source in enumerate(cells):
        write_atomic(paths.setup / f"{i:02d}.py", source.encode())


def gpu_env(opts: StudyOptions) -> list[dict[str, str]]:
    """The environment of each local worker kernel: its GPUs under ``--gpus-per-trial``, and
    its share of the cores: N kernels on C cores each get C/N of TensorFlow's threads (N
    kernels of C threads each fight over the cores: benchmarks/parallel.py's warm --kernels 2
    on 2 cores went from 1.37x to 1.66x). A thread count set in the notebook's environment is
    kept."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, opts.kernels)))
    share = {name: threads for name in THREAD_ENV if name not in os.environ} \
        if opts.kernels > 1 else {}
    if opts.gpus_per_trial is None:
        return [dict(share) for _ in range(opts.kernels)]
    from .training import gpu_count, gpu_sets

    return [{**share, "CUDA_VISIBLE_DEVICES": devices, "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
            for devices in gpu_sets(opts.kernels, opts.gpus_per_trial, gpu_count())]

