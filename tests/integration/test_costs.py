"""Deployment costs measured inside the study (``--measure``, or a constraint or objective
naming one): a digits study bounded by its models' int8 TFLite size, in this kernel, on
worker kernels and headless, each architecture measured once, and the best model meeting
the budget when converted again from the exported file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import orphan_kernels, study_of
from digits import CODE, load, split
from test_cli import cli, notebook

pytestmark = pytest.mark.slow

# three architectures: 8 and 16 hidden units fit in 6 KiB as int8 TFLite, 64 do not
CELL = textwrap.dedent('''\
    import keras
    units = hp.choice("units", [8, 16, 64])
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dropout(hp.float("dropout", 0.0, 0.3)),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, validation_data=(x_val, y_val), epochs=2, batch_size=64)
''')
BUDGET = 'tflite_int8_kb <= 6'
SETUP = CODE + ("from sklearn.model_selection import train_test_split\n"
                "x, x_val, y, y_val = train_test_split(x, y, test_size=0.25, "
                "random_state=0, stratify=y)\n")


def _complete(runs: Path, name: str) -> list[Any]:
    return [t for t in study_of(runs, name).trials if t.state.name == "COMPLETE"]


def _measured(runs: Path, name: str) -> list[Any]:
    """The trials that measured their model (complete, or not trained for missing a bound),
    in the order they ran."""
    trials = [t for t in study_of(runs, name).trials if "costs" in t.user_attrs]
    return sorted(trials, key=lambda t: t.datetime_start)


def _check_measured_once(runs: Path, name: str, costs: set[str]) -> None:
    """Every complete trial carries the figures; an architecture is measured by its first
    trial and read by the others; the study's cache holds one file per architecture."""
    trials = _measured(runs, name)
    assert {t.number for t in _complete(runs, name)} <= {t.number for t in trials}
    by_units: dict[int, list[Any]] = {}
    for t in trials:
        assert set(t.user_attrs["costs"]) == costs, t.user_attrs
        by_units.setdefault(t.params["units"], []).append(t)
    for units, same in by_units.items():
        assert len({json.dumps(t.user_attrs["costs"], sort_keys=True) for t in same}) == 1
        assert [bool(t.user_attrs.get("costs_cached")) for t in same] \
            == [False] + [True] * (len(same) - 1), (units, [t.user_attrs for t in same])
        assert same[0].user_attrs["cost_seconds"] > 0
        assert all(t.user_attrs["cost_seconds"] == 0 for t in same[1:])
    cached = sorted((runs / name / "costs").glob("*.json"))
    assert len(cached) == len(by_units)


def _check_budget(runs: Path, name: str) -> None:
    """A model that misses the bound is known before it trains, and is not trained: its
    trial is pruned at once, saying why. The constraint recorded on every other trial is its
    measured size against the bound, and the best model, converted again from the exported
    file, meets it."""
    import keras

    from jupyter_automl.deploy import deployment_costs

    for t in _measured(runs, name):
        size = t.user_attrs["costs"]["tflite_int8_kb"]
        assert t.constraints == {BUDGET: size - 6}
        if size > 6:
            assert t.params["units"] == 64 and t.state.name == "PRUNED"
            assert t.user_attrs["error"] == ("not trained: its model misses tflite_int8_kb <= "
                                             f"6 (tflite_int8_kb = {size:.4g})")
            assert not t.intermediate_values  # not one epoch trained
            state = json.loads((runs / name / "trials" / str(t.number) / "state.json")
                               .read_text()) if (runs / name / "trials" / str(t.number) /
                                                 "state.json").exists() else {}
            assert not state.get("history")
    trials = _complete(runs, name)
    assert trials and all(t.constraints[BUDGET] <= 0 for t in trials)
    assert any(t.state.name == "PRUNED" for t in _measured(runs, name))  # one was not trained
    best = max(trials, key=lambda t: t.value)
    model = keras.models.load_model(runs / name / "best" / "model.keras")
    assert model.layers[0].units == best.params["units"]
    x, _ = load()
    assert deployment_costs(model, ["tflite_int8_kb"], x[:200])["tflite_int8_kb"] <= 6


