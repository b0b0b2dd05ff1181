"""The live study panel: progress, best trial, charts and the trial table under the cell.

A :class:`StudyPanel` is a runner listener. Events only update the in-memory model; the widgets
are refreshed at most every ``interval`` seconds (and once at the end), inside
``hold_sync``/``batch_update`` so one refresh is a few messages whatever the study's size; and
never more often than keeps refreshing under a tenth of the kernel's time, so a study's trials
do not slow down as its charts grow.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

from .. import _optuna
from .._utils.duration import format_duration
from ..engine import Listener, Outcome, RunEnd
from ..results import StudyState, costs_of, spread_of
from ..search import SUPERNET, origin_text, weights_by_epoch
from . import _charts as charts
from ._model import StudyModel
from ._table import TrialTableWidget

if TYPE_CHECKING:
    import optuna

    from ..engine import RunView
    from ..training import TrialFit

INTERVAL = 0.5  # seconds between two refreshes of the widgets
IMPORTANCE_EVERY = 10  # finished trials between two recomputations of the importances
SHARE = 0.1  # of the kernel's time, at most, spent refreshing (a refresh of 50 ms waits 0.5 s)


class StudyPanel(Listener):
    title = "the live panel"
    controls = True

    def __init__(self, interval: float = INTERVAL, display: bool = True) -> None:
        self.interval = interval
        self.display = display
        self.model: StudyModel | None = None
        self.root: Any = None
        self.on_stop: Callable[[], None] | None = None
        self.on_resume: Callable[[], None] | None = None
        self._last = 0.0
        self._cost = 0.0  # seconds the last refresh took
        self._trials_dirty = True
        self._importance_at = -IMPORTANCE_EVERY
        self._study: Any = None
        self._evolution = False  # --sampler evolution: the table shows each trial's origin
        self._darts = False  # --darts: the panel draws the searches' architecture weights
        self._constrained = False  # --constraint: the table marks the trials that miss them
        self._executions = False  # --executions-per-trial N: values with their spread

    # -- listener events -------------------------------------------------------------------------
    def study_started(self, runner: RunView) -> None:
        prepared = runner.prepared
        options = prepared.options
        model = StudyModel(runner.name, [o.metric for o in prepared.objectives],
                           list(options.directions), runner.total,
                           options.population if options.pbt else None)
        _optuna.preload(runner.study)  # a study of 10,000 trials: a few queries, not the ORM
        for trial in runner.study.get_trials(deepcopy=False):
            model.add_frozen(trial)
        self._study = runner.study
        self._evolution = "evolution" in options.sampler
        self._darts = options.darts
        self._constrained = bool(options.constraints)
        self._executions = options.executions > 1
        model.costs = list(options.measures)
        if self.root is None:
            self.attach(model)
        else:  # Resume: the same widgets show the new run
            self.model = model
            self._trials_dirty = True
            self.refresh(force=True)

    def trial_started(self, runner: RunView, trial: optuna.Trial) -> None:
        model = self._need()
        record = model.start(trial.number)
        if model.population is not None:
            record.set_pbt(trial.user_attrs)
            model.touch(trial.number)
        self._trials_dirty = True
        self.refresh()

    def epoch_ended(self, runner: RunView, fit: TrialFit) -> None:
        record = self._need().start(fit.trial.number, fit.trial.params)
        if len(record.curve) + 1 == len(fit.history):  # one more epoch
            logs = fit.history[-1]
            if fit.metric in logs:
                record.curve.append((int(logs["epoch"]), logs[fit.metric]))
        else:  # a resumed trial: its earlier epochs came from the checkpoint
            record.curve = [(int(h["epoch"]), h[fit.metric]) for h in fit.history
                            if fit.metric in h]
        record.peak_mb = fit.peak_mb
        if fit.supernet:
            record.architecture = weights_by_epoch(fit.history)
        self.refresh()

    def trial_finished(self, runner: RunView, trial: optuna.Trial, outcome: Outcome) -> None:
        extra = outcome.extra  # what a worker kernel reported
        error = outcome.error.strip().splitlines()[-1] if outcome.error else None
        model = self._need()
        model.finish(trial.number, outcome.state, outcome.values, trial.params,
                     outcome.duration, outcome.peak_mb, error)
        record = model.records[trial.number]
        # What the trial wrote of itself is read from the storage: a worker kernel writes it
        # there, and ``trial`` keeps the attributes it had when it was asked.
        stored = _optuna.frozen(runner.study, trial) \
            if model.population is not None or self._evolution or self._darts \
            or self._constrained or model.costs or self._executions else None
        attrs = stored.user_attrs if stored is not None else {}
        if stored is not None and self._constrained:  # a worker kernel set them in the storage
            record.constraints = dict(stored.constraints)
        if stored is not None and model.costs:
            record.costs = costs_of(stored.user_attrs)
        if model.population is not None:  # the trial says now whether it ends its member
            record.set_pbt(attrs)
            model.total = runner.total
        if self._evolution:  # the sampler wrote its parent and mutation in the storage
            record.origin = origin_text(attrs)
        if self._darts:  # a search says at its end that it was one
            record.supernet = bool(attrs.get(SUPERNET))
            if record.supernet and not record.architecture:  # it ran on a worker kernel
                history = runner.paths.read_state(trial.number).get("history", [])
                record.architecture = weights_by_epoch(history)
        record.gpu_peak_mb = outcome.fit.gpu_peak_mb if outcome.fit is not None \
            else extra.get("gpu_peak_mb")
        if "kernel" in extra:
            record.kernel = extra["kernel"]
            record.curve = [(int(e), float(v)) for e, v in extra.get("curve", [])]
        if stored is not None and self._executions:  # the mean curve, once they all ran
            record.spread = spread_of(attrs)
            if stored.intermediate_values:
                record.curve = sorted((int(k), float(v))
                                      for k, v in stored.intermediate_values.items())
        model.touch(trial.number)
        self._trials_dirty = True
        self.refresh()

    def study_finished(self, runner: RunView, reason: RunEnd) -> None:
        self._need().status = reason
        self._trials_dirty = True
        self.refresh(force=True)

    # -- widgets -------------------------------------------------------------------------------
    def attach(self, model: StudyModel, study: Any = None) -> None:
        """Build the widgets for ``model`` (and show them, unless ``display=False``)."""
        import ipywidgets as w
        import plotly.graph_objects as go

        self.model = model
        self._study = study or self._study
        self.header = w.HTML().add_class("automl-progress")
        self.best = w.HTML().add_class("automl-best")
        self.table = TrialTableWidget(layout=w.Layout(max_height="320px", overflow="auto"))
        self.table.add_class("automl-table")
        self.table.observe(lambda change: self.select(change["new"]), names="selected")
        if model.population is not None:  # population-based training
            self.figures: dict[str, Any] = {
                "curves": charts.make_lineages(model, go.FigureWidget),
                "schedule": charts.make_schedule(self._study, go.FigureWidget),
                "history": charts.make_history(model, go.FigureWidget),
                "parallel": charts.make_parallel(model, go.FigureWidget),
            }
        else:
            self.figures = {
                "curves": charts.make_curves(model, go.FigureWidget),
                "history": charts.make_pareto(model, go.FigureWidget) if model.multi
                else charts.make_history(model, go.FigureWidget),
                "parallel": charts.make_parallel(model, go.FigureWidget),
                "importance": charts.make_importance({}, go.FigureWidget),
            }
            if self._darts:
                self.figures["architecture"] = charts.make_architecture(model, go.FigureWidget)
        if model.cost_axis is not None:
            self.figures["costs"] = charts.make_costs(model, go.FigureWidget)
        for name, fig in self.figures.items():
            fig.add_class(f"automl-{name}")
            for trace in fig.data:
                if getattr(trace, "mode", None) is not None:
                    trace.on_click(self._clicked)
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="warning",
                                    layout=w.Layout(display="none"))
        self.resume_button = w.Button(description="Resume", icon="play", button_style="success",
                                      layout=w.Layout(display="none"))
        self.stop_button.on_click(lambda _: self.on_stop and self.on_stop())
        self.resume_button.on_click(lambda _: self.on_resume and self.on_resume())
        grid = w.GridBox(list(self.figures.values()),
                         layout=w.Layout(grid_template_columns="repeat(2, minmax(0, 1fr))"))
        self.root = w.VBox([w.HBox([self.header, self.stop_button, self.resume_button]),
                            self.best, grid, self.table]).add_class("automl-panel")
        self._last = time.monotonic()  # the charts were just drawn: only the text is due
        self._trials_dirty = False
        self._fill_text(model)
        if self.display:
            from IPython.display import display

            display(self.root)

    def set_controls(self, on_stop: Callable[[], None] | None,
                     on_resume: Callable[[], None] | None) -> None:
        """Show Stop/Resume (background studies); ``None`` hides a button."""
        self.on_stop, self.on_resume = on_stop, on_resume
        if self.root is not None:
            self._controls()

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        wait = max(self.interval, self._cost / SHARE)
        if self.root is None or (not force and now - self._last < wait):
            return
        self._last = now
        model = self._need()
        self._fill_curves(model)
        if self._trials_dirty:
            self._trials_dirty = False
            self._fill_trial_charts(model, force)
            self._fill_text(model)
        else:
            self.header.value = self._header_html(model)
        self._cost = time.monotonic() - now

    def _fill_text(self, model: StudyModel) -> None:
        self.header.value = self._header_html(model)
        self.best.value = self._best_html(model)
        self.table.set_rows(model.columns, model.table_rows())
        self._controls()

    def _fill_curves(self, model: StudyModel) -> None:
        fill = charts.fill_lineages if model.population is not None else charts.fill_curves
        with self.figures["curves"].batch_update():
            fill(self.figures["curves"], model)
        if "architecture" in self.figures:  # as the curves: a search's weights move each epoch
            with self.figures["architecture"].batch_update():
                charts.fill_architecture(self.figures["architecture"], model)

    def _fill_trial_charts(self, model: StudyModel, force: bool) -> None:
        history = self.figures["history"]
        with history.batch_update():
            (charts.fill_pareto if model.multi else charts.fill_history)(history, model)
        with self.figures["parallel"].batch_update():
            charts.fill_parallel(self.figures["parallel"], model)
        if "costs" in self.figures:
            with self.figures["costs"].batch_update():
                charts.fill_costs(self.figures["costs"], model)
        if "schedule" in self.figures and self._study is not None:
            with self.figures["schedule"].batch_update():
                charts.fill_schedule(self.figures["schedule"], self._study)
            return
        due = model.done - self._importance_at >= IMPORTANCE_EVERY
        if self._study is not None and (due or (force and model.status != "running")):
            self._importance_at = model.done
            with self.figures["importance"].batch_update():
                charts.fill_importance(self.figures["importance"], charts.importances(self._study))

    # -- selection -----------------------------------------------------------------------------
    def select(self, number: int | None) -> None:
        """Highlight trial ``number`` in every chart and the table (-1 or None: nothing)."""
        model = self._need()
        model.selected = None if number is None or number < 0 else number
        self.table.selected = -1 if model.selected is None else model.selected
        self._fill_curves(model)
        history = self.figures["history"]
        with history.batch_update():
            (charts.fill_pareto if model.multi else charts.fill_history)(history, model)
        if "costs" in self.figures:
            with self.figures["costs"].batch_update():
                charts.fill_costs(self.figures["costs"], model)

    def _clicked(self, trace: Any, points: Any, _selector: Any) -> None:
        for index in points.point_inds:
            number = trace.customdata[index] if trace.customdata is not None else None
            if number is not None and not math.isnan(number):
                self.select(int(number))
                return

    # -- text ----------------------------------------------------------------------------------
    def _controls(self) -> None:
        running = self._need().status is StudyState.RUNNING
        self.stop_button.layout.display = "" if self.on_stop and running else "none"
        self.resume_button.layout.display = "" if self.on_resume and not running else "none"

    @staticmethod
    def _header_html(model: StudyModel) -> str:
        parts = [f"<b>{html.escape(model.name)}</b>: {model.done}/{model.total} trials",
                 f"{model.count(TrialState.RUNNING)} running",
                 f"{model.count(TrialState.PRUNED)} pruned",
                 f"{model.count(TrialState.FAIL)} failed",
                 f"elapsed {format_duration(model.elapsed)}"]
        if model.eta is not None:
            parts.append(f"ETA {format_duration(model.eta)}")
        if model.status is not StudyState.RUNNING:
            parts.append(html.escape(str(model.status)))
        return " &middot; ".join(parts)

    @staticmethod
    def _best_html(model: StudyModel) -> str:
        front = model.front
        if not front and (missed := model.infeasible()):
            return (f"no feasible trial yet: {missed} complete trial"
                    f"{' misses' if missed == 1 else 's miss'} the constraints")
        if not front:
            return "no complete trial yet"
        if model.multi:
            return f"Pareto front: trials {', '.join(str(r.number) for r in front)}"
        best = front[0]
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in best.params.items())
        return (f"best {html.escape(model.metrics[0])} <b>{best.values[0]:.6g}</b> "  # type: ignore[index]
                f"(trial {best.number}): {html.escape(params)}")

    def _need(self) -> StudyModel:
        assert self.model is not None, "the panel has no study yet"
        return self.model
