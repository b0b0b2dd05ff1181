"""What a study produced, read back from its runs folder: ``_automl`` and ``result(NAME)``."""

from __future__ import annotations

import datetime as _dt
import functools
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._utils.duration import format_duration
from ..engine._values import value_columns
from ..errors import StudyNotFoundError
from ..runs._paths import StudyPaths, list_study_folders, study_paths
from ..runs._storage import open_storage, storage_errors, storage_url
from ..training import _checkpoint as checkpoint

if TYPE_CHECKING:
    import optuna


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
    def load(cls, name: str, runs_dir: str | Path = "automl_runs",
             storage: str | None = None) -> AutomlResult:
        paths = study_paths(runs_dir, name)
        if storage is None and not paths.spec.exists():
            known = [p.name for p in list_study_folders(runs_dir)]
            raise StudyNotFoundError(
                f"no study {name!r} in {paths.root.parent}; "
                + (f"studies there: {', '.join(known)}" if known else "it holds no studies"))
        stored = paths.read_spec().get("storage")
        url = storage or storage_url(None if stored is None or "***" in stored else stored,
                                     paths.db)
        return cls(paths, url)

    @functools.cached_property
    def study(self) -> optuna.Study:
        import optuna

        with storage_errors(self.url):
            return optuna.load_study(study_name=self.name, storage=open_storage(self.url))

    @property
    def metrics(self) -> list[str | None]:
        return [o.get("metric") for o in self.spec.get("objectives", [])] or [None]

    @property
    def directions(self) -> list[str]:
        return [d.name.lower() for d in self.study.directions]

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial | None:
        if len(self.directions) != 1:
            return None
        try:
            return self.study.best_trial
        except ValueError:  # no finished trial yet
            return None

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
        return [list(t.values) for t in self.study.best_trials]

    @property
    def best_model(self) -> Any:
        """The best trial's model reloaded (a dict by trial number with several objectives)."""
        import keras

        if len(self.directions) == 1:
            path = self.paths.best / "model.keras"
            return keras.models.load_model(path) if path.exists() else None
        return {int(p.parent.name): keras.models.load_model(p)
                for p in sorted(self.paths.best.glob("*/model.keras"))}

    @property
    def trials(self) -> TrialTable:
        return TrialTable(self)

    @property
    def done(self) -> int:
        return sum(t.state.name in ("COMPLETE", "PRUNED")
                   for t in self.study.get_trials(deepcopy=False))

    @property
    def total(self) -> int:
        return int(self.spec.get("trials", 0))

    def summary(self) -> str:
        trials = self.study.get_trials(deepcopy=False)
        states = {s: sum(t.state.name == s for t in trials)
                  for s in ("COMPLETE", "PRUNED", "FAIL")}
        lines = [f"study {self.name!r}: {states['COMPLETE'] + states['PRUNED']}/{self.total} "
                 f"trials ({states['COMPLETE']} complete, {states['PRUNED']} pruned, "
                 f"{states['FAIL']} failed)"]
        trial = self.best_trial
        if trial is not None:
            lines.append(f"best {self.metrics[0] or 'value'} = {trial.value:.6g} (trial "
                         f"{trial.number}) with {trial.params}")
        elif self.study.best_trials:
            lines.append(f"Pareto front of {', '.join(map(str, self.metrics))}: trials "
                         f"{[t.number for t in self.study.best_trials]}")
        lines.append(f"runs folder: {self.paths.root}")
        models = sorted(self.paths.best.glob("**/model.keras"))
        if models:
            lines.append(f"best model: {models[0] if len(models) == 1 else self.paths.best}")
        elif (self.paths.best / "params.json").exists():
            lines.append(f"best params: {self.paths.best / 'params.json'}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<AutomlResult\n{self.summary()}>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>{self.trials._repr_html_()}"


class TrialTable:
    """The study's trials as rows of plain dicts (``to_pandas()`` if pandas is installed)."""

    def __init__(self, result: AutomlResult) -> None:
        self.metrics = value_columns(result.metrics)
        self.rows = [_row(t, result.paths, self.metrics)
                     for t in result.study.get_trials(deepcopy=False)]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("number")

    @property
    def columns(self) -> list[str]:
        return ["number", "state", *self.metrics, "params", "epochs", "duration", "kernel"]

    def text_rows(self) -> list[list[str]]:
        return [[_duration_text(row.get(c)) if c == "duration" else _cell(row.get(c))
                 for c in self.columns] for row in self.rows]

    def __repr__(self) -> str:
        table = [self.columns, *self.text_rows()]
        widths = [max(len(r[i]) for r in table) for i in range(len(self.columns))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in table)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                       for r in self.text_rows())
        return f"<table class='automl-trials'><tr>{head}</tr>{body}</table>"


def _row(trial: optuna.trial.FrozenTrial, paths: StudyPaths, metrics: list[str]) -> dict[str, Any]:
    values = trial.values or [None] * len(metrics)
    row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
    row.update(zip(metrics, values))
    row["params"] = dict(trial.params)
    row["epochs"] = len(checkpoint.read_state(paths.trial(trial.number)).get("history", [])) \
        or None
    end = trial.datetime_complete or (_dt.datetime.now() if trial.datetime_start else None)
    row["duration"] = (end - trial.datetime_start).total_seconds() \
        if trial.datetime_start and end else None
    row["kernel"] = trial.user_attrs.get("kernel", "this kernel")
    if trial.user_attrs.get("error"):
        row["error"] = trial.user_attrs["error"].strip().splitlines()[-1]
    return row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def _duration_text(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(seconds)
