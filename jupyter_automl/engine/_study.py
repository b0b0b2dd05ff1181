"""Creating or resuming a study from the cell's options, the runs folder and the storage."""

from __future__ import annotations

import datetime as _dt
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _optuna
from ..errors import AutomlError, OptionError, StudyConflictError
from ..runs import (
    NOTEBOOK_ENV,
    CheckpointStore,
    StudyPaths,
    is_server,
    keep_aside,
    open_storage,
    redact,
    storage_errors,
    storage_url,
    study_paths,
)
from ..space import ParamSpec, load_space
from ..version import __version__
from ._algorithms import default_tournament, make_pruner, make_sampler
from ._cell import Cell
from ._options import Objective, StudyOptions, parse_warm
from ._warm import warm_start

if TYPE_CHECKING:
    import optuna


@dataclass
class PreparedStudy:
    """A study opened for running, with everything the runner needs about it."""

    study: optuna.Study
    paths: StudyPaths
    options: StudyOptions
    url: str
    total: int
    kept_aside: Path | None = None
    overrides: dict[str, ParamSpec] = field(default_factory=dict)  # from --space NAME
    warm: int = 0  # observations from other studies (--warm-start): not counted as trials

    @functools.cached_property
    def store(self) -> CheckpointStore | None:
        """``--checkpoint-store``: where the checkpoints and the best model also go."""
        url = self.options.checkpoint_store
        return None if url is None else CheckpointStore(url, self.options.name)

    @property
    def shared(self) -> bool:
        """Whether other machines may run this study too (a database server): its runners then
        keep heartbeats in it."""
        return is_server(self.url)

    @property
    def objectives(self) -> list[Objective]:
        return self.options.objectives or [Objective(None, "minimize")]


def prepare(options: StudyOptions, cell: Cell) -> PreparedStudy:
    """Open (or create) the study the options name; check it agrees with them; record the spec."""
    import optuna

    # Optuna logs a line per trial; the progress line and the summary say it better.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    paths = study_paths(options.runs_dir, options.name, options.checkpoint_dir)
    if options.fresh and options.storage is not None:
        raise OptionError("--fresh keeps the old study folder aside, which cannot be done for a "
                          "study in an external --storage; give the study a new name instead")
    kept = keep_aside(paths) if options.fresh else None
    if options.distill_from is not None:
        options.teacher = str(teacher_model(options))
    spec = paths.read_spec()
    total = options.trials or spec.get("trials") or options.default_trials
    overrides = saved_space(options)
    space = [overrides.get(p.name, p) for p in cell.space.params]
    if options.pbt:
        _check_pbt(options, paths, spec, cell.space.params)
        # P x generations, once a member has said how many epochs it trains
        total = spec.get("trials") if spec.get("scheduler") else options.population
    elif spec.get("scheduler") and not options.check:
        raise StudyConflictError(
            f"study {options.name!r} ({paths.root}) is a population-based training study "
            f"(--scheduler pbt --population {spec['scheduler']['population']} --interval "
            f"{spec['scheduler']['interval']}); rerun the cell with those options to resume it, "
            "or with --fresh to start a study of another kind (the old folder is kept, renamed)")
    url = storage_url(options.storage, paths.db)
    storage = open_storage(url)
    with storage_errors(url):
        existing = _existing_directions(storage, options.name)
        if existing is not None:
            _check_same_objectives(options, paths, spec, existing)
            _check_same_constraints(options, paths, spec)
        n_trials = 0 if existing is None else _optuna.trial_count(
            storage, storage.get_study_id_from_name(options.name))
        # A resumed study must not replay the draws of its first run: offset the seed.
        seed = None if options.seed is None else options.seed + n_trials
        sampler = make_sampler(options.sampler, seed, len(options.directions), space,
                               options.population, options.tournament)
        study = optuna.create_study(
            storage=storage, study_name=options.name, directions=options.directions,
            sampler=sampler, pruner=make_pruner(options.effective_pruner), load_if_exists=True,
        )
        held = int(spec.get("warm", 0)) if existing is not None else 0
        warm = held if options.check else warm_start(study, options, space, held)
    paths.write_spec({**_spec(options, cell, url, total, spec, space, paths), "warm": warm})
    return PreparedStudy(study, paths, options, url, total, kept, overrides, warm)


def saved_space(options: StudyOptions) -> dict[str, ParamSpec]:
    """The ranges of ``--space NAME`` by parameter name (empty without the option)."""
    if options.space is None:
        return {}
    return {spec.name: spec for spec in load_space(options.runs_dir, options.space)}


def teacher_model(options: StudyOptions) -> Path:
    """The model file of ``--distill-from TEACHER[:TRIAL]``, with errors that say why not."""
    from ..deploy import best_model_file
    from ..results import load_result

    name, _, number = options.distill_from.partition(":")  # type: ignore[union-attr]
    if name == options.name:
        raise OptionError(f"--distill-from {name}: a study cannot distil from itself; give "
                          "the study whose best model teaches")
    if number and not number.isdigit():
        raise OptionError(f"--distill-from {options.distill_from}: after ':' give a trial "
                          "number of the teacher's Pareto front")
    try:
        result = load_result(name, options.runs_dir)
        path, _ = best_model_file(result, int(number) if number else None)
    except AutomlError as exc:
        text = str(exc).replace("--trial N", f"--distill-from {name}:N")
        raise OptionError(f"--distill-from {name}: {text}") from None
    return path


