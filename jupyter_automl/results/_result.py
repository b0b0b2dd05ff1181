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
    """What a study produced, read from its storage: best parameters and value(s), the
    trials, the best model, its state.

    ``_automl`` after an ``%%automl`` cell, :func:`jupyter_automl.result` and
    :func:`jupyter_automl.run_study` return one; so does ``%automl show``. It reads the
    study when asked, so a study that is still running is read as it stands. In a notebook
    it shows as its summary and its trial table.

    Example:
        >>> import jupyter_automl
        >>> source = '''
        ... units = hp.int("units", 8, 64, log=True)
        ... activation = hp.choice("activation", ["relu", "tanh"])
        ... abs(units - 32) / 32 + (activation == "tanh")
        ... '''
        >>> _ = jupyter_automl.run_study(source, "toy --trials 4 --seed 3",
        ...                              listeners=[])  # doctest: +ELLIPSIS
        study 'toy': 4/4 trials (4 complete, 0 pruned, 0 failed)
        ...
        >>> result = jupyter_automl.result("toy")
        >>> result.name, result.status, result.done, result.total
        ('toy', 'finished', 4, 4)
        >>> sorted(result.best_params)
        ['activation', 'units']
        >>> result.best_value == min(row["value"] for row in result.trials)
        True
        >>> result.directions, result.metrics
        (['minimize'], [None])
    """

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
        """The study ``name`` of ``runs_dir`` (what :func:`jupyter_automl.result` does).

        Args:
            name: The study's name.
            runs_dir: The runs folder it ran in.
            storage: Its storage URL, when its ``spec.json`` cannot name it (a database
                password is never kept there).

        Raises:
            StudyNotFoundError: No study ``name`` in ``runs_dir`` (and no ``storage``); the
                message lists the studies there are.
        """
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
        """The Optuna study itself (``optuna.Study``), for anything Optuna reads or plots."""
        import optuna

        with storage_errors(self.url):
            study = optuna.load_study(study_name=self.name, storage=open_storage(self.url))
            _optuna.preload(study)  # a result reads them all, in a few queries
            return study

    @property
    def metrics(self) -> list[str | None]:
        """The objectives' metrics, in order (``[None]``: the value the cell returns)."""
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
        """``"maximize"`` or ``"minimize"``, one per objective."""
        return [d.name.lower() for d in self.study.directions]

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial | None:
        """The best of the study's own trials (the best feasible one with ``--constraint``);
        None before a trial has completed, or with several objectives (see
        :attr:`best_trials`)."""
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
        """The best trial's parameters by name (``{}`` if there is none yet, or with several
        objectives)."""
        trial = self.best_trial
        return dict(trial.params) if trial else {}

    @property
    def best_value(self) -> float | None:
        """The best trial's value (None if there is none yet, or with several objectives:
        see :attr:`best_values`)."""
        trial = self.best_trial
        return trial.value if trial else None

    @property
    def best_values(self) -> list[list[float]]:
        """Values of every best trial (the Pareto front with several objectives)."""
        return [list(t.values) for t in self.best_trials]

    @property
    def best_model(self) -> Any:
        """The best trial's Keras model, loaded from ``best/model.keras`` (None if no trial
        has kept one); with several objectives, a dict of the Pareto front's models by trial
        number. Imports Keras."""
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
        """Quantize (and prune) the best model and measure every variant against it on
        ``(x, y)``: size, accuracy, latency.

        Args:
            x: Evaluation inputs.
            y: Their labels.
            **options: Those of :func:`jupyter_automl.deploy.compress` (``quantize``,
                ``calibration``, ``prune``, ``train``, ``output``, ``trial``...).

        Returns:
            The :class:`~jupyter_automl.deploy.CompressionReport` (``text()``, a table; its
            files in ``RUNS_DIR/NAME/compressed`` unless ``output`` says otherwise).

        Example:
            In a notebook, after a Keras study::

                report = _automl.compress(x_test, y_test, calibration=x_train[:200])
                print(report.text())
        """
        from ..deploy import compress

        return compress(self, x, y, **options)

    def bundle(self, folder: str | Path, **options: Any) -> Path:
        """Write a deployment bundle of the best model into ``folder``: the model in the
        formats asked, ``model_card.md``, ``signature.json`` and ``predict.py``.

        Args:
            folder: A new or empty folder (an earlier bundle there is replaced).
            **options: Those of :func:`jupyter_automl.deploy.write_bundle` (``formats``, a
                list of export formats, default all; ``quantize``, ``trial``,
                ``calibration``).

        Returns:
            The bundle's folder.

        Example:
            In a notebook, after a Keras study::

                folder = _automl.bundle("bundle/", formats=["keras", "tflite"])
        """
        from ..deploy import write_bundle

        return write_bundle(self, folder, **options)

    def export(self, format: str = "keras", output: str | Path | None = None,
               quantize: bool = False, trial: int | None = None) -> Exported:
        """Write the best model in another format (what ``%automl export`` does).

        Args:
            format: An export format: ``keras``, ``savedmodel``, ``tflite``... (the list is
                that of ``jupyter-automl export --format``).
            output: A file or folder to write (default: named after the study, in the
                current folder).
            quantize: Dynamic-range quantization (weights in 8 bits), for the formats that
                have it (``tflite``).
            trial: Which model of a multi-objective study's Pareto front (required there).

        Returns:
            What was written: :class:`~jupyter_automl.deploy.Exported` (``path``, ``size``,
            ``describe()``).

        Raises:
            AutomlError: An unknown format, or a study without a best model yet.

        Example:
            In a notebook, after a Keras study::

                _automl.export("tflite", quantize=True).describe()
        """
        from ..deploy import export

        return export(self, format, output, quantize, trial)

    @property
    def trials(self) -> TrialRows:
        """Every trial as a row (number, state, value(s), params, epochs, duration...), the
        table ``%automl show`` prints: a list of dicts, ``to_pandas()`` for a DataFrame."""
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
        """The study's total of trials (``--trials``, as stored)."""
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

