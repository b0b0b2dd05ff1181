"""``--warm-start``: earlier studies' finished trials become observations of a new study (in its
space, out-of-range ones left out, marked, not counted), ``OTHER:topN`` queues the best sets
again, nothing is added twice, and mistakes are clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_automl import run_study
from jupyter_automl.errors import AutomlError, OptionError
from jupyter_automl.results import load_result
from jupyter_automl.ui._model import StudyModel

QUAD = 'x = hp.float("x", {low}, {high})\ny = hp.int("y", 0, 3)\n(x - 1) ** 2 + y\n'
NEW = 'x = hp.float("x", -2, 2)\nz = hp.choice("z", ["a", "b"])\n(x - 1) ** 2 + (z == "b")\n'


def study(tmp_path: Path, name: str, body: str, options: str = "") -> Any:
    return run_study(body, f"{name} --seed 0 --runs-dir {tmp_path} {options}", {}, listeners=[])


def test_finished_trials_become_marked_observations_that_do_not_count(tmp_path: Path) -> None:
    old = study(tmp_path, "old", QUAD.format(low=-5, high=5), "--trials 12")
    inside = [t for t in old.study.trials if -2 <= t.params["x"] <= 2]
    new = study(tmp_path, "new", NEW, "--trials 4 --warm-start old")
    trials = new.study.trials
    warm = [t for t in trials if "warm_start" in t.user_attrs]
    # x inside the new range only; y dropped (the new space lacks it); z not set
    assert len(warm) == len(inside) and 0 < len(warm) < 12
    for trial in warm:
        assert trial.state.name == "COMPLETE" and set(trial.params) == {"x"}
        assert trial.user_attrs["kernel"] == "from old"
        source = old.study.trials[trial.user_attrs["warm_trial"]]
        assert trial.params["x"] == source.params["x"] and trial.values == source.values
    own = [t for t in trials if "warm_start" not in t.user_attrs]
    assert len(own) == 4 and new.done == 4 and new.best_trial in own
    assert f"and {len(warm)} from other studies" in new.summary()
    model = StudyModel.from_result(load_result("new", tmp_path))
    assert model.done == 4 and len(model.records) == len(trials)
    # a rerun adds nothing twice, and the total still counts only the study's own trials
    again = study(tmp_path, "new", NEW, "--trials 6 --warm-start old")
    assert sum("warm_start" in t.user_attrs for t in again.study.trials) == len(warm)
    assert again.done == 6
    plain = study(tmp_path, "new", NEW, "--trials 7")  # without the option: still not counted
    assert plain.done == 7 and len(plain.study.trials) == 7 + len(warm)


def test_top_n_trains_the_best_parameter_sets_again_first(tmp_path: Path) -> None:
    old = study(tmp_path, "old", QUAD.format(low=-2, high=2), "--trials 10")
    best = sorted(old.study.trials, key=lambda t: t.value)[:3]
    new = study(tmp_path, "new", NEW, "--trials 5 --warm-start old:top3")
    first = new.study.trials[:3]
    assert [t.params["x"] for t in first] == [t.params["x"] for t in best]
    assert all(t.user_attrs["warm_queued"] == "old" for t in first)
    assert new.done == 5 and not any("warm_start" in t.user_attrs for t in new.study.trials)
    again = study(tmp_path, "new", NEW, "--trials 6 --warm-start old:top3")
    assert sum("warm_queued" in t.user_attrs for t in again.study.trials) == 3  # not queued twice


def test_a_storage_url_needs_a_study_name_when_it_holds_several(tmp_path: Path) -> None:
    import optuna

    url = f"sqlite:///{tmp_path / 'other.db'}"
    for name in ("a", "b"):
        other = optuna.create_study(study_name=name, storage=url)
        other.optimize(lambda t: (t.suggest_float("x", -2, 2) - 1) ** 2, n_trials=3)
    with pytest.raises(OptionError, match=r"holds 2 studies \(a, b\); name one as URL#NAME"):
        study(tmp_path, "new", NEW, f"--trials 2 --warm-start {url}")
    new = study(tmp_path, "new", NEW, f"--trials 2 --warm-start {url}#b")
    assert sum(t.user_attrs.get("warm_start") == "b" for t in new.study.trials) == 3


@pytest.mark.parametrize(("options", "message"), [
    ("--warm-start old:top0", r"top N needs N >= 1"),
    ("--warm-start new", r"cannot warm-start itself"),
    ("--warm-start nothing", r"nothing"),
    ("--warm-start old --maximize value", r"it optimised \(minimize\), this study \(maximize\)"),
])
def test_mistakes_are_clear_errors(tmp_path: Path, options: str, message: str) -> None:
    study(tmp_path, "old", QUAD.format(low=-2, high=2), "--trials 3")
    with pytest.raises(AutomlError, match=message):
        study(tmp_path, "new", NEW, f"--trials 2 {options}")


def test_the_progress_line_counts_only_the_study_s_own_trials(tmp_path: Path) -> None:
    import io

    from jupyter_automl.ui._progress import ProgressLine

    study(tmp_path, "old", QUAD.format(low=-2, high=2), "--trials 6")
    stream = io.StringIO()
    run_study(NEW, f"new --seed 0 --runs-dir {tmp_path} --trials 3 --warm-start old", {},
              listeners=[ProgressLine(stream)])
    last = stream.getvalue().replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("new: 3/3 trials"), last
