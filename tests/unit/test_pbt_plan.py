"""Population-based training without training: explore's moves, the plan of a generation
(exploit), lineages and schedules read from trials, the panel's PBT charts, and the options."""

from __future__ import annotations

import math
import random
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from jupyter_automl.engine import parse_options
from jupyter_automl.engine._pbt import RESAMPLE, PbtSchedule, explore
from jupyter_automl.errors import OptionError
from jupyter_automl.results import (
    CONTINUED,
    COPIED,
    FINAL,
    GENERATION,
    MEMBER,
    MUTABLE,
    lineage,
    schedule,
)
from jupyter_automl.space import read_space
from jupyter_automl.ui import _charts as charts
from jupyter_automl.ui._model import StudyModel

LR = FloatDistribution(1e-4, 1e-1, log=True)


def test_explore_scales_or_redraws_inside_the_range() -> None:
    rng = random.Random(0)
    moved = [explore({"lr": 1e-2, "units": 8}, {"lr": LR, "units": IntDistribution(4, 16)},
                     {"lr"}, rng) for _ in range(400)]
    assert all(m["units"] == 8 for m in moved)  # not mutable: inherited as it is
    values = [m["lr"] for m in moved]
    assert all(1e-4 <= v <= 1e-1 for v in values)
    scaled = [v for v in values if math.isclose(v, 8e-3) or math.isclose(v, 1.2e-2)]
    # x0.8 or x1.2 unless redrawn (probability 0.25)
    assert abs(len(scaled) / len(values) - (1 - RESAMPLE)) < 0.07
    # at a bound, x1.2 is clipped to it
    edge = {explore({"lr": 1e-1}, {"lr": LR}, {"lr"}, random.Random(s))["lr"] for s in range(50)}
    assert max(edge) == 1e-1


def test_explore_keeps_steps_and_moves_choices_to_a_neighbour() -> None:
    step = FloatDistribution(0.0, 0.5, step=0.05)
    for seed in range(100):
        rng = random.Random(seed)
        value = explore({"d": 0.25}, {"d": step}, {"d"}, rng)["d"]
        assert 0 <= value <= 0.5 and math.isclose(round(value / 0.05) * 0.05, value)
        units = explore({"u": 8}, {"u": IntDistribution(4, 16, step=2)}, {"u"}, rng)["u"]
        assert units in range(4, 17, 2)
        opt = explore({"o": "sgd"}, {"o": CategoricalDistribution(["adam", "sgd", "rms"])},
                      {"o"}, rng)["o"]
        assert opt in ("adam", "sgd", "rms")
    # without a redraw a choice moves one place
    neighbours = {explore({"o": "adam"}, {"o": CategoricalDistribution(["adam", "sgd", "rms"])},
                          {"o"}, random.Random(s))["o"] for s in range(200)}
    assert neighbours == {"adam", "sgd", "rms"}


def _study(values: list[float], direction: str = "maximize") -> optuna.Study:
    """A PBT study with one finished generation of ``len(values)`` members."""
    study = optuna.create_study(direction=direction)
    for member, value in enumerate(values):
        study.add_trial(optuna.trial.create_trial(
            params={"lr": 1e-3 * (member + 1), "units": 4 + member},
            distributions={"lr": LR, "units": IntDistribution(4, 64)},
            value=value, intermediate_values={1: value / 2, 2: value},
            user_attrs={MEMBER: member, GENERATION: 0, MUTABLE: ["lr"], FINAL: False}))
    return study


def _schedule(study: optuna.Study, population: int, seed: int | None = 0) -> PbtSchedule:
    direction = study.direction.name.lower()
    seeded = "" if seed is None else f" --seed {seed}"
    options = parse_options(f"s --scheduler pbt --population {population} --interval 2 "
                            f"--{direction[:3]}imize acc{seeded}")
    prepared: Any = type("P", (), {"options": options, "study": study})()
    return PbtSchedule(prepared)


@pytest.mark.parametrize(("population", "replaced"), [(4, 1), (8, 2), (10, 2)])
def test_the_worst_quarter_copies_the_best_quarter(population: int, replaced: int) -> None:
    values = [0.5 + 0.01 * ((7 * m) % population) for m in range(population)]
    study = _study(values)
    plan = _schedule(study, population).plan(1)
    ranked = sorted(range(population), key=lambda m: -values[m])
    top, bottom = set(ranked[:replaced]), set(ranked[-replaced:])
    copied = {m for m, (_, attrs) in plan.items() if COPIED in attrs}
    assert copied == bottom
    trials = study.trials
    for member, (params, attrs) in plan.items():
        assert attrs[MEMBER] == member and attrs[GENERATION] == 1
        assert attrs[CONTINUED] == trials[member].number
        if member in bottom:
            donor = trials[attrs[COPIED]]
            assert donor.user_attrs[MEMBER] in top and attrs["resume_from"] == donor.number
            assert params["units"] == donor.params["units"]  # the architecture of the donor
        else:
            assert params == trials[member].params and attrs["resume_from"] == member
    # with --seed the plan repeats itself
    assert _schedule(study, population).plan(1) == plan


def test_a_failed_member_is_replaced_and_minimize_ranks_low_first() -> None:
    study = _study([0.3, 0.1, 0.2, 0.4], direction="minimize")
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.FAIL, params={"lr": 1e-3, "units": 4},
        distributions={"lr": LR, "units": IntDistribution(4, 64)},
        user_attrs={MEMBER: 4, GENERATION: 0}))
    plan = _schedule(study, 5).plan(1)
    assert COPIED in plan[4][1] and CONTINUED not in plan[4][1]  # failed: it copies
    assert COPIED in plan[3][1]  # the worst value
    assert {study.trials[plan[m][1][COPIED]].user_attrs[MEMBER] for m in (3, 4)} == {1}


