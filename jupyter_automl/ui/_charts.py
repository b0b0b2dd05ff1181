"""Plotly figures of a :class:`~.model.StudyModel`.

Every chart is built once with a fixed set of traces (``make_*``) and refreshed by assigning
new data to those traces (``fill_*``), so the same code draws a static ``go.Figure`` for a
saved notebook and updates a live ``FigureWidget`` in place. Many trials share one trace
(lines separated by gaps), so a chart of 1000 trials is still a handful of traces.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from optuna.trial import TrialState

from ._model import Series, StudyModel

CURVES = ("complete", "pruned", "running", "failed", "selected")
_CURVE_STATE = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED,
                "running": TrialState.RUNNING, "failed": TrialState.FAIL}
_STYLE = {
    "complete": {"color": "rgba(31,119,180,0.55)", "width": 1.5},
    "pruned": {"color": "rgba(150,150,150,0.45)", "width": 1, "dash": "dot"},
    "running": {"color": "rgba(255,127,14,0.9)", "width": 2},
    "failed": {"color": "rgba(214,39,40,0.35)", "width": 1, "dash": "dash"},
    "selected": {"color": "crimson", "width": 4},
}


def _go() -> Any:
    import plotly.graph_objects as go  # plotly loads with the first chart, never at %load_ext

    return go


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    # No width: with autosize a chart is drawn at the width of its grid cell.
    return {"title": {"text": title, "font": {"size": 14}}, "xaxis": {"title": {"text": x}},
            "yaxis": {"title": {"text": y}}, "autosize": True, "height": 320,
            "margin": {"l": 60, "r": 20, "t": 40, "b": 45}, "template": "plotly_white",
            "showlegend": True, **extra}


def _whole_ticks(fig: Any, series: Series) -> None:
    """Epochs and trial numbers are whole: a tick per step, or per a round few steps."""
    finite = series.x[~np.isnan(series.x)]
    largest = float(finite.max()) if len(finite) else 1.0
    fig.layout.xaxis.dtick = max(1, math.ceil(largest / 10))


def _assign(trace: Any, series: Series) -> None:
    trace.x, trace.y, trace.customdata = series.x, series.y, series.trial


# -- learning curves ---------------------------------------------------------------------------
def make_curves(model: StudyModel, figure_class: Any = None) -> Any:
    go = _go()
    fig = (figure_class or go.Figure)(layout=_layout(
        "Learning curves", "epoch", model.metrics[0], legend={"orientation": "h", "y": -0.25}))
    for name in CURVES:
        fig.add_scatter(name=name, mode="lines", line=_STYLE[name], connectgaps=False,
                        hovertemplate="trial %{customdata}<br>epoch %{x}: %{y:.4g}"
                                      "<extra></extra>")
    fill_curves(fig, model)
    return fig


def fill_curves(fig: Any, model: StudyModel) -> None:
    groups = model.curves()
    for trace in fig.data:
        series = model.selected_curve() if trace.name == "selected" \
            else groups[_CURVE_STATE[trace.name]]
        _assign(trace, series)
    complete = groups[TrialState.COMPLETE]
    _whole_ticks(fig, complete if len(complete) else groups[TrialState.RUNNING])


# -- population-based training -------------------------------------------------------------------
_MEMBER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                  "#7f7f7f", "#bcbd22", "#17becf")


def make_lineages(model: StudyModel, figure_class: Any = None) -> Any:
    """A PBT study's learning curves, one line per member across its generations; a ring
    where a member copied another's checkpoint, and the best member's lineage in bold."""
    go = _go()
    fig = (figure_class or go.Figure)(layout=_layout(
        "Population: a line per member", "epoch", model.metrics[0],
        legend={"orientation": "h", "y": -0.25}))
    for member in range(model.population or 0):
        fig.add_scatter(name=f"member {member}", mode="lines", showlegend=False,
                        line={"color": _MEMBER_COLORS[member % len(_MEMBER_COLORS)],
                              "width": 1.5},
                        hovertemplate=f"member {member}, trial %{{customdata}}<br>epoch %{{x}}: "
                                      "%{y:.4g}<extra></extra>")
    fig.add_scatter(name="copied a better member", mode="markers",
                    marker={"symbol": "circle-open", "size": 10, "color": "black",
                            "line": {"width": 2}},
                    hovertemplate="trial %{customdata} copied a better member's checkpoint"
                                  "<extra></extra>")
    fig.add_scatter(name="best lineage", mode="lines",
                    line={"color": "rgba(0,0,0,0.28)", "width": 8},
                    hovertemplate="trial %{customdata}<br>epoch %{x}: %{y:.4g}<extra></extra>")
    fill_lineages(fig, model)
    return fig


def fill_lineages(fig: Any, model: StudyModel) -> None:
    members, copies, best = model.lineages()
    for trace, series in zip(fig.data, [*members, copies, best]):
        _assign(trace, series)
    if members:
        _whole_ticks(fig, max(members, key=len))


def make_schedule(study: Any, figure_class: Any = None) -> Any:
    """The schedule PBT found: each mutable parameter's value by epoch along the best
    member's lineage, as its position in its range (log scale where the range is), the value
    itself on hover."""
    go = _go()
    layout = _layout("Schedule found (best lineage)", "epoch", "position in its range")
    layout["yaxis"].update(range=[-0.05, 1.05], tickformat=".0%")
    layout["legend"] = {"orientation": "h", "y": -0.25}
    fig = (figure_class or go.Figure)(layout=layout)
    fill_schedule(fig, study)
    return fig


def fill_schedule(fig: Any, study: Any) -> None:
    from ..results import own_best_trials, schedule

    best = own_best_trials(study) if study is not None else []
    if not best:
        return
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    columns = schedule(trials, best[0].number)
    names = [n for n in columns if n not in ("epoch", "generation", "trial")]
    traces = {trace.name: trace for trace in fig.data}
    for index, name in enumerate(names):
        if name not in traces:
            fig.add_scatter(name=name, mode="lines+markers", line={"shape": "hv"},
                            marker={"size": 5,
                                    "color": _MEMBER_COLORS[index % len(_MEMBER_COLORS)]},
                            hovertemplate=f"{name}: %{{text}} (epoch %{{x}})<extra></extra>")
            traces[name] = fig.data[-1]
        values = columns[name]
        dist = trials[columns["trial"][-1]].distributions.get(name)
        traces[name].x = np.array(columns["epoch"], dtype=float)
        traces[name].y = np.array([_position(v, dist) for v in values], dtype=float)
        traces[name].text = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in values]
    fig.layout.xaxis.dtick = max(1, math.ceil(max(columns["epoch"], default=1) / 10))


def _position(value: Any, dist: Any) -> float:
    """Where ``value`` lies in ``dist``'s range, 0 to 1 (log-scaled for a log range)."""
    if dist is None:
        return math.nan
    choices = getattr(dist, "choices", None)
    if choices is not None:
        return choices.index(value) / max(1, len(choices) - 1) if value in choices else math.nan
    low, high = float(dist.low), float(dist.high)
    if dist.log:
        value, low, high = math.log(value), math.log(low), math.log(high)
    return (float(value) - low) / (high - low)


