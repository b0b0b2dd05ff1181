"""The study panel, its chart data, static output and background runs (no browser here:
widgets are checked through their traits, as a front end would receive them)."""

from __future__ import annotations

import time
import types
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from optuna.trial import TrialState

from jupyter_automl._verbs import show
from jupyter_automl.engine import _background as background
from jupyter_automl.errors import AutomlError, StudyNotFoundError
from jupyter_automl.ui import _charts as charts
from jupyter_automl.ui._model import StudyModel
from jupyter_automl.ui._table import TrialTableWidget, table_html

DONE = TrialState.COMPLETE
QUAD = 'x = hp.float("x", -10, 10)\nk = hp.choice("k", ["a", "b"])\n(x - 2) ** 2 + (k == "b")'


def as_list(values: Any) -> list[Any]:
    return [None if v != v else v for v in values.tolist()]  # NaN (a gap) -> None


def model_with(curves: dict[int, tuple[TrialState, list[float]]],
               maximize: bool = False) -> StudyModel:
    model = StudyModel("m", ["val_loss"], ["maximize" if maximize else "minimize"], 10)
    for number, (state, curve) in curves.items():
        record = model.start(number, {"lr": 0.1 * (number + 1), "act": "relu"})
        record.curve = list(enumerate(curve, 1))
        values = [min(curve)] if state == TrialState.COMPLETE else None
        model.finish(number, state, values, record.params, 1.0, 100.0, None)
    return model


def test_curves_group_trials_by_state_in_one_trace_each() -> None:
    model = model_with({0: (TrialState.COMPLETE, [3.0, 2.0, 1.0]), 1: (TrialState.PRUNED, [4.0]),
                        2: (TrialState.COMPLETE, [2.5, 0.5, 0.4])})
    groups = model.curves()
    assert as_list(groups[TrialState.COMPLETE].x) == [1, 2, 3, None, 1, 2, 3]
    assert as_list(groups[TrialState.COMPLETE].trial) == [0, 0, 0, None, 2, 2, 2]
    assert as_list(groups[TrialState.PRUNED].y) == [4.0] and len(groups[TrialState.RUNNING]) == 0


def test_history_keeps_the_best_so_far() -> None:
    model = model_with({0: (DONE, [3.0]), 1: (DONE, [5.0]), 2: (DONE, [1.0])})
    values, best, _ = model.history()
    assert as_list(values.y) == [3.0, 5.0, 1.0] and as_list(best.y) == [3.0, 3.0, 1.0]
    up = model_with({0: (DONE, [3.0]), 1: (DONE, [5.0])}, maximize=True)
    assert as_list(up.history()[1].y) == [3.0, 5.0]


def test_parallel_coordinates_encode_choices() -> None:
    dims, color = model_with({0: (DONE, [3.0]), 1: (DONE, [1.0])}).parallel()
    by_label = {d["label"]: d for d in dims}
    assert by_label["act"]["ticktext"] == ["relu"] and by_label["lr"]["values"][1] == 0.2
    assert color.tolist() == [3.0, 1.0] and by_label["val_loss"]["values"].tolist() == [3.0, 1.0]


def test_pareto_front_of_two_objectives() -> None:
    model = StudyModel("mo", ["acc", "size"], ["maximize", "minimize"], 5)
    for number, values in enumerate([[0.9, 100], [0.8, 10], [0.7, 50], [0.95, 500]]):
        model.finish(number, TrialState.COMPLETE, values, {}, 1.0, None, None)
    everything, front, infeasible = model.pareto()
    assert as_list(front.trial) == [1, 0, 3] and len(everything) == 4 and not len(infeasible)
    # --constraint: a trial that misses is drawn apart, and is never on the front
    for number, size in enumerate([100, 10, 50, 500]):
        model.records[number].constraints = {"size <= 200": size - 200.0}
        model.touch(number)
    everything, front, infeasible = model.pareto()
    assert as_list(front.trial) == [1, 0] and as_list(infeasible.trial) == [3]
    assert as_list(everything.trial) == [0, 1, 2]