def _check_pbt(options: StudyOptions, paths: StudyPaths, spec: dict[str, Any],
               params: list[ParamSpec]) -> None:
    """What ``--scheduler pbt`` can be told before any trial runs."""
    if params and all(p.exact for p in params) and not any(p.mutable for p in params):
        raise OptionError(
            "--scheduler pbt changes the mutable parameters while the members train, but no hp "
            "call in the cell is mutable: mark those PBT may change, e.g. hp.float(\"lr\", "
            "1e-4, 1e-1, log=True, mutable=True)")
    if options.warm_start and any(s.top for s in parse_warm(options.warm_start)):
        raise OptionError("--warm-start OTHER:topN queues trials of its own, which a PBT "
                          "population has no place for; warm-start with OTHER alone (its trials "
                          "inform the first generation's draws)")
    stored = spec.get("scheduler")
    asked = {"name": "pbt", "population": options.population, "interval": options.interval}
    if spec.get("space") is not None and stored != asked:
        was = ("no --scheduler" if not stored else
               f"--population {stored['population']} --interval {stored['interval']}")
        raise StudyConflictError(
            f"study {options.name!r} ({paths.root}) was run with {was}, but this cell asks for "
            f"--scheduler pbt --population {options.population} --interval {options.interval}."
            " Rerun with the same options to resume it, with --fresh to start over (the old "
            "folder is kept, renamed), or give the cell another study name.")


def _existing_directions(storage: optuna.storages.BaseStorage, name: str) -> list[str] | None:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return [d.name.lower() for d in storage.get_study_directions(study_id)]


def _check_same_objectives(options: StudyOptions, paths: StudyPaths, spec: dict[str, Any],
                           directions: list[str]) -> None:
    stored_metrics = [o.get("metric") for o in spec.get("objectives", [])] or None
    asked = _describe(options.directions, options.metrics)
    if directions != options.directions or (
            stored_metrics is not None and stored_metrics != options.metrics):
        stored = _describe(directions, stored_metrics or [None] * len(directions))
        raise StudyConflictError(
            f"study {options.name!r} ({paths.root}) was created to {stored}, but this cell asks "
            f"to {asked}. Rerun with --fresh to start over (the old folder is kept, renamed), "
            "or give the cell another study name."
        )


def _check_same_constraints(options: StudyOptions, paths: StudyPaths,
                            spec: dict[str, Any]) -> None:
    """A trial's feasibility is recorded when it finishes, against the constraints of its run:
    a rerun that names others would judge the trials by two rules."""
    if not spec:  # another machine's study, or one never run from this folder
        return
    stored = list(spec.get("constraints") or [])
    asked = [c.text for c in options.constraints]
    if stored != asked:
        def named(texts: list[str]) -> str:
            return ", ".join(f"--constraint {t!r}" for t in texts) or "no --constraint"

        raise StudyConflictError(
            f"study {options.name!r} ({paths.root}) was created with {named(stored)}, but this "
            f"cell asks for {named(asked)}. Each trial recorded whether it met the study's "
            "constraints when it finished, so they stay as the study was created: rerun with "
            "the same ones, or with --fresh to start over (the old folder is kept, renamed), or "
            "give the cell another study name.")


def _describe(directions: Sequence[str], metrics: Sequence[str | None]) -> str:
    return " and ".join(f"{d} {m or 'the value'}" for d, m in zip(directions, metrics))


def _spec(options: StudyOptions, cell: Cell, url: str, total: int,
          old: dict[str, Any], space: list[ParamSpec], paths: StudyPaths) -> dict[str, Any]:
    now = _dt.datetime.now().isoformat(timespec="seconds")
    return {
        "name": options.name,
        "version": __version__,
        "created": old.get("created", now),
        "updated": now,
        "trials": total,
        "objectives": [{"metric": m, "direction": d}
                       for m, d in zip(options.metrics, options.directions)],
        "constraints": [c.text for c in options.constraints],
        "measures": list(options.measures),
        "sampler": options.sampler,
        "evolution": {"population": options.population,
                      "tournament": options.tournament or default_tournament(options.population)}
        if options.sampler == "evolution" else None,
        "seed": options.seed,
        "pruner": options.effective_pruner,
        "distill_from": None if options.distill_from is None else {
            "teacher": options.distill_from, "temperature": options.temperature,
            "soft_weight": options.soft_weight},
        "scheduler": {"name": "pbt", "population": options.population,
                      "interval": options.interval} if options.pbt else None,
        "early_stopping": options.early_stopping,
        "executions_per_trial": options.executions,
        "timeout": options.timeout,
        "storage": None if options.storage is None else redact(url),
        "checkpoint_dir": None if paths.checkpoint_dir is None else str(paths.checkpoint_dir),
        "checkpoint_store": options.checkpoint_store,
        "space": [p.to_dict() for p in space],
        "space_name": options.space,
        "cell": cell.source,
        # the notebook that made the study, when Jupyter (or jupyter-automl run) says which
        "notebook": os.environ.get(NOTEBOOK_ENV) or old.get("notebook"),
    }
