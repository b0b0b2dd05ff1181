"""``--warm-start OTHER[,OTHER...]``: what earlier studies learned, given to a new one.

``OTHER`` is a study name in the runs folder, or a storage URL (``sqlite:///x.db``, with
``#NAME`` when the storage holds several studies). Its finished trials are added to the new
study as observations before it samples, so TPE or GP start informed: each keeps the
parameters the new cell's space also has (the others are dropped), and a trial with a value
outside a new range is left out. They are marked (``warm_start``: where they came from, shown
in the table's kernel column) and do not count toward ``--trials``. ``OTHER:top5`` instead
queues the 5 best parameter sets of ``OTHER`` to be trained again first (the new data may rank
them differently); those are trials of the new study, and count.

Rerunning the cell adds nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import OptionError
from ..results import pbt_candidates
from ..runs import WARM_START, open_storage, storage_errors
from ._options import StudyOptions, parse_warm

if TYPE_CHECKING:
    import optuna

    from ..space import ParamSpec

WARM = WARM_START  # user attribute of an observation: the study it came from
WARM_TRIAL = "warm_trial"  # ...and its number there
QUEUED = "warm_queued"  # user attribute of a re-evaluated parameter set: the study it came from


def warm_start(study: optuna.Study, options: StudyOptions, space: list[ParamSpec],
               held: int = 0) -> int:
    """Add or queue what the ``--warm-start`` studies offer; return how many observations
    from other studies the study holds (they do not count toward its total). Without the
    option that is ``held``, the number its spec recorded: no trial is read."""
    if not options.warm_start:
        return held
    trials = study.get_trials(deepcopy=False)
    specs = {s.name: s for s in space if s.exact}
    added = {(t.user_attrs.get(WARM), t.user_attrs.get(WARM_TRIAL)) for t in trials}
    queued = {t.user_attrs.get(QUEUED) for t in trials}
    for source in parse_warm(options.warm_start):
        other, label, metrics = _open(source.target, options)
        _check_objectives(other, study, label, options, metrics)
        if source.top is None:
            _observe(study, other, label, specs, added)
        elif label not in queued:
            _queue_best(study, other, label, source.top, specs)
    return sum(WARM in t.user_attrs for t in study.get_trials(deepcopy=False))


def _observe(study: optuna.Study, other: optuna.Study, label: str,
             specs: dict[str, ParamSpec], added: set[tuple[Any, Any]]) -> None:
    import optuna

    observations = []
    for trial in _finished(other):
        if (label, trial.number) in added:
            continue
        kept = _in_space(trial.params, specs)
        if kept is None:
            continue
        params, distributions = kept
        observations.append(optuna.trial.create_trial(
            params=params, distributions=distributions, values=list(trial.values),
            user_attrs={WARM: label, WARM_TRIAL: trial.number, "kernel": f"from {label}"}))
    study.add_trials(observations)


def _queue_best(study: optuna.Study, other: optuna.Study, label: str, top: int,
                specs: dict[str, ParamSpec]) -> None:
    import optuna

    finished = _finished(other)
    if len(other.directions) > 1:
        raise OptionError(f"--warm-start {label}:top{top} ranks one objective; {label} has "
                          f"{len(other.directions)} (drop :top{top} to add its trials)")
    sign = -1.0 if other.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    queued = 0
    for trial in sorted(finished, key=lambda t: sign * t.values[0]):
        kept = _in_space(trial.params, specs)
        if kept is None:
            continue
        study.enqueue_trial(kept[0], user_attrs={QUEUED: label}, skip_if_exists=True)
        queued += 1
        if queued == top:
            break


def _finished(other: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials of ``other`` that were trained to their end: its complete trials, and of a
    population-based training study only its members' final generations (an earlier
    generation's value is that of a model half trained)."""
    import optuna

    return pbt_candidates(other.get_trials(deepcopy=False,
                                           states=(optuna.trial.TrialState.COMPLETE,)))


def _in_space(params: dict[str, Any], specs: dict[str, ParamSpec]
              ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The parameters the new space has, with their new distributions; None when a value is
    outside its new range (or no parameter is left)."""
    kept, distributions = {}, {}
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            continue  # the new space lacks it: dropped
        distribution = spec.distribution()
        try:
            inside = distribution._contains(distribution.to_internal_repr(value))
        except (ValueError, TypeError):
            inside = False
        if not inside:
            return None
        kept[name], distributions[name] = value, distribution
    return (kept, distributions) if kept else None


def _open(target: str, options: StudyOptions
          ) -> tuple[optuna.Study, str, list[str | None] | None]:
    """The study ``target`` names, opened read-only, how it is labelled, and its metrics when
    its spec says them."""
    import optuna

    if "://" in target:
        url, _, name = target.partition("#")
        storage = open_storage(url, read_only=True)
        with storage_errors(url):
            names = [s.study_name for s in storage.get_all_studies()]
            if not name:
                if len(names) != 1:
                    raise OptionError(f"--warm-start {url}: the storage holds {len(names)} "
                                      f"studies ({', '.join(names) or 'none'}); name one as "
                                      f"URL#NAME")
                name = names[0]
            if name not in names:
                raise OptionError(f"--warm-start: no study {name!r} in {url}")
            return optuna.load_study(study_name=name, storage=storage), name, None
    if target == options.name:
        raise OptionError(f"--warm-start {target}: a study cannot warm-start itself")
    from ..results import load_result

    result = load_result(target, options.runs_dir)  # names the studies there if there is none
    return result.study, target, result.metrics


def _check_objectives(other: optuna.Study, study: optuna.Study, label: str,
                      options: StudyOptions, theirs_metrics: list[str | None] | None) -> None:
    if list(other.directions) != list(study.directions):
        mine = ", ".join(d.name.lower() for d in study.directions)
        theirs = ", ".join(d.name.lower() for d in other.directions)
        raise OptionError(f"--warm-start {label}: it optimised ({theirs}), this study "
                          f"({mine}); warm-start from a study with the same objectives")
    metrics = list(options.metrics)
    if theirs_metrics is not None and any(m is not None for m in metrics + theirs_metrics) \
            and list(theirs_metrics) != metrics:
        raise OptionError(f"--warm-start {label}: it optimised {theirs_metrics}, this study "
                          f"{metrics}; its values would mean something else here")