def test_the_cost_chart_draws_the_objective_against_a_measured_cost() -> None:
    """--measure: the first objective against the cost a constraint bounds, the front of the
    feasible trials (least cost for the value), the misses apart, the allowed band shaded."""
    model = StudyModel("c", ["val_accuracy"], ["maximize"], 6)
    model.costs = ["tflite_int8_kb", "latency_ms"]
    figures = [(0.90, 4.0), (0.95, 9.0), (0.93, 6.0), (0.85, 5.0), (0.97, 20.0)]
    for number, (accuracy, kb) in enumerate(figures):
        model.finish(number, TrialState.COMPLETE, [accuracy], {}, 1.0, None, None)
        model.records[number].costs = {"tflite_int8_kb": kb, "latency_ms": 0.01 * kb}
        model.records[number].constraints = {"tflite_int8_kb <= 10": kb - 10}
        model.touch(number)
    assert model.cost_axis == "tflite_int8_kb"  # the bounded one, not the first measured
    feasible, front, infeasible = model.costs_chart()
    assert as_list(feasible.trial) == [0, 1, 2, 3] and as_list(infeasible.trial) == [4]
    assert as_list(front.trial) == [0, 2, 1] and as_list(front.x) == [4.0, 6.0, 9.0]
    fig = charts.make_costs(model)
    assert fig.layout.xaxis.title.text == "tflite_int8_kb" and len(fig.data) == 4
    (band,) = fig.layout.shapes
    assert (band.x0, band.x1, band.xref, band.yref) == (0.0, 10.0, "x", "paper")
    assert "tflite_int8_kb" in model.columns and "latency_ms" in model.columns
    assert model.table_rows()[4]["tflite_int8_kb"] == 20.0
    # nothing to draw against when the objective is itself the cost
    alone = StudyModel("l", ["latency_ms"], ["minimize"], 3)
    alone.costs = ["latency_ms"]
    assert alone.cost_axis is None


def test_figures_have_a_fixed_set_of_traces() -> None:
    model = model_with({0: (TrialState.COMPLETE, [3.0, 2.0]), 1: (TrialState.PRUNED, [4.0])})
    assert [t.name for t in charts.make_curves(model).data] == list(charts.CURVES)
    assert len(charts.make_history(model).data) == 4
    assert charts.make_parallel(model).data[0].type == "parcoords"


def test_table_sorts_in_python_and_keeps_blanks_last() -> None:
    table = TrialTableWidget()
    rows = [{"number": 0, "state": "COMPLETE", "value": 2.0},
            {"number": 1, "state": "FAIL", "value": None},
            {"number": 2, "state": "COMPLETE", "value": 1.0}]
    table.set_rows(["number", "state", "value"], rows)
    table.sort_by = "value"
    assert [r["number"] for r in table.rows] == [2, 0, 1]
    table.ascending = False
    assert [r["number"] for r in table.rows] == [0, 2, 1]
    assert table.rows[0]["_text"]["value"] == "2"
    assert "<td>COMPLETE</td>" in table_html(["number", "state"], rows)


def test_panel_follows_a_study(ip: Any, tmp_path: Path) -> None:
    ip.run_line_magic("config", 'Automl.display = "widgets"')
    try:
        ip.run_cell_magic("automl", "pan --trials 6 --seed 0", QUAD)
        panel = show("pan", tmp_path / "runs", "widgets")
    finally:
        ip.run_line_magic("config", 'Automl.display = "auto"')
    assert "automl-panel" in panel.root._dom_classes
    assert "6/6 trials" in panel.header.value and "finished" in panel.header.value
    assert "best value <b>" in panel.best.value
    history = panel.figures["history"]
    assert len(history.data[0].customdata) == 6
    assert len(panel.table.rows) == 6 and panel.table.columns[:3] == ["number", "state", "value"]
    # a click on a point of the history selects its trial in the table and the charts
    panel._clicked(history.data[0], types.SimpleNamespace(point_inds=[2]), None)
    chosen = int(history.data[0].customdata[2])
    assert panel.table.selected == chosen
    assert list(history.data[2].customdata) == [chosen]
    assert chosen in set(panel.figures["curves"].data[-1].customdata) or \
        len(panel.figures["curves"].data[-1].customdata) == 0  # no epochs: no curve
    panel.table.selected = 0  # a click on a table row does the same
    assert list(history.data[2].customdata) == [0]


