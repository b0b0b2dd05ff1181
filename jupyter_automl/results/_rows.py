"""Trials and studies as table rows: the one home of their columns and of how a cell reads.

A trial row is what ``_automl.trials``, the live panel's table, the static table of a saved
notebook and ``show`` print; a study row is what ``studies`` / ``%automl list`` and a sweep's
summary print.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._utils.constraints import unmet
from .._utils.duration import format_duration
from ..search import origin_text
from ._costs import cost_names, costs_of
from ._executions import spread_of
from ._lineage import COPIED, GENERATION, MEMBER
from ._summary import StudyState, StudySummary
from ._trials import discard_note, discarded_values

if TYPE_CHECKING:
    import optuna
    from optuna.trial import TrialState

    from ..runs import StudyPaths


class StudyResult(Protocol):
    """What the trial rows need of a study's result (an :class:`~._result.AutomlResult`)."""

    @property
    def paths(self) -> StudyPaths: ...

    @property
    def study(self) -> optuna.Study: ...

    @property
    def metrics(self) -> list[str | None]: ...


# the columns of a trial row, the objectives' values going after "state"
TRIAL_COLUMNS = ("number", "state", "params", "epochs", "duration", "kernel", "peak_mb")
GPU_COLUMN = "gpu_peak_mb"  # after peak_mb, in a study whose trials ran on a GPU
_RESERVED = {*TRIAL_COLUMNS, "error", "member", "origin", "feasible", "discarded", GPU_COLUMN}
STUDY_COLUMNS = ("name", "state", "trials", "best", "best params", "last update")
# a discarded trial's row: its state reads DISCARDED, this column why, by whom and when
DISCARDED_STATE, DISCARDED_COLUMN = "DISCARDED", "discarded"


def value_columns(metrics: Sequence[str | None]) -> list[str]:
    """The objectives' column names: each metric's name, or ``value``; a name that is also a
    trial column is renamed (``params`` -> ``params (value)``)."""
    return [f"{m} (value)" if m in _RESERVED else (m or "value") for m in metrics]


def trial_columns(metrics: Sequence[str | None], pbt: bool = False,
                  evolved: bool = False, constrained: bool = False,
                  costs: Sequence[str] = (), gpu: bool = False) -> list[str]:
    """A trial row's columns; a PBT study's have ``member`` (its member and generation, and
    the trial it copied) after the state, a constrained study's ``feasible`` after the values,
    an evolved study's ``origin`` (the trial it mutated, and how) after the parameters."""
    values = value_columns(metrics)
    return [*TRIAL_COLUMNS[:2], *(["member"] if pbt else []), *values,
            *(["feasible"] if constrained else []), *(c for c in costs if c not in values),
            TRIAL_COLUMNS[2],
            *(["origin"] if evolved else []), *TRIAL_COLUMNS[3:],
            *([GPU_COLUMN] if gpu else [])]


class Averaged(float):
    """A trial's value that is the mean of its executions (``--executions-per-trial``): a
    number everywhere (sorting, pandas, JSON), which a table cell reads as
    ``0.9123 ± 0.0081 (3 runs)``."""

    std: float
    runs: int

    def __new__(cls, value: float, std: float, runs: int) -> Averaged:
        averaged = super().__new__(cls, value)
        averaged.std, averaged.runs = std, runs
        return averaged

    def __reduce__(self) -> tuple[Any, ...]:
        return Averaged, (float(self), self.std, self.runs)

    @property
    def text(self) -> str:
        return f"{float(self):.4g} ± {self.std:.2g} ({self.runs} runs)"


def averaged(values: Sequence[float | None] | None,
             spread: tuple[list[float], int] | None) -> list[Any] | None:
    """``values``, each an :class:`Averaged` with its standard deviation when the trial's
    values are the mean of several executions (``spread``: the deviations and the count)."""
    if values is None or spread is None:
        return None if values is None else list(values)
    stds, runs = spread
    return [v if v is None or i >= len(stds) else Averaged(v, stds[i], runs)
            for i, v in enumerate(values)]


def feasible_text(unmet: list[str] | None) -> str | None:
    """``yes``, or ``no: params <= 5e+04`` (the constraints a trial misses); None for a trial
    that recorded no constraint."""
    if unmet is None:
        return None
    return "no: " + ", ".join(unmet) if unmet else "yes"


def member_text(member: int | None, generation: int | None, copied: int | None) -> str | None:
    """``3 · gen 2 · copied 9``: a PBT trial's member, generation and the trial it copied."""
    if member is None:
        return None
    return f"{member} · gen {generation}" + ("" if copied is None else f" · copied {copied}")


