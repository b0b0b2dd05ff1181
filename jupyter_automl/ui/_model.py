"""What the panel shows, as plain data: the trials and the chart series derived from them.

Kept up to date by the runner's events, or rebuilt from storage (``%automl show``); the chart
builders in ``charts.py`` draw it. Nothing here imports Plotly or ipywidgets.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.trial import TrialState

from .._utils.constraints import Constraint, feasible_only, parse_constraint, unmet
from .._utils.duration import eta
from .._utils.objectives import pareto_front, signs
from ..results import (
    CONTINUED,
    COPIED,
    FINAL,
    GENERATION,
    GPU_COLUMN,
    MEMBER,
    StudyState,
    chain,
    cost_names,
    costs_of,
    mark_discarded,
    member_text,
    spread_of,
    trial_columns,
    trial_row,
    value_columns,
    with_discarded,
)
from ..runs import DISCARDED, WARM_START
from ..search import SUPERNET, origin_text, weights_by_epoch

if TYPE_CHECKING:
    import optuna

    from ..engine import RunEnd
    from ..results import AutomlResult



@dataclass
class TrialRecord:
    number: int
    state: TrialState = TrialState.RUNNING
    params: dict[str, Any] = field(default_factory=dict)
    values: list[float] | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)  # (epoch, objective metric)
    duration: float | None = None
    kernel: str = "this kernel"
    peak_mb: float | None = None
    gpu_peak_mb: float | None = None  # the GPUs' memory at its highest (None: no GPU)
    started: float = field(default_factory=time.monotonic)
    error: str | None = None
    warm: bool = False  # an observation from another study (--warm-start): not counted
    # --scheduler pbt: the member it trains, its generation, the trial its weights came from
    # (continued or copied), whether it copied them, whether it ends the member's training
    member: int | None = None
    generation: int | None = None
    source: int | None = None
    copied: bool = False
    final: bool = False
    origin: str | None = None  # --sampler evolution: "mutated from 12: op_3 conv3→skip"
    supernet: bool = False  # a --darts search: its model mixes every option, never the best
    # --constraint: its recorded violations by expression (Optuna's ``trial.constraints``;
    # none recorded: not known to meet them)
    constraints: dict[str, float] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)  # --measure: its model's figures
    # --darts: a search's architecture weights by epoch, {choice: {option: [weight, ...]}}
    architecture: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # --executions-per-trial: its values' standard deviations and the executions they average
    spread: tuple[list[float], int] | None = None
    # %automl discard: the trial's user attributes that say so (its row reads DISCARDED)
    discard: dict[str, Any] = field(default_factory=dict)

    def set_pbt(self, attrs: dict[str, Any]) -> None:
        """The PBT attributes of the trial's user attributes (none for other trials)."""
        if GENERATION not in attrs:
            return
        self.member, self.generation = int(attrs[MEMBER]), int(attrs[GENERATION])
        source = attrs.get(COPIED, attrs.get(CONTINUED))
        self.source = None if source is None else int(source)
        self.copied = COPIED in attrs
        self.final = bool(attrs.get(FINAL))

    @property
    def unmet(self) -> list[str] | None:
        """The constraints it misses, as written ([]: it meets them; None: none recorded)."""
        return unmet(self.constraints) if self.constraints else None

    @property
    def infeasible(self) -> bool:
        return bool(self.unmet)

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

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, trial: np.ndarray) -> Series:
        """One point per trial, from whole columns (no gaps)."""
        series = cls()
        if len(x):
            series._chunks = [np.column_stack([x, y, trial]).astype(float)]
        return series


