"""``--constraint``: bounds on a trial's metrics, recorded through Optuna's constraint API, so
that the best trial, the table, the summary and the samplers all count only feasible trials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import study_of

from jupyter_automl._utils.constraints import (
    Constraint,
    feasible_only,
    infeasibility,
    is_feasible,
    parse_constraint,
)
from jupyter_automl.errors import MetricError, OptionError, StudyConflictError

# acc grows with x, and so does size: the best feasible trial is the largest x <= 0.5
CELL = 'x = hp.float("x", 0, 1)\n{"acc": x, "size": x}'


def test_what_a_constraint_says() -> None:
    small = parse_constraint("params <= 50k")
    assert small == Constraint("params", "<=", 50000.0) and small.text == "params <= 50000"
    assert small.violation(40000) == -10000 and small.violation(60000) == 10000
    assert small.value_of(small.violation(61234)) == 61234
    accurate = parse_constraint("val_accuracy>=0.9")
    assert accurate.text == "val_accuracy >= 0.9" and accurate.violation(0.95) < 0
    assert accurate.violation(0.8) == pytest.approx(0.1)
    assert parse_constraint("latency_ms <= 1.5e0").bound == 1.5


@pytest.mark.parametrize("line, message", [
    ('--constraint "params < 5"', "use <="),
    ('--constraint "acc = 1"', "use <= and >="),
    ('--constraint "params <= many"', "the bound 'many' is not a number"),
    ("--constraint params", "write METRIC <= NUMBER or METRIC >= NUMBER"),
    ("--constraint a<=1 --constraint 'a <= 1'", "each constraint may appear once"),
])
def test_a_bad_constraint_is_refused_with_the_fix(line: str, message: str) -> None:
    from jupyter_automl.engine._options import parse_options

    with pytest.raises(OptionError, match=message):
        parse_options(f"s {line}")


def test_feasibility() -> None:
    class Trial:
        def __init__(self, **constraints: float) -> None:
            self.constraints = constraints

    met, missed, unchecked = Trial(a=-1.0, b=0.0), Trial(a=2.0, b=-1.0), Trial()
    assert is_feasible(met.constraints) and not is_feasible(missed.constraints)
    assert not is_feasible(unchecked.constraints)  # never checked: not known to be feasible
    assert infeasibility(missed.constraints) == 2.0 and infeasibility(met.constraints) == 0
    assert feasible_only([met, missed, unchecked]) == [met]
    assert feasible_only([unchecked]) == [unchecked]  # a study without constraints


def test_the_best_trial_is_the_best_feasible_one(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("automl", 'c --trials 12 --seed 0 --sampler random --maximize acc '
                      '--constraint "size <= 0.5"', CELL)
    result = ip.user_ns["_automl"]
    trials = [t for t in result.study.trials if t.state.name == "COMPLETE"]
    assert len(trials) == 12
    for t in trials:  # recorded as Optuna records constraints: the violation, by expression
        assert t.constraints == {"size <= 0.5": pytest.approx(t.params["x"] - 0.5)}
    feasible = [t for t in trials if t.params["x"] <= 0.5]
    assert feasible and len(feasible) < len(trials)  # both kinds, so the rule is tested
    best = max(feasible, key=lambda t: t.value)
    assert result.best_trial.number == best.number
    assert result.best_value == best.value < max(t.value for t in trials)
    # the summary (read from the SQLite file without Optuna) agrees, and says it
    assert result.summarize().best == (best.number,)
    summary = result.summary()
    assert f"constraints: size <= 0.5 ({len(feasible)} of 12 complete trials meet them)" \
        in summary and f"(trial {best.number})" in summary
    best_params = json.loads((tmp_path / "runs/c/best/params.json").read_text())
    assert best_params["trial"] == best.number
    # the table marks each trial
    rows = {r["number"]: r for r in result.trials}
    assert "feasible" in result.trials.columns
    for t in trials:
        assert rows[t.number]["feasible"] == ("yes" if t.params["x"] <= 0.5
                                              else "no: size <= 0.5")
    spec = json.loads((tmp_path / "runs/c/spec.json").read_text())
    assert spec["constraints"] == ["size <= 0.5"]


def test_a_study_with_no_feasible_trial_says_so(ip: Any) -> None:
    ip.run_cell_magic("automl", 'none --trials 3 --maximize acc --constraint "size >= 2"',
                      CELL)
    result = ip.user_ns["_automl"]
    assert result.done == 3 and result.best_trial is None and result.best_params == {}
    assert "no feasible trial yet: none of the 3 complete trials meets size >= 2" \
        in result.summary()


def test_the_panel_marks_the_trials_and_picks_a_feasible_best(tmp_path: Path) -> None:
    from jupyter_automl import run_study
    from jupyter_automl.ui._panel import StudyPanel

    panel = StudyPanel(display=False)
    run_study(CELL, f'p --trials 8 --seed 1 --sampler random --maximize acc --constraint '
                    f'"size <= 0.5" --runs-dir {tmp_path}', {}, listeners=[panel])
    model = panel.model
    assert model is not None
    missed = {n for n, r in model.records.items() if r.params["x"] > 0.5}
    assert {n for n, r in model.records.items() if r.infeasible} == missed
    assert model.front and model.front[0].params["x"] <= 0.5
    assert "feasible" in model.columns
    history = panel.figures["history"]  # the trials that miss are drawn apart, never the best
    assert sorted(history.data[3].customdata) == sorted(missed)
    assert not set(history.data[0].customdata) & missed
    assert max(history.data[1].y) <= 0.5
    none = StudyPanel(display=False)
    run_study(CELL, f'q --trials 2 --maximize acc --constraint "size >= 2" --runs-dir '
                    f'{tmp_path}', {}, listeners=[none])
    assert none._best_html(none.model).startswith("no feasible trial yet: 2 complete trials")


def test_a_metric_no_trial_has_stops_the_study_with_what_there_is(ip: Any,
                                                                   tmp_path: Path) -> None:
    with pytest.raises(MetricError) as raised:
        ip.run_cell_magic("automl", 'm --trials 3 --maximize acc --constraint "latency <= 1"',
                          CELL)
    message = str(raised.value)
    assert "--constraint 'latency <= 1': the trial has no metric 'latency'" in message
    assert "it has acc, size" in message
    assert [t.state.name for t in study_of(tmp_path / "runs", "m").trials] == ["FAIL"]


def test_a_rerun_with_other_constraints_is_refused(ip: Any) -> None:
    ip.run_cell_magic("automl", 'r --trials 2 --maximize acc --constraint "size <= 0.5"', CELL)
    with pytest.raises(StudyConflictError, match="was created with --constraint 'size <= 0.5', "
                                                 "but this cell asks for --constraint "
                                                 "'size <= 0.3'"):
        ip.run_cell_magic("automl", 'r --trials 4 --maximize acc --constraint "size <= 0.3"',
                          CELL)
    with pytest.raises(StudyConflictError, match="asks for no --constraint"):
        ip.run_cell_magic("automl", "r --trials 4 --maximize acc", CELL)
    ip.run_cell_magic("automl", 'r --trials 4 --maximize acc --constraint "size <= 0.5"', CELL)
    assert ip.user_ns["_automl"].done == 4  # the same ones resume it


# a wide block scores better and is too large: the search should learn to keep it out
WIDE = ('x = hp.float("x", 0, 1)\nwide = hp.choice("block", ["narrow", "wide"]) == "wide"\n'
        '{"acc": x + 0.5 * wide, "size": float(wide)}')


@pytest.mark.parametrize("sampler", ["evolution", "reinforce", "tpe", "tpe+evolution"])
def test_the_samplers_steer_towards_feasible_trials(ip: Any, sampler: str) -> None:
    """With the constraint, the later half of the trials draws the wide block far less often
    than the same search without it, which is drawn to it."""
    def wide_share(constraint: str) -> float:
        ip.run_cell_magic("automl", f'steer{len(constraint)} --trials 40 --seed 0 '
                          f'--sampler {sampler} --maximize acc {constraint}', WIDE)
        later = ip.user_ns["_automl"].study.trials[20:]
        return sum(t.params["block"] == "wide" for t in later) / len(later)

    free, bounded = wide_share(""), wide_share('--constraint "size <= 0"')
    assert bounded <= free - 0.3