# -- history -----------------------------------------------------------------------------------
def make_history(model: StudyModel, figure_class: Any = None) -> Any:
    go = _go()
    fig = (figure_class or go.Figure)(layout=_layout(
        "Optimization history", "trial", model.metrics[0]))
    fig.add_scatter(name="trial value", mode="markers", marker={"color": "#1f77b4", "size": 7},
                    hovertemplate="trial %{customdata}: %{y:.4g}<extra></extra>")
    fig.add_scatter(name="best so far", mode="lines", line={"shape": "hv", "color": "#2ca02c"},
                    hoverinfo="skip")
    _add_selected_marker(fig)
    _add_infeasible(fig, "trial %{customdata}: %{y:.4g}, misses a constraint")
    fill_history(fig, model)
    return fig


def fill_history(fig: Any, model: StudyModel) -> None:
    values, best, infeasible = model.history()
    _whole_ticks(fig, values)
    _assign(fig.data[0], values)
    _assign(fig.data[1], best)
    _assign(fig.data[2], _selected_point(model, values))
    _assign_infeasible(fig.data[3], infeasible)


def _add_selected_marker(fig: Any) -> None:
    """The last trace of a per-trial chart: a ring around the selected trial's point."""
    fig.add_scatter(name="selected", mode="markers", hoverinfo="skip",
                    marker={"color": "crimson", "size": 14, "symbol": "circle-open",
                            "line": {"width": 3}})