def test_an_int8_size_budget_in_this_kernel(ip: Any, tmp_path: Path) -> None:
    ip.user_ns.update(split())
    ip.run_cell_magic("automl", f'tiny --trials 7 --seed 1 --sampler random --pruner none '
                      f'--maximize val_accuracy --constraint "{BUDGET}" --measure latency_ms',
                      CELL)
    runs = tmp_path / "runs"
    _check_measured_once(runs, "tiny", {"tflite_int8_kb", "latency_ms"})
    _check_budget(runs, "tiny")
    result = ip.user_ns["_automl"]
    assert result.best_trial.constraints[BUDGET] <= 0
    assert "deployment costs (tflite_int8_kb, latency_ms): 7 trials, 2 measured in " \
        "" in result.summary()
    assert "5 read from the cache of architectures measured before; 1 not trained, their " \
        "models missing a bound" in result.summary()
    row = result.trials[0]
    assert row["tflite_int8_kb"] > 0 and row["latency_ms"] > 0
    assert {"tflite_int8_kb", "latency_ms"} <= set(result.trials.columns)
    # bundled with its TFLite file in full integer, the best model fits: the file is read
    bundle = result.bundle(tmp_path / "bundle", formats=["tflite"], quantize="int8",
                           calibration=ip.user_ns["x"][:200])
    assert (bundle / "model.tflite").stat().st_size <= 6 * 1024
    assert "It is quantized: full integer" in (bundle / "model_card.md").read_text()


def test_check_measures_the_costs_of_its_one_short_trial(ip: Any, tmp_path: Path,
                                                         capsys: Any) -> None:
    ip.user_ns.update(split())
    ip.run_cell_magic("automl", f'checked --check --maximize val_accuracy '
                      f'--constraint "{BUDGET}" --measure latency_ms', CELL)
    said = capsys.readouterr().out
    assert "--check passed in " in said and ", deployment costs tflite_int8_kb " in said
    assert not (tmp_path / "runs" / "checked").exists()  # the study is not touched


def test_a_cost_as_an_objective_on_worker_kernels(ip: Any, tmp_path: Path) -> None:
    """Two objectives, one of them measured: the worker kernels measure, share the cache,
    and record each figure as the trial's value."""
    ip.run_cell_magic("automl", 'front --trials 5 --seed 0 --sampler random --kernels 2 '
                      '--maximize val_accuracy --minimize tflite_dynamic_kb', SETUP + CELL)
    runs = tmp_path / "runs"
    trials = _complete(runs, "front")
    assert len(trials) == 5
    for t in trials:
        assert t.values[1] == t.user_attrs["costs"]["tflite_dynamic_kb"]
    sizes = {t.params["units"]: t.values[1] for t in trials}
    # (16 units may come out smaller than 8: dynamic range quantizes a kernel of 1024
    # weights or more only)
    assert max(sizes, key=sizes.__getitem__) == max(sizes)
    assert len(sorted((runs / "front" / "costs").glob("*.json"))) == len(sizes)
    assert orphan_kernels() == []


