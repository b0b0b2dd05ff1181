"""Static output for saved notebooks: the final charts and the trial table, no widget state.

Each chart is displayed as Plotly's JSON (rendered by JupyterLab and VS Code) with an HTML
fallback (plotly.js from its CDN) for readers without the Plotly renderer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..engine import Listener
from . import _charts as charts
from ._model import StudyModel
from ._table import table_html

if TYPE_CHECKING:
    from ..engine import RunEnd, RunView


class StaticReport(Listener):
    """Shows the study's figures and table once, when the run ends."""

    title = "the static report"

    def study_finished(self, runner: RunView, reason: RunEnd) -> None:
        from ..results import AutomlResult

        result = AutomlResult(runner.paths, runner.prepared.url, study=runner.study)
        show(StudyModel.from_result(result), runner.study)


def figures(model: StudyModel, study: Any) -> list[Any]:
    if model.population is not None:  # population-based training: lineages and schedule
        return [charts.make_lineages(model), charts.make_schedule(study),
                charts.make_history(model), charts.make_parallel(model)]
    figs = [charts.make_curves(model),
            charts.make_pareto(model) if model.multi else charts.make_history(model),
            charts.make_parallel(model)]
    if model.architecture()[0] is not None:  # --darts: the search's architecture weights
        figs.append(charts.make_architecture(model))
    if model.cost_axis is not None:  # --measure: the objective against a deployment cost
        figs.append(charts.make_costs(model))
    importances = charts.importances(study)
    if importances:
        figs.append(charts.make_importance(importances))
    return figs


def show(model: StudyModel, study: Any) -> None:
    from IPython.display import HTML, display

    for fig in figures(model, study):
        display(bundle(fig), raw=True)
    display(HTML(table_html(model.columns, model.table_rows())))


def bundle(fig: Any) -> dict[str, Any]:
    title = fig.layout.title.text or "chart"
    return {
        "application/vnd.plotly.v1+json": fig.to_plotly_json(),
        "text/html": fig.to_html(full_html=False, include_plotlyjs="cdn"),
        "text/plain": f"<{title}: {len(fig.data)} traces>",
    }