def test_panel_refreshes_are_throttled(ip: Any) -> None:
    from jupyter_automl import run_study
    from jupyter_automl.ui._panel import StudyPanel

    panel = StudyPanel(interval=3600, display=False)
    calls = []
    original = charts.fill_history
    charts.fill_history = lambda fig, model: (calls.append(1), original(fig, model))[1]
    try:
        run_study(QUAD, "thr --trials 20", {}, listeners=[panel])
    finally:
        charts.fill_history = original
    assert len(calls) == 2  # when the panel is built, and once at the end
    assert "20/20 trials" in panel.header.value


def test_static_output_for_saved_notebooks(ip: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    from jupyter_automl import run_study

    run_study(QUAD, "st --trials 4", {}, display="static")
    bundles = [o for o in shown if isinstance(o, dict)]
    assert [b["text/plain"] for b in bundles][:3] == [
        "<Learning curves: 5 traces>", "<Optimization history: 4 traces>",
        "<Parameters of complete trials: 1 traces>"]
    assert all("application/vnd.plotly.v1+json" in b and "<div" in b["text/html"]
               for b in bundles)
    assert "automl-trials" in shown[-1].data


def test_background_runs_stop_and_resume(ip: Any, tmp_path: Path) -> None:
    body = 'import time\ntime.sleep(0.05)\nhp.float("x", 0, 1)'
    run = ip.run_cell_magic("automl", "bg --trials 200 --background", body)
    assert run is None  # the cell returns at once
    handle = background.get("bg")
    wait_for(lambda: handle.runner.done >= 2, 60, "two trials in the background")
    assert handle.running
    ip.run_line_magic("automl", "stop bg")
    ip.run_line_magic("automl", "wait bg")
    done = ip.user_ns["_automl"].done
    assert 0 < done < 200 and not handle.running
    handle.resume()  # what the panel's Resume button calls
    with pytest.raises(AutomlError, match="already running"):
        handle.start()
    wait_for(lambda: handle.runner.done > done, 60, "a trial after Resume")
    handle.stop()
    handle.wait()
    assert ip.user_ns["_automl"].done > done  # Resume continued the same study
    with pytest.raises(StudyNotFoundError, match="no background study 'nope'"):
        ip.run_line_magic("automl", "wait nope")


@pytest.mark.parametrize("argv,headless", [
    (["/venv/bin/python", "-m", "papermill", "a.ipynb", "b.ipynb"], True),
    (["/venv/bin/jupyter-automl", "run", "nb.ipynb"], True),
    (["/venv/bin/python", "-m", "jupyter_automl.cli", "run", "nb.ipynb"], True),
    (["/venv/bin/python", "-m", "pytest", "--nbval-lax"], True),
    (["/venv/bin/python", "-m", "jupyterlab", "--ServerApp.root_dir=/tmp/pytest-of-root/x"],
     False),
    (["/venv/bin/jupyter-lab", "--notebook-dir=/home/me/papermill-notes"], False),
])
def test_headless_is_told_by_the_parent_program(argv: list[str], headless: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    from jupyter_automl.ui import _where as display

    class Parent:
        def cmdline(self) -> list[str]:
            return argv

    monkeypatch.delenv(display.HEADLESS_ENV, raising=False)
    monkeypatch.setattr(psutil.Process, "parent", lambda self: Parent())
    assert display.headless() is headless


def test_a_table_of_10000_trials_sends_a_window_of_them() -> None:
    from jupyter_automl.ui._table import LIMIT

    table = TrialTableWidget()
    rows = [{"number": n, "state": "COMPLETE", "value": float((n * 7919) % 10_000)}
            for n in range(10_000)]
    table.set_rows(["number", "state", "value"], rows)
    assert table.total == 10_000 and len(table.rows) == LIMIT
    # by number, ascending (the default): the newest trials, in order
    assert [r["number"] for r in table.rows] == list(range(10_000 - LIMIT, 10_000))
    table.ascending = False
    assert [r["number"] for r in table.rows] == list(range(9_999, 9_999 - LIMIT, -1))
    table.sort_by, table.ascending = "value", True  # by another column: the first of them all
    assert [r["value"] for r in table.rows] == [float(v) for v in range(LIMIT)]
    assert table.rows[0]["_text"]["value"] == "0"
    table.selected = 5_000  # a trial chosen outside the window (in a chart) joins it
    numbers = [r["number"] for r in table.rows]
    assert 5_000 in numbers and len(numbers) == LIMIT + 1
    values = [r["value"] for r in table.rows]
    assert values == sorted(values)  # where it stands in the order
    small = TrialTableWidget()
    small.set_rows(["number", "state"], rows[:3])
    assert small.total == 3 and len(small.rows) == 3


def test_the_model_remakes_the_rows_and_figures_of_changed_trials_only() -> None:
    model = model_with({0: (TrialState.COMPLETE, [3.0]), 1: (TrialState.COMPLETE, [1.0])})
    first = model.table_rows()
    assert model.table_rows()[0] is first[0]  # a finished trial's row is made once
    model.start(2, {"lr": 0.5})
    assert [r["state"] for r in model.table_rows()] == ["COMPLETE", "COMPLETE", "RUNNING"]
    assert model.count(TrialState.RUNNING) == 1 and model.front[0].number == 1
    model.finish(2, TrialState.COMPLETE, [0.5], {"lr": 0.5}, 1.0, None, None)
    assert model.table_rows()[2]["val_loss"] == 0.5 and model.count(TrialState.RUNNING) == 0
    assert model.front[0].number == 2 and as_list(model.history()[1].y) == [3.0, 1.0, 0.5]
    model.records[2].kernel = "local kernel 1"  # what the panel sets after a worker's trial
    model.touch(2)
    assert model.table_rows()[2]["kernel"] == "local kernel 1"


def test_a_costly_refresh_waits_longer(ip: Any) -> None:
    """A panel whose refresh takes 0.2 s refreshes at most every 2 s (a tenth of the time)."""
    from jupyter_automl.ui._panel import StudyPanel

    panel = StudyPanel(interval=0.0, display=False)
    panel.attach(model_with({0: (TrialState.COMPLETE, [3.0])}))
    drawn = []
    panel._fill_curves = lambda model: drawn.append(1)  # type: ignore[method-assign]
    panel._cost, panel._last = 0.2, time.monotonic()
    panel.refresh()
    assert drawn == []
    panel._last -= 2.0
    panel.refresh()
    assert drawn == [1]


def test_a_trial_on_a_gpu_has_its_peak_gpu_memory_in_the_table() -> None:
    """A trial that ran on a GPU records the most memory TensorFlow held there
    (state.json's gpu_peak_mb): the table gains the column after peak_mb; on CPU it has none."""
    from jupyter_automl.results import cell_text, trial_columns

    model = model_with({0: (DONE, [1.0]), 1: (DONE, [2.0])})
    assert "gpu_peak_mb" not in model.columns
    model.records[1].gpu_peak_mb = 812.4
    model.touch(1)
    assert model.columns[-2:] == ["peak_mb", "gpu_peak_mb"]
    rows = model.table_rows()
    assert rows[1]["gpu_peak_mb"] == 812.4 and "gpu_peak_mb" not in rows[0]
    assert cell_text("gpu_peak_mb", 812.4) == "812 MB"
    assert trial_columns(["acc"], gpu=True)[-1] == "gpu_peak_mb"