def _lineage_study() -> optuna.Study:
    """Two members, two generations: member 1 copies member 0 in generation 1."""
    study = optuna.create_study(direction="maximize")

    def add(member: int, generation: int, lr: float, value: float, final: bool,
            **attrs: Any) -> None:
        epochs = {2 * generation + 1: value - 0.1, 2 * generation + 2: value}
        study.add_trial(optuna.trial.create_trial(
            params={"lr": lr}, distributions={"lr": LR}, value=value,
            intermediate_values=epochs,
            user_attrs={MEMBER: member, GENERATION: generation, MUTABLE: ["lr"],
                        FINAL: final, **attrs}))

    add(0, 0, 1e-2, 0.8, False)
    add(1, 0, 1e-3, 0.6, False)
    add(0, 1, 1e-2, 0.85, True, **{CONTINUED: 0})
    add(1, 1, 1.2e-2, 0.9, True, **{CONTINUED: 1, COPIED: 0})
    return study


def test_lineage_and_schedule_follow_the_copied_checkpoint() -> None:
    study = _lineage_study()
    trials = {t.number: t for t in study.trials}
    assert [t.number for t in lineage(trials, 3)] == [0, 3]
    columns = schedule(trials, 3)
    assert columns == {"epoch": [1, 2, 3, 4], "generation": [0, 0, 1, 1],
                       "trial": [0, 0, 3, 3], "lr": [1e-2, 1e-2, 1.2e-2, 1.2e-2]}


def test_the_panel_draws_a_line_per_member_and_the_schedule() -> None:
    study = _lineage_study()
    model = StudyModel("p", ["acc"], ["maximize"], 4, population=2)
    for trial in study.trials:
        model.add_frozen(trial)
    members, copies, best = model.lineages()
    assert as_list(members[0].x) == [1, 2, 3, 4] and as_list(members[0].trial) == [0, 0, 2, 2]
    assert as_list(members[1].y) == pytest.approx([0.5, 0.6, 0.8, 0.9])
    assert as_list(copies.trial) == [3] and as_list(copies.x) == [3]
    assert as_list(best.trial) == [0, 0, 3, 3]  # the best lineage runs through member 0
    assert model.front[0].number == 3 and "member" in model.columns
    rows = {r["number"]: r for r in model.table_rows()}
    assert rows[3]["member"] == "1 · gen 1 · copied 0" and rows[0]["member"] == "0 · gen 0"
    fig = charts.make_lineages(model)
    assert len(fig.data) == 4  # two members, the copies, the best lineage
    sched = charts.make_schedule(study)
    (trace,) = sched.data
    assert trace.name == "lr" and list(trace.text) == ["0.01", "0.01", "0.012", "0.012"]
    assert 0 < trace.y[0] < trace.y[2] < 1


def as_list(values: Any) -> list[Any]:
    return [None if v != v else v for v in values.tolist()]


def test_mutable_is_read_from_the_cell() -> None:
    import ast

    space = read_space(ast.parse('hp.float("lr", 1e-4, 1e-1, log=True, mutable=True)\n'
                                 'hp.int("units", 4, 64)\nhp.choice("opt", ["a", "b"], '
                                 'mutable=True)'))
    assert {p.name: p.mutable for p in space.params} == {"lr": True, "units": False,
                                                        "opt": True}


def test_options() -> None:
    options = parse_options("p --scheduler pbt")
    assert (options.pbt, options.population, options.interval) == (True, 8, 2)
    assert options.effective_pruner == "none"
    with pytest.raises(OptionError, match="add --scheduler pbt"):
        parse_options("p --interval 3")
    with pytest.raises(OptionError, match="drop --early-stopping"):
        parse_options("p --scheduler pbt --early-stopping 2")


def test_every_reader_takes_the_best_among_final_generations(tmp_path: Any) -> None:
    """The best of a PBT study is its best member's final generation, even when an earlier
    generation had a higher value: for the result, the headless watcher and the Lab listing
    (the last two read the SQLite file directly)."""
    from jupyter_automl.batch import current_study
    from jupyter_automl.lab import Studies
    from jupyter_automl.results import load_result
    from jupyter_automl.runs import study_paths

    paths = study_paths(str(tmp_path), "p", None)
    paths.root.mkdir(parents=True)
    paths.write_spec({"name": "p", "trials": 2, "storage": None,
                      "objectives": [{"metric": "acc", "direction": "maximize"}]})
    study = optuna.create_study(storage=f"sqlite:///{paths.db}", study_name="p",
                                direction="maximize")
    for value, final in ((0.99, False), (0.9, True), (0.8, True)):
        study.add_trial(optuna.trial.create_trial(
            params={"lr": 1e-3}, distributions={"lr": LR}, value=value,
            user_attrs={MEMBER: 0, GENERATION: int(final), FINAL: final}))
    study.add_trial(optuna.trial.create_trial(  # a --warm-start observation: never counted
        params={"lr": 1e-3}, distributions={"lr": LR}, value=1.5,
        user_attrs={"warm_start": "other"}))
    assert load_result("p", tmp_path).best_value == 0.9
    watched = current_study(tmp_path, 0)
    assert watched is not None and (watched.best_value, watched.done) == (0.9, 3)
    assert Studies(tmp_path).record(paths.root)["best_value"] == 0.9