class StudyModel:
    def __init__(self, name: str, metrics: list[str | None], directions: list[str],
                 total: int, population: int | None = None) -> None:
        self.name = name
        self.metrics = [m or "value" for m in metrics]
        self.metrics_given = list(metrics)
        self.value_columns = value_columns(metrics)
        self.directions = directions
        self.total = total
        self.records: dict[int, TrialRecord] = {}
        self.started = time.monotonic()
        self.finished_here = 0
        # the study running (this run's), how the run ended, or the stored study's state
        self.status: StudyState | RunEnd = StudyState.RUNNING
        self.selected: int | None = None
        self.span: float | None = None  # a study read from storage: first start to last end
        self.population = population  # --scheduler pbt: the members; None for other studies
        self.costs: list[str] = []  # --measure: the deployment costs the study measures
        # Figures of many trials, computed once per change of the records (a study of 10,000
        # trials is refreshed in milliseconds): _version counts the changes, _cache holds the
        # figures of the last version, _rows the table rows of finished trials.
        self._version = 0
        self._cache: dict[str, tuple[int, Any]] = {}
        self._rows: dict[int, dict[str, Any]] = {}

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: AutomlResult) -> StudyModel:
        scheduler = result.spec.get("scheduler") or {}
        model = cls(result.name, result.metrics, result.directions, result.total,
                    scheduler.get("population"))
        model.costs = list(result.spec.get("measures") or [])
        for trial in result.study.get_trials(deepcopy=False):
            model.add_frozen(trial)
            record = model.records[trial.number]
            state = result.paths.read_state(trial.number)
            record.peak_mb = record.peak_mb or state.get("peak_mb")
            record.gpu_peak_mb = state.get(GPU_COLUMN)
            record.architecture = weights_by_epoch(state.get("history", []))
            metric = state.get("metric")
            if not record.curve and metric:
                record.curve = [(int(h["epoch"]), h[metric]) for h in state.get("history", [])
                                if metric in h]
        model.status = result.summarize().state
        times = [t for trial in result.study.get_trials(deepcopy=False)
                 for t in (trial.datetime_start, trial.datetime_complete) if t is not None]
        model.span = (max(times) - min(times)).total_seconds() if times else 0.0
        return model

    def add_frozen(self, trial: optuna.trial.FrozenTrial) -> None:
        end, start = trial.datetime_complete, trial.datetime_start
        error = (trial.user_attrs.get("error") or "").strip().splitlines()
        self.records[trial.number] = TrialRecord(
            trial.number, trial.state, dict(trial.params),
            list(trial.values) if trial.values else None,
            sorted((int(k), float(v)) for k, v in trial.intermediate_values.items()),
            (end - start).total_seconds() if end and start else None,
            str(trial.user_attrs.get("kernel", "this kernel")), trial.user_attrs.get("peak_mb"),
            error=error[-1] if error else None, warm=WARM_START in trial.user_attrs,
        )
        self.records[trial.number].set_pbt(trial.user_attrs)
        self.records[trial.number].origin = origin_text(trial.user_attrs)
        self.records[trial.number].supernet = bool(trial.user_attrs.get(SUPERNET))
        self.records[trial.number].constraints = dict(trial.constraints)
        self.records[trial.number].costs = costs_of(trial.user_attrs)
        self.records[trial.number].spread = spread_of(trial.user_attrs)
        self.records[trial.number].discard = {k: v for k, v in trial.user_attrs.items()
                                              if k == DISCARDED}
        self.touch(trial.number)

    def touch(self, number: int) -> None:
        """Say that the record of trial ``number`` changed (the model's own methods do)."""
        self._version += 1
        self._rows.pop(number, None)

    def _cached(self, name: str, compute: Any) -> Any:
        version, value = self._cache.get(name, (-1, None))
        if version != self._version:
            value = compute()
            self._cache[name] = (self._version, value)
        return value

    def start(self, number: int, params: dict[str, Any] | None = None) -> TrialRecord:
        """The record of trial ``number``, which runs now (a queued retry starts running)."""
        record = self.records.setdefault(number, TrialRecord(number))
        if record.state == TrialState.WAITING:
            record.state, record.started = TrialState.RUNNING, time.monotonic()
        record.params = dict(params or record.params)
        self.touch(number)
        return record

    def finish(self, number: int, state: TrialState, values: list[float] | None,
               params: dict[str, Any], duration: float, peak_mb: float | None,
               error: str | None) -> None:
        record = self.start(number, params)
        record.state, record.values, record.duration = state, values, duration
        record.peak_mb, record.error = peak_mb, error
        self.touch(number)
        if state != TrialState.FAIL:
            self.finished_here += 1

    # -- figures -------------------------------------------------------------------------------
    @property
    def multi(self) -> bool:
        return len(self.directions) > 1

    def count(self, state: TrialState) -> int:
        """Trials in ``state``, --warm-start observations from other studies and discarded
        trials (FAIL, not failures) left out."""
        return int(self._cached("counts", lambda: Counter(
            r.state for r in self.records.values() if not r.warm and not r.discard))[state])

    @property
    def done(self) -> int:
        return self.count(TrialState.COMPLETE) + self.count(TrialState.PRUNED)

    @property
    def elapsed(self) -> float:
        return self.span if self.span is not None else time.monotonic() - self.started

    @property
    def eta(self) -> float | None:
        if self.status is not StudyState.RUNNING:
            return None
        return eta(self.elapsed, self.finished_here, self.total - self.done)

    @property
    def front(self) -> list[TrialRecord]:
        return list(self._cached("front", self._front))

    def _front(self) -> list[TrialRecord]:
        candidates = self._best_candidates()
        if not self.multi:  # the earliest of the best (as pareto_front), without a list of pairs
            sign = signs(self.directions)[0]
            return [max(candidates, key=lambda r: sign * r.values[0])] if candidates else []  # type: ignore[index]
        done = [(r.number, list(r.values or [])) for r in candidates]
        return [self.records[n] for n, _ in pareto_front(done, signs(self.directions))]

    def _complete(self) -> list[TrialRecord]:
        """The complete trials (not --warm-start's), by number."""
        return list(self._cached("complete", lambda: sorted(
            (r for r in self.records.values() if r.state == TrialState.COMPLETE and r.values
             and not r.warm), key=lambda r: r.number)))

    def _best_candidates(self) -> list[TrialRecord]:
        """The complete trials the best is chosen among: never a --darts search; in a PBT study,
        the members' final generations once one has finished; in a study with constraints, the
        trials that meet them (as :func:`jupyter_automl.results.own_best_trials`)."""
        complete = feasible_only([r for r in self._complete() if not r.supernet])
        return [r for r in complete if r.final] or complete

    def infeasible(self) -> int:
        """The complete trials that miss a constraint (--constraint)."""
        return sum(r.infeasible for r in self._complete())

    def architecture(self) -> tuple[int | None, dict[str, dict[str, list[float]]]]:
        """The architecture weights of the latest --darts search (running or finished)."""
        searches = [r for r in self.records.values() if r.architecture]
        if not searches:
            return None, {}
        latest = max(searches, key=lambda r: r.number)
        return latest.number, latest.architecture

    # -- chart series --------------------------------------------------------------------------
    def curves(self) -> dict[TrialState, Series]:
        """Learning curves grouped by state: COMPLETE, PRUNED (cut short), RUNNING, FAIL."""
        groups = {state: Series() for state in TrialState}
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

    def history(self) -> tuple[Series, Series, Series]:
        """Each finished trial's value by number, the best value so far (one objective), and
        apart, the values of the trials that miss a --constraint (never the best)."""
        complete = [r for r in self._complete() if not r.infeasible]
        numbers = np.array([r.number for r in complete], dtype=np.float64)
        values = np.array([r.values[0] for r in complete if r.values], dtype=np.float64)
        sign = np.float64(signs(self.directions)[0])
        best = sign * np.maximum.accumulate(sign * values) if len(values) else values
        missed = [r for r in self._complete() if r.infeasible]
        apart = np.array([r.number for r in missed], dtype=np.float64)
        return (Series.of(numbers, values, numbers), Series.of(numbers, best, numbers),
                Series.of(apart, np.array([r.values[0] for r in missed if r.values],
                                          dtype=np.float64), apart))

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

    def pareto(self) -> tuple[Series, Series, Series]:
        """The complete trials and the front, on the first two objectives, and apart, the
        trials that miss a --constraint (never on the front)."""
        everything, front, infeasible = Series(), Series(), Series()
        for record in sorted(self._complete(), key=lambda r: r.number):
            (infeasible if record.infeasible else everything).add(
                record.number, [tuple(record.values[:2])], gap=False)  # type: ignore[index]
        for record in sorted(self.front, key=lambda r: r.values[0]):  # type: ignore[index]
            front.add(record.number, [tuple(record.values[:2])], gap=False)  # type: ignore[index]
        return everything, front, infeasible

    @property
    def cost_axis(self) -> str | None:
        """The deployment cost the cost chart draws the first objective against: the first one
        a constraint bounds, else the first measured that is not an objective (None: none)."""
        if self.metrics[0] in self.costs:  # the first objective is a cost: nothing to set it by
            return None
        bounded = [c.metric for c in self.bounds]
        return next((c for c in self.costs if c in bounded), None) or next(
            (c for c in self.costs if c not in self.metrics), None)

    @property
    def bounds(self) -> list[Constraint]:
        """The constraints the trials recorded (each written as the study was given it)."""
        texts = self._cached("bounds", lambda: sorted(
            {text for r in self.records.values() for text in r.constraints}))
        return [parse_constraint(text) for text in texts]

    def costs_chart(self) -> tuple[Series, Series, Series]:
        """The complete trials at (their ``cost_axis`` cost, first objective), the front of
        the feasible ones (the least cost for the value, the best value for the cost), and
        apart, the trials that miss a --constraint."""
        axis = self.cost_axis
        feasible, front, infeasible = Series(), Series(), Series()
        if axis is None:
            return feasible, front, infeasible
        points = [(r, r.costs[axis], r.values[0]) for r in self._complete()  # type: ignore[index]
                  if axis in r.costs and not r.supernet]
        for record, cost, value in points:
            (infeasible if record.infeasible else feasible).add(
                record.number, [(cost, value)], gap=False)
        sign = signs(self.directions)[0]
        kept = [(r.number, [c, v]) for r, c, v in points if not r.infeasible]
        for number, (cost, value) in sorted(pareto_front(kept, [-1.0, sign]),
                                            key=lambda p: p[1][0]):
            front.add(number, [(cost, value)], gap=False)
        return feasible, front, infeasible

    # -- population-based training ------------------------------------------------------------
    def lineages(self) -> tuple[list[Series], Series, Series]:
        """One learning curve per member across its generations (a member that copied another
        jumps to the copied curve), the points where a member copied another, and the best
        member's lineage: the curves of the trials its weights came through."""
        members = [Series() for _ in range(self.population or 0)]
        copies = Series()
        by_member: dict[int, dict[int, TrialRecord]] = {}
        for record in sorted(self.records.values(), key=lambda r: r.number):
            if record.member is None or record.generation is None or not record.curve:
                continue
            if record.member < len(members):  # a retry replaces an attempt that failed
                chosen = by_member.setdefault(record.member, {})
                old = chosen.get(record.generation)
                if old is None or old.state != TrialState.COMPLETE \
                        or record.state == TrialState.COMPLETE:
                    chosen[record.generation] = record
        for member, generations in by_member.items():
            last = 0
            for generation in sorted(generations):
                record = generations[generation]
                points = [p for p in record.curve if p[0] > last]
                if not points:
                    continue
                members[member].add(record.number, points, gap=False)
                if record.copied:
                    copies.add(record.number, points[:1], gap=False)
                last = points[-1][0]
        best = Series()
        front = self.front
        if front and not self.multi:
            done = 0
            for record in self.chain(front[0].number):
                points = [p for p in record.curve if p[0] > done]
                best.add(record.number, points, gap=False)
                done = points[-1][0] if points else done
        return members, copies, best

    def chain(self, number: int) -> list[TrialRecord]:
        """The trials the weights of PBT trial ``number`` came through, generation 0 first."""
        return chain(self.records, number, lambda record: record.source)

    def table_rows(self) -> list[dict[str, Any]]:
        """The trials as rows (:func:`jupyter_automl.results.trial_row`, as everywhere), by
        number; a running trial's duration is its time so far. A finished trial's row is made
        once (until :meth:`touch`)."""
        now = time.monotonic()
        rows = []
        for number in sorted(self.records):
            row = self._rows.get(number)
            if row is None:
                row = self._row(self.records[number], now)
                if self.records[number].state.is_finished():
                    self._rows[number] = row
            rows.append(row)
        return rows

    def _row(self, r: TrialRecord, now: float) -> dict[str, Any]:
        row = trial_row(r.number, r.state, r.values, self.value_columns, r.params, r.epochs,
                        now - r.started if r.state == TrialState.RUNNING else r.duration,
                        r.kernel,
                        r.peak_mb, r.error,
                        member_text(r.member, r.generation, r.source if r.copied else None),
                        r.origin, r.unmet, r.costs, r.gpu_peak_mb, r.spread)
        return mark_discarded(row, r.discard, self.value_columns)

    @property
    def columns(self) -> list[str]:
        evolved = self._cached("evolved", lambda: any(r.origin for r in self.records.values()))
        constrained = self._cached("constrained", lambda: any(
            r.constraints for r in self.records.values()))
        costs = self._cached("costs", lambda: cost_names(r.costs for r in self.records.values()))
        gpu = self._cached("gpu", lambda: any(
            r.gpu_peak_mb is not None for r in self.records.values()))
        discarded = self._cached("discarded", lambda: [
            {"discarded": True} for r in self.records.values() if r.discard])
        return with_discarded(trial_columns(self.metrics_given, self.population is not None,
                                            evolved, constrained, costs, gpu), discarded)