def _selected_point(model: StudyModel, series: Series) -> Series:
    picked = Series()
    if model.selected is not None:
        rows = series.trial == model.selected
        picked.add(model.selected, list(zip(series.x[rows], series.y[rows])), gap=False)
    return picked


# -- parallel coordinates ------------------------------------------------------------------------
def make_parallel(model: StudyModel, figure_class: Any = None) -> Any:
    go = _go()
    layout = _layout("Parameters of complete trials", "", "")
    layout.update(margin={"l": 60, "r": 60, "t": 80, "b": 30}, showlegend=False)
    fig = (figure_class or go.Figure)(layout=layout)
    fig.add_parcoords(line={"colorscale": "Viridis", "showscale": True})
    fill_parallel(fig, model)
    return fig


def fill_parallel(fig: Any, model: StudyModel) -> None:
    dims, color = model.parallel()
    trace = fig.data[0]
    trace.dimensions = dims
    trace.line.color = color
    trace.line.reversescale = model.directions[0] == "minimize"


# -- importance --------------------------------------------------------------------------------
def make_importance(importances: dict[str, float], figure_class: Any = None) -> Any:
    go = _go()
    layout = _layout("Parameter importance", "importance", "")
    layout.update(showlegend=False)
    fig = (figure_class or go.Figure)(layout=layout)
    fig.add_bar(orientation="h", marker={"color": "#9467bd"})
    fill_importance(fig, importances)
    return fig


def fill_importance(fig: Any, importances: dict[str, float]) -> None:
    ordered = sorted(importances.items(), key=lambda kv: kv[1])
    fig.data[0].x = [v for _, v in ordered]
    fig.data[0].y = [k for k, _ in ordered]


# -- Pareto front ------------------------------------------------------------------------------
def make_pareto(model: StudyModel, figure_class: Any = None) -> Any:
    go = _go()
    fig = (figure_class or go.Figure)(layout=_layout(
        "Pareto front", model.metrics[0], model.metrics[1]))
    fig.add_scatter(name="trials", mode="markers", marker={"color": "#bbbbbb", "size": 7},
                    hovertemplate="trial %{customdata}: (%{x:.4g}, %{y:.4g})<extra></extra>")
    fig.add_scatter(name="Pareto front", mode="lines+markers", line={"color": "#d62728"},
                    marker={"size": 9},
                    hovertemplate="trial %{customdata}: (%{x:.4g}, %{y:.4g})<extra></extra>")
    _add_selected_marker(fig)
    _add_infeasible(fig, "trial %{customdata}: (%{x:.4g}, %{y:.4g}), misses a constraint")
    fill_pareto(fig, model)
    return fig


def fill_pareto(fig: Any, model: StudyModel) -> None:
    everything, front, infeasible = model.pareto()
    _assign(fig.data[0], everything)
    _assign(fig.data[1], front)
    _assign(fig.data[2], _selected_point(model, everything))
    _assign_infeasible(fig.data[3], infeasible)


# -- deployment cost against the objective ---------------------------------------------------
def make_costs(model: StudyModel, figure_class: Any = None) -> Any:
    """The first objective against a measured deployment cost (``--measure``): every complete
    trial, the front of the feasible ones, the trials that miss a constraint, and the region
    the constraints on either axis allow, shaded."""
    go = _go()
    axis = model.cost_axis or "cost"
    fig = (figure_class or go.Figure)(layout=_layout(
        f"{model.metrics[0]} against {axis}", axis, model.metrics[0]))
    hover = "trial %{customdata}: " + axis + " %{x:.4g}, %{y:.4g}"
    fig.add_scatter(name="trials", mode="markers", marker={"color": "#1f77b4", "size": 7},
                    hovertemplate=hover + "<extra></extra>")
    fig.add_scatter(name="front (least cost for the value)", mode="lines+markers",
                    line={"color": "#d62728", "shape": "hv"}, marker={"size": 9},
                    hovertemplate=hover + "<extra></extra>")
    _add_selected_marker(fig)
    _add_infeasible(fig, hover + ", misses a constraint")
    fill_costs(fig, model)
    return fig


