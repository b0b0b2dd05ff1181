"""What a study produced, read back from its runs folder: ``_automl`` and ``result(NAME)``."""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _optuna
from .._utils.constraints import is_feasible
from ..errors import StudyNotFoundError
from ..runs import (
    DEFAULT_RUNS_DIR,
    WARM_START,
    StudyPaths,
    list_study_folders,
    open_storage,
    storage_errors,
    storage_url,
    study_paths,
)
from ._costs import costs_text
from ._lineage import is_pbt, schedule
from ._rows import TrialRows
from ._summary import StudySummary, own_best_trials, summarize

if TYPE_CHECKING:
    import optuna

    from ..deploy import Exported


class AutomlResult:
    """A study's results: ``best_params``, ``best_value(s)``, ``trials``, ``best_model``."""

    def __init__(self, paths: StudyPaths, url: str, study: optuna.Study | None = None) -> None:
        self.paths = paths
        self.name = paths.name
        self.url = url
        self.spec = paths.read_spec()
        if study is not None:  # the runner's own: no second connection to the storage
            self.__dict__["study"] = study

    @classmethod
    def load(cls, name: str, runs_dir: str | Path = DEFAULT_RUNS_DIR,
             storage: str | None = None) -> AutomlResult:
        paths = study_paths(runs_dir, name)
        if storage is None and not paths.spec.exists():
            known = [p.name for p in list_study_folders(runs_dir)]
            where = paths.root.parent
            raise StudyNotFoundError(
                f"no study {name!r} in {where}; "
                + (f"studies there: {', '.join(known)}" if known else "it holds no studies"
                   if where.is_dir() else "there is no such folder: give the runs folder the "
                   "study ran in (--runs-dir; automl_runs, next to its notebook)"))
        stored = paths.read_spec().get("storage")
        url = storage or storage_url(None if stored is None or "***" in stored else stored,
                                     paths.db)
        return cls(paths, url)

    @functools.cached_property
    def study(self) -> optuna.Study:
        import optuna

        with storage_errors(self.url):
            study = optuna.load_study(study_name=self.name, storage=open_storage(self.url))
            _optuna.preload(study)  # a result reads them all, in a few queries
            return study

    @property
    def metrics(self) -> list[str | None]:
        return [o.get("metric") for o in self.spec.get("objectives", [])] or [None]

    @property
    def constraints(self) -> list[str]:
        """The study's ``--constraint`` expressions, as written."""
        return list(self.spec.get("constraints") or [])

    def _constraints_text(self, figures: StudySummary) -> str:
        from optuna.trial import TrialState

        complete = [t for t in self.study.get_trials(deepcopy=False,
                                                     states=(TrialState.COMPLETE,))
                    if WARM_START not in t.user_attrs]
        met = sum(is_feasible(t.constraints) for t in complete)
        said = ", ".join(self.constraints)
        if complete and not figures.best:
            return (f"no feasible trial yet: none of the {len(complete)} complete trials meets "
                    f"{said}")
        return f"constraints: {said} ({met} of {len(complete)} complete trials meet them)"

    @property
    def directions(self) -> list[str]:
        return [d.name.lower() for d in self.study.directions]

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial | None:
        if len(self.directions) != 1:
            return None
        best = own_best_trials(self.study)
        return best[0] if best else None

    @property
    def best_trials(self) -> list[optuna.trial.FrozenTrial]:
        """The best trial, or the Pareto front, of the study's own trials."""
        return own_best_trials(self.study)

    @property
    def best_params(self) -> dict[str, Any]:
        trial = self.best_trial
        return dict(trial.params) if trial else {}

    @property
    def best_value(self) -> float | None:
        trial = self.best_trial
        return trial.value if trial else None

    @property
    def best_values(self) -> list[list[float]]:
        """Values of every best trial (the Pareto front with several objectives)."""
        return [list(t.values) for t in self.best_trials]

    @property
    def best_model(self) -> Any:
        """The best trial's model reloaded (a dict by trial number with several objectives)."""
        import keras

        if len(self.directions) == 1:
            path = self.paths.best_model()
            return keras.models.load_model(path) if path.exists() else None
        return {number: keras.models.load_model(path)
                for number, path in self.paths.front_models().items()}

    @property
    def best_schedule(self) -> dict[str, list[Any]] | None:
        """A ``--scheduler pbt`` study's schedule found: each mutable parameter's value by epoch
        along the best member's lineage, as columns (``epoch``, ``generation``, ``trial`` and
        one per parameter; ``pandas.DataFrame(result.best_schedule)`` tabulates it). None for
        other studies, or before a trial has finished."""
        best = self.best_trial
        if best is None or not is_pbt(best):
            return None
        return schedule({t.number: t for t in self.study.get_trials(deepcopy=False)},
                        best.number)

    def compress(self, x: Any, y: Any, **options: Any) -> Any:
        """Quantize and prune this study's best model and measure every variant on ``(x, y)``
        (see :func:`jupyter_automl.deploy.compress`): a :class:`CompressionReport`."""
        from ..deploy import compress

        return compress(self, x, y, **options)

    def bundle(self, folder: str | Path, **options: Any) -> Path:
        """Write a deployment bundle of the best model into ``folder``: the model in the
        formats asked (``formats=["keras", "savedmodel", "tflite"]``), ``model_card.md``,
        ``signature.json`` and ``predict.py`` (see :func:`jupyter_automl.deploy.write_bundle`)."""
        from ..deploy import write_bundle

        return write_bundle(self, folder, **options)

    def export(self, format: str = "keras", output: str | Path | None = None,
               quantize: bool = False, trial: int | None = None) -> Exported:
        """Write the best model (or Pareto-front ``trial``'s) in ``format``: ``keras``,
        ``savedmodel``, ``tflite`` or ``tflite-quant`` (``quantize=True`` with ``tflite``), to
        ``output`` (a file or folder; default: named after the study, here) and return what
        was written (its ``path``, ``size``, ``describe()``); see
        :func:`jupyter_automl.deploy.export`."""
        from ..deploy import export

        return export(self, format, output, quantize, trial)

    @property
    def trials(self) -> TrialRows:
        return TrialRows(self)

    def summarize(self, runners: int | None = None) -> StudySummary:
        """The study's state, counts, best and last update, as every reader shows them
        (:mod:`._summary`); ``runners``: its live runners, when counted already."""
        return summarize(self.paths, self.url, lambda: self.study, runners)

    @property
    def status(self) -> str:
        """``running`` (a runner is at it now, on any machine), ``finished`` (its total is
        reached), ``failed`` (its last trial failed on an error of the cell) or ``stopped``."""
        return str(self.summarize().state)

    @property
    def last_update(self) -> str:
        """When the study last changed: its latest trial start or end, else when it was
        opened (``2026-12-02 14:05:31``, local time)."""
        return self.summarize().updated_text

    @property
    def done(self) -> int:
        """Finished trials (--warm-start observations from other studies left out)."""
        return self.summarize().done

    @property
    def total(self) -> int:
        return int(self.spec.get("trials", 0))

    def summary(self) -> str:
        """The study in a few lines: its trials, state, best and where its files are."""
        figures = self.summarize()
        lines = [f"study {self.name!r}: {figures.done}/{self.total} trials ({figures.complete} "
                 f"complete, {figures.pruned} pruned, {figures.failed} failed"
                 + (f", {figures.discarded} discarded" if figures.discarded else "") + ")"
                 + (f", and {figures.lent} from other studies (--warm-start)"
                    if figures.lent else ""),
                 f"state: {figures.state}" + (f", last update {figures.updated_text}"
                                              if figures.updated else "")]
        if self.constraints:
            lines.append(self._constraints_text(figures))
        if self.spec.get("measures") and (costs := costs_text(
                self.study.get_trials(deepcopy=False))) is not None:
            lines.append(costs)
        if figures.best_value is not None:
            lines.append(f"best {self.metrics[0] or 'value'} = {figures.best_value:.6g} (trial "
                         f"{figures.best[0]}) with {figures.best_params}")
        elif figures.best:
            lines.append(f"Pareto front of {', '.join(map(str, self.metrics))}: trials "
                         f"{list(figures.best)}")
        lines.append(f"runs folder: {self.paths.root}")
        models = sorted(self.paths.best.glob("**/model.keras"))
        if models:
            lines.append(f"best model: {models[0] if len(models) == 1 else self.paths.best}")
        elif self.paths.best_params.exists():
            lines.append(f"best params: {self.paths.best_params}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<AutomlResult\n{self.summary()}>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>{self.trials._repr_html_()}"