def trial_row(number: int, state: TrialState, values: Sequence[float | None] | None,
              columns: list[str],
              params: dict[str, Any], epochs: int | None, duration: float | None,
              kernel: str | None = None, peak_mb: float | None = None,
              error: str | None = None, member: str | None = None,
              origin: str | None = None, unmet: list[str] | None = None,
              costs: dict[str, float] | None = None,
              gpu_peak_mb: float | None = None,
              spread: tuple[list[float], int] | None = None) -> dict[str, Any]:
    """One trial, by column (its state by name); ``columns`` are its objectives'
    (:func:`value_columns`); ``unmet``, the constraints it misses (None: it recorded none);
    ``costs``, the deployment costs measured of its model (``--measure``); ``spread``, the
    standard deviation of each value and the executions it is the mean of
    (``--executions-per-trial``)."""
    row: dict[str, Any] = {"number": number, "state": state.name}
    if member is not None:
        row["member"] = member
    row.update(zip(columns, averaged(values, spread) or [None] * len(columns)))
    if (feasible := feasible_text(unmet)) is not None:
        row["feasible"] = feasible
    for name, figure in (costs or {}).items():
        row.setdefault(name, figure)
    row["params"] = dict(params)
    if origin is not None:
        row["origin"] = origin
    row.update(epochs=epochs or None, duration=duration, kernel=kernel or "this kernel",
               peak_mb=peak_mb)
    if gpu_peak_mb is not None:
        row[GPU_COLUMN] = gpu_peak_mb
    if error:
        row["error"] = error.strip().splitlines()[-1]
    return row


def frozen_row(trial: optuna.trial.FrozenTrial, paths: StudyPaths,
               columns: list[str]) -> dict[str, Any]:
    """A stored trial's row; a running trial's duration is its time so far."""
    state = paths.read_state(trial.number)
    start, end = trial.datetime_start, trial.datetime_complete
    if start is not None and end is None and not trial.state.is_finished():
        end = _dt.datetime.now()
    return mark_discarded(trial_row(
        trial.number, trial.state, trial.values, columns, trial.params,
        len(state.get("history", [])) or len(trial.intermediate_values),
        (end - start).total_seconds() if start and end else None,
        trial.user_attrs.get("kernel"), trial.user_attrs.get("peak_mb") or state.get("peak_mb"),
        trial.user_attrs.get("error"),
        member_text(trial.user_attrs.get(MEMBER), trial.user_attrs.get(GENERATION),
                    trial.user_attrs.get(COPIED)),
        origin_text(trial.user_attrs),
        unmet(trial.constraints) if trial.constraints else None, costs_of(trial.user_attrs),
        state.get(GPU_COLUMN), spread_of(trial.user_attrs)), trial.user_attrs, columns)


def mark_discarded(row: dict[str, Any], attrs: dict[str, Any],
                   columns: list[str]) -> dict[str, Any]:
    """``row`` of a trial discarded by hand (``%automl discard``; else as it is): its state
    DISCARDED, the values it had, and why in the ``discarded`` column."""
    note = discard_note(attrs)
    if note is not None:
        row["state"] = DISCARDED_STATE
        row.update(zip(columns, discarded_values(attrs) or []))
        row[DISCARDED_COLUMN] = note
        row.pop("error", None)
    return row


def with_discarded(columns: list[str], rows: Sequence[dict[str, Any]]) -> list[str]:
    """``columns`` and, last, ``discarded`` when a row has it."""
    return [*columns, DISCARDED_COLUMN] if any(DISCARDED_COLUMN in r for r in rows) \
        else columns


def cell_text(column: str, value: Any) -> str:
    """How a cell of any table reads."""
    if value is None:
        return ""
    if column == "duration":
        return format_duration(value)
    if column in ("peak_mb", GPU_COLUMN):
        return f"{value:.0f} MB"
    if isinstance(value, Averaged):
        return value.text
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell_text('', v)}" for k, v in value.items())
    return str(value)


class TrialRows:
    """The study's trials as rows of plain dicts (``to_pandas()`` if pandas is installed).

    A row holds ``number``, ``state``, the value(s) (``value``, or one column per metric),
    ``params``, ``epochs``, ``duration`` and what the study adds (PBT members, constraints,
    deployment costs...); ``columns`` lists those of the table. It prints as the table
    ``%automl show`` prints, and shows as an HTML table in a notebook.
    """

    def __init__(self, result: StudyResult) -> None:
        self.value_columns = value_columns(result.metrics)
        trials = result.study.get_trials(deepcopy=False)
        self.rows = [frozen_row(t, result.paths, self.value_columns) for t in trials]
        self.columns = with_discarded(trial_columns(
            result.metrics, any("member" in r for r in self.rows),
            any("origin" in r for r in self.rows), any("feasible" in r for r in self.rows),
            cost_names(costs_of(t.user_attrs) for t in trials),
            any(GPU_COLUMN in r for r in self.rows)), self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame`` indexed by trial number."""
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("number")

    def text_rows(self) -> list[list[str]]:
        return [[cell_text(c, row.get(c)) for c in self.columns] for row in self.rows]

    def __repr__(self) -> str:
        return text_table([self.columns, *self.text_rows()])

    def _repr_html_(self) -> str:
        from html import escape

        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
                       for r in self.text_rows())
        return f"<table class='automl-trials'><tr>{head}</tr>{body}</table>"


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of text in aligned columns, for a terminal."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


# -- studies -------------------------------------------------------------------------------
def study_row(summary: StudySummary) -> dict[str, Any]:
    """One study, by column (:data:`STUDY_COLUMNS`), plus ``done`` and ``total`` as numbers."""
    if summary.state is StudyState.UNREADABLE:
        return {"name": summary.name, "state": f"unreadable: {summary.error}",
                "trials": f"?/{summary.total or '?'}", "best": "", "best params": {},
                "last update": "", "done": None, "total": summary.total}
    return {"name": summary.name, "state": str(summary.state), "trials": summary.trials_text,
            "best": summary.best_text(), "best params": summary.best_params or {},
            "last update": summary.updated_text, "done": summary.done, "total": summary.total}