def fill_costs(fig: Any, model: StudyModel) -> None:
    feasible, front, infeasible = model.costs_chart()
    _assign(fig.data[0], feasible)
    _assign(fig.data[1], front)
    everything = Series.of(np.concatenate([feasible.x, infeasible.x]),
                           np.concatenate([feasible.y, infeasible.y]),
                           np.concatenate([feasible.trial, infeasible.trial]))
    _assign(fig.data[2], _selected_point(model, everything))
    _assign_infeasible(fig.data[3], infeasible)
    fig.layout.shapes = _feasible_region(model, everything)


def _feasible_region(model: StudyModel, points: Series) -> list[dict[str, Any]]:
    """A shaded band per constraint on the chart's axes: where a trial meets it."""
    shapes = []
    for bound in model.bounds:
        on_x = bound.metric == model.cost_axis
        if not on_x and bound.metric != model.metrics[0]:
            continue
        values = points.x if on_x else points.y
        finite = values[~np.isnan(values)] if len(values) else values
        far = float(np.max(np.abs(finite))) * 10 + abs(bound.bound) * 10 + 1 if len(finite) \
            else abs(bound.bound) * 10 + 1
        low, high = (-far, bound.bound) if bound.op == "<=" else (bound.bound, far)
        if on_x:
            low = max(low, 0.0)  # a cost is never below 0
        shapes.append({"type": "rect", "layer": "below", "line": {"width": 0},
                       "fillcolor": "rgba(44,160,44,0.10)",
                       "xref": "x" if on_x else "paper", "yref": "paper" if on_x else "y",
                       "x0": low if on_x else 0, "x1": high if on_x else 1,
                       "y0": 0 if on_x else low, "y1": 1 if on_x else high})
    return shapes


def _add_infeasible(fig: Any, hover: str) -> None:
    """The trials that miss a --constraint, drawn apart (after the selected ring)."""
    fig.add_scatter(name="infeasible (--constraint)", mode="markers",
                    marker={"color": "#bbbbbb", "size": 7, "symbol": "x"},
                    hovertemplate=hover + "<extra></extra>")


def _assign_infeasible(trace: Any, series: Series) -> None:
    _assign(trace, series)
    trace.showlegend = bool(len(series.x))


def importances(study: Any) -> dict[str, float]:
    """Parameter importances of ``study``'s first objective; empty when it cannot tell yet."""
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():  # "too few trials": the chart fills in as they come
            warnings.simplefilter("ignore")
            return optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                target=(lambda t: t.values[0]) if len(study.directions) > 1 else None)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}


# -- --darts: architecture weights -------------------------------------------------------------
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def make_architecture(model: StudyModel, figure_class: Any = None) -> Any:
    """The latest --darts search's architecture weights: a line per option of each choice (a
    dash per choice), its softmax weight by epoch; the strongest at the end is kept."""
    go = _go()
    layout = _layout("Architecture weights", "epoch", "weight",
                     legend={"orientation": "h", "y": -0.25})
    layout["yaxis"].update(range=[0, 1.02])
    fig = (figure_class or go.Figure)(layout=layout)
    fill_architecture(fig, model)
    return fig


def fill_architecture(fig: Any, model: StudyModel) -> None:
    number, weights = model.architecture()
    lines = [(choice, option, ws) for choice, options in weights.items()
             for option, ws in options.items()]
    names = [f"{choice}: {option}" for choice, option, _ in lines]
    if [t.name for t in fig.data] != names:  # another search, or its first epoch
        fig.data = ()
        for choice, option, _ in lines:
            dash = _DASHES[list(weights).index(choice) % len(_DASHES)]
            fig.add_scatter(name=f"{choice}: {option}", mode="lines+markers",
                            line={"color": _MEMBER_COLORS[list(weights[choice]).index(option)
                                                          % len(_MEMBER_COLORS)], "dash": dash},
                            hovertemplate=f"{choice} = {option}<br>epoch %{{x}}: "
                                          "%{y:.3f}<extra></extra>")
    for trace, (_, _, ws) in zip(fig.data, lines):
        trace.x, trace.y = list(range(1, len(ws) + 1)), ws
    fig.layout.title.text = "Architecture weights" + (
        f" (search trial {number})" if number is not None else ": no --darts search yet")