def test_jupyter_automl_run_reads_the_cache_of_an_earlier_run(ip: Any, tmp_path: Path) -> None:
    """The study's first 3 trials run in this kernel; the notebook, rerun headless in a new
    process, reads what they measured from the study's folder."""
    options = (f'tiny --trials {{n_trials}} --seed 5 --sampler random --maximize val_accuracy '
               f'--constraint "{BUDGET}"')
    runs = tmp_path / "automl_runs"
    ip.user_ns.update(split())
    ip.run_cell_magic("automl", options.replace("{n_trials}", "3") + f" --runs-dir {runs}",
                      CELL)
    nb = notebook(tmp_path / "tiny.ipynb", SETUP)  # the data in one cell, the study next
    book = nbformat.read(nb, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell(f"%%automl {options}\n" + CELL))
    nbformat.write(book, nb)
    first = {t.params["units"]: t.user_attrs["costs"] for t in _measured(runs, "tiny")}
    assert len(first) == 3  # (--seed 5 draws each of the three, and each again after)
    # a corrupt cache file is measured again; the others are read
    corrupt = sorted((runs / "tiny" / "costs").glob("*.json"))[0]
    spoiled = next(units for units, costs in first.items()
                   if json.loads(corrupt.read_text())["tflite_int8_kb"] == costs["tflite_int8_kb"])
    corrupt.write_text("{not json")
    again = cli("run", str(nb), "-p", "n_trials", "7", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "deployment costs (tflite_int8_kb): 7 trials, " in again.stdout
    later = [t for t in _measured(runs, "tiny") if t.number >= 3]
    assert later
    for t in later:  # a new process: what the first run measured is read from the folder
        units = t.params["units"]
        if units in first and units != spoiled:
            assert t.user_attrs.get("costs_cached") is True, t.user_attrs
    again_measured = [t for t in later if t.params["units"] == spoiled]
    assert again_measured  # measured again, and kept again
    remeasured = again_measured[0].user_attrs
    assert remeasured.get("costs_cached") is not True, remeasured
    # another trial's weights of the same architecture: its int8 file is as big, give or
    # take the bytes its weights quantize to (16 bytes seen in CI)
    assert remeasured["costs"]["tflite_int8_kb"] == pytest.approx(
        first[spoiled]["tflite_int8_kb"], rel=0.05)
    kept = json.loads(corrupt.read_text())
    assert kept["tflite_int8_kb"] == remeasured["costs"]["tflite_int8_kb"]
    _check_budget(runs, "tiny")
    executed = nbformat.read(tmp_path / "tiny.out.ipynb", as_version=4)
    shown = json.dumps([o for c in executed.cells for o in c.get("outputs", [])])
    assert "val_accuracy against tflite_int8_kb" in shown


def test_int8_without_training_data_to_draw_from_stops_the_study(ip: Any,
                                                                 tmp_path: Path) -> None:
    """A generator gives fit no sample to calibrate int8 on: the same for every trial, so
    the first trial says so and the study stops."""
    from jupyter_automl.errors import MetricError

    ip.user_ns.update(split())
    cell = CELL.replace("model.fit(x, y,", "model.fit(((x[i:i + 64], y[i:i + 64]) for _ in "
                        "range(99) for i in range(0, 1280, 64)), steps_per_epoch=20,")
    with pytest.raises(MetricError) as raised:
        ip.run_cell_magic("automl", f'gen --trials 3 --maximize val_accuracy '
                          f'--constraint "{BUDGET}"', cell)
    assert "tflite_int8_kb: full-integer quantization is calibrated on a sample of the " \
           "training data" in str(raised.value)
    assert [t.state.name for t in study_of(tmp_path / "runs", "gen").trials] == ["FAIL"]


def test_population_based_training_measures_each_member_once(ip: Any, tmp_path: Path) -> None:
    """PBT changes the mutable parameters only, never the architecture: a member's later
    generations read what its first measured, and the constraint holds on each."""
    ip.user_ns.update(split())
    cell = CELL.replace('keras.optimizers.Adam(0.01)', 'keras.optimizers.Adam(hp.float('
                        '"lr", 1e-3, 1e-1, log=True, mutable=True))')
    ip.run_cell_magic("automl", f'members --scheduler pbt --population 4 --interval 1 --seed 0 '
                      f'--maximize val_accuracy --constraint "{BUDGET}"', cell)
    trials = _complete(tmp_path / "runs", "members")
    assert len(trials) == 8  # 4 members, 2 generations of 1 epoch
    for t in trials:
        assert t.constraints == {BUDGET: t.user_attrs["costs"]["tflite_int8_kb"] - 6}
        if t.user_attrs["pbt_generation"] == 1:
            assert t.user_attrs.get("costs_cached") is True
    assert len(list((tmp_path / "runs" / "members" / "costs").glob("*.json"))) \
        == len({t.params["units"] for t in trials})


def test_the_live_panel_draws_the_accuracy_against_the_budget(tmp_path: Path) -> None:
    """The panel of a running study (its widgets, as the front end receives them): the cost
    chart's trials, front and shaded budget, and the table's cost and feasible columns."""
    from jupyter_automl import run_study
    from jupyter_automl.ui._panel import StudyPanel

    panel = StudyPanel(interval=0, display=False)
    run_study(CELL, f'drawn --trials 5 --seed 1 --sampler random --pruner none --maximize '
                    f'val_accuracy --constraint "{BUDGET}" --runs-dir {tmp_path}', split(),
              listeners=[panel])
    figure = panel.figures["costs"]
    assert figure.layout.title.text == "val_accuracy against tflite_int8_kb"
    complete = _complete(tmp_path, "drawn")
    assert sorted(figure.data[0].customdata) == sorted(t.number for t in complete)
    assert set(figure.data[1].customdata) <= set(figure.data[0].customdata)  # the front
    assert len(figure.data[1].customdata) >= 1
    (band,) = figure.layout.shapes
    assert (band.x0, band.x1) == (0.0, 6.0)
    columns = panel.table.columns
    assert columns.index("val_accuracy") < columns.index("feasible") \
        < columns.index("tflite_int8_kb") < columns.index("params")
    rows = {r["number"]: r for r in panel.table.rows}
    for t in _measured(tmp_path, "drawn"):
        assert rows[t.number]["tflite_int8_kb"] == t.user_attrs["costs"]["tflite_int8_kb"]
        assert rows[t.number]["feasible"] == ("yes" if t.state.name == "COMPLETE"
                                              else "no: tflite_int8_kb <= 6")


def test_a_cost_the_cell_returns_is_its_own_and_not_measured(ip: Any, tmp_path: Path) -> None:
    """A cell with no Keras model that returns latency_ms itself: its figure is the one
    constrained, and nothing is measured."""
    ip.run_cell_magic("automl", 'own --trials 4 --seed 0 --maximize acc '
                      '--constraint "latency_ms <= 1"',
                      'x = hp.float("x", 0, 1)\n{"acc": x, "latency_ms": 2 * x}')
    trials = study_of(tmp_path / "runs", "own").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    for t in trials:
        assert t.constraints == {"latency_ms <= 1": 2 * t.params["x"] - 1}
        assert "costs" not in t.user_attrs
