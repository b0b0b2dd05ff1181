"""What the panel shows, as plain data: the trials and the chart series derived from them.

Kept up to date by the runner's events, or rebuilt from storage (``%automl show``); the chart
builders in ``charts.py`` draw it. Nothing here imports Plotly or ipywidgets.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._utils.duration import eta
from .._utils.objectives import pareto_front, signs
from ..results import trial_columns, trial_row, value_columns
from ..runs import WARM_START

if TYPE_CHECKING:
    import optuna

    from ..results import AutomlResult

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")  # every Optuna trial state


@dataclass
class TrialRecord:
    number: int
    state: str = "RUNNING"
    params: dict[str, Any] = field(default_factory=dict)
    values: list[float] | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)  # (epoch, objective metric)
    duration: float | None = None
    kernel: str = "this kernel"
    peak_mb: float | None = None
    started: float = field(default_factory=time.monotonic)
    error: str | None = None
    warm: bool = False  # an observation from another study (--warm-start): not counted

    @property
    def epochs(self) -> int:
        return len(self.curve)


class Series:
    """x, y and the trial of every point as NumPy arrays, with a NaN gap between trials: one
    Plotly trace draws many lines, and a click on any point names its trial. Arrays (not
    lists) because Plotly validates lists element by element: 50 000 points would take
    hundreds of milliseconds."""

    _GAP = np.full((1, 3), np.nan)

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._array: np.ndarray | None = None

    def add(self, number: int, points: list[tuple[Any, Any]], gap: bool = True) -> None:
        """Append a trial's points; ``gap`` separates them from the previous trial's."""
        if not points:
            return
        chunk = np.empty((len(points), 3))
        chunk[:, :2] = points
        chunk[:, 2] = number
        if gap and self._chunks:
            self._chunks.append(self._GAP)
        self._chunks.append(chunk)
        self._array = None

    def _columns(self) -> np.ndarray:
        if self._array is None:
            self._array = np.concatenate(self._chunks) if self._chunks else np.empty((0, 3))
        return self._array

    @property
    def x(self) -> np.ndarray:
        return self._columns()[:, 0]

    @property
    def y(self) -> np.ndarray:
        return self._columns()[:, 1]

    @property
    def trial(self) -> np.ndarray:
        return self._columns()[:, 2]

    def __len__(self) -> int:
        return len(self._columns())


class StudyModel:
    def __init__(self, name: str, metrics: list[str | None], directions: list[str],
                 total: int) -> None:
        self.name = name
        self.metrics = [m or "value" for m in metrics]
        self.metrics_given = list(metrics)
        self.value_columns = value_columns(metrics)
        self.directions = directions
        self.total = total
        self.records: dict[int, TrialRecord] = {}
        self.started = time.monotonic()
        self.finished_here = 0
        self.status = "running"
        self.selected: int | None = None
        self.span: float | None = None  # a study read from storage: first start to last end

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: AutomlResult) -> StudyModel:
        model = cls(result.name, result.metrics, result.directions, result.total)
        for trial in result.study.get_trials(deepcopy=False):
            model.add_frozen(trial)
            record = model.records[trial.number]
            state = result.paths.read_state(trial.number)
            record.peak_mb = record.peak_mb or state.get("peak_mb")
            metric = state.get("metric")
            if not record.curve and metric:
                record.curve = [(int(h["epoch"]), h[metric]) for h in state.get("history", [])
                                if metric in h]
        model.status = result.status
        times = [t for trial in result.study.get_trials(deepcopy=False)
                 for t in (trial.datetime_start, trial.datetime_complete) if t is not None]
        model.span = (max(times) - min(times)).total_seconds() if times else 0.0
        return model

    def add_frozen(self, trial: optuna.trial.FrozenTrial) -> None:
        end, start = trial.datetime_complete, trial.datetime_start
        error = (trial.user_attrs.get("error") or "").strip().splitlines()
        self.records[trial.number] = TrialRecord(
            trial.number, trial.state.name, dict(trial.params),
            list(trial.values) if trial.values else None,
            sorted((int(k), float(v)) for k, v in trial.intermediate_values.items()),
            (end - start).total_seconds() if end and start else None,
            str(trial.user_attrs.get("kernel", "this kernel")), trial.user_attrs.get("peak_mb"),
            error=error[-1] if error else None, warm=WARM_START in trial.user_attrs,
        )

    def start(self, number: int, params: dict[str, Any] | None = None) -> TrialRecord:
        """The record of trial ``number``, which runs now (a queued retry starts running)."""
        record = self.records.setdefault(number, TrialRecord(number))
        if record.state == "WAITING":
            record.state, record.started = "RUNNING", time.monotonic()
        record.params = dict(params or record.params)
        return record

    def finish(self, number: int, state: str, values: list[float] | None,
               params: dict[str, Any], duration: float, peak_mb: float | None,
               error: str | None) -> None:
        record = self.start(number, params)
        record.state, record.values, record.duration = state, values, duration
        record.peak_mb, record.error = peak_mb, error
        if state != "FAIL":
            self.finished_here += 1

    # -- figures -------------------------------------------------------------------------------
    @property
    def multi(self) -> bool:
        return len(self.directions) > 1

    def count(self, state: str) -> int:
        """Trials in ``state``, --warm-start observations from other studies left out."""
        return sum(r.state == state and not r.warm for r in self.records.values())

    @property
    def done(self) -> int:
        return self.count("COMPLETE") + self.count("PRUNED")

    @property
    def elapsed(self) -> float:
        return self.span if self.span is not None else time.monotonic() - self.started

    @property
    def eta(self) -> float | None:
        if self.status != "running":
            return None
        return eta(self.elapsed, self.finished_here, self.total - self.done)

    @property
    def front(self) -> list[TrialRecord]:
        done = [(r.number, list(r.values or [])) for r in self._complete()]
        return [self.records[n] for n, _ in pareto_front(done, signs(self.directions))]

    def _complete(self) -> list[TrialRecord]:
        return [r for r in self.records.values()
                if r.state == "COMPLETE" and r.values and not r.warm]

    # -- chart series --------------------------------------------------------------------------
    def curves(self) -> dict[str, Series]:
        """Learning curves grouped by state: COMPLETE, PRUNED (cut short), RUNNING, FAIL."""
        groups = {state: Series() for state in STATES}
        for number in sorted(self.records):
            record = self.records[number]
            if record.curve:
                groups.setdefault(record.state, Series()).add(number, record.curve)
        return groups

    def selected_curve(self) -> Series:
        series = Series()
        record = self.records.get(self.selected) if self.selected is not None else None
        if record is not None and record.curve:
            series.add(record.number, record.curve)
        return series

    def history(self) -> tuple[Series, Series]:
        """Each finished trial's value by number, and the best value so far (one objective)."""
        values, best = Series(), Series()
        sign = signs(self.directions)[0]
        current: float | None = None
        for record in sorted(self._complete(), key=lambda r: r.number):
            value = record.values[0]  # type: ignore[index]
            values.add(record.number, [(record.number, value)], gap=False)
            if current is None or sign * value > sign * current:
                current = value
            best.add(record.number, [(record.number, current)], gap=False)
        return values, best

    def parallel(self) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Parallel-coordinates dimensions (numeric params; choices as indices) and the color."""
        records = self._complete()
        names = sorted({k for r in records for k in r.params})
        dims = []
        for name in names:
            raw = [r.params.get(name) for r in records]
            if all(isinstance(v, (int, float)) or v is None for v in raw):
                values = np.array([math.nan if v is None else v for v in raw], dtype=float)
                dims.append({"label": name, "values": values})
            else:
                labels = sorted({str(v) for v in raw})
                index = {label: i for i, label in enumerate(labels)}
                dims.append({"label": name, "values": np.array([index[str(v)] for v in raw]),
                             "tickvals": list(range(len(labels))), "ticktext": labels})
        color = np.array([r.values[0] for r in records if r.values], dtype=np.float64)
        if records:
            dims.append({"label": self.metrics[0], "values": color})
        return dims, color

    def pareto(self) -> tuple[Series, Series]:
        """All complete trials and the front, on the first two objectives."""
        everything, front = Series(), Series()
        for record in sorted(self._complete(), key=lambda r: r.number):
            everything.add(record.number, [tuple(record.values[:2])], gap=False)  # type: ignore[index]
        for record in sorted(self.front, key=lambda r: r.values[0]):  # type: ignore[index]
            front.add(record.number, [tuple(record.values[:2])], gap=False)  # type: ignore[index]
        return everything, front

    def table_rows(self) -> list[dict[str, Any]]:
        """The trials as rows (:func:`jupyter_automl.results.trial_row`, as everywhere); a
        running trial's duration is its time so far."""
        now = time.monotonic()
        return [trial_row(r.number, r.state, r.values, self.value_columns, r.params, r.epochs,
                          now - r.started if r.state == "RUNNING" else r.duration, r.kernel,
                          r.peak_mb, r.error)
                for r in (self.records[n] for n in sorted(self.records))]

    @property
    def columns(self) -> list[str]:
        return trial_columns(self.metrics_given)
