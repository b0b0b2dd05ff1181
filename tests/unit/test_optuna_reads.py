"""Reading a study's trials with plain SQL (``_optuna.preload``) gives what Optuna's own read
gives, and later reads see what changed since."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from jupyter_automl import _optuna


def comparable(trial: optuna.trial.FrozenTrial) -> tuple:
    steps = {k: "nan" if math.isnan(v) else v for k, v in trial.intermediate_values.items()}
    return (trial.number, trial.state, trial.values, trial.datetime_start,
            trial.datetime_complete, trial.params, trial.distributions, trial.user_attrs,
            trial.system_attrs, steps, _optuna.trial_id(trial))


@pytest.mark.parametrize("objectives", [1, 2])
def test_the_sql_read_gives_the_trials_optuna_reads(tmp_path: Path, objectives: int) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=url, study_name="s", directions=["minimize"] * objectives)
    other = optuna.create_study(storage=url, study_name="other")
    other.optimize(lambda t: t.suggest_float("z", 0, 1), n_trials=2)  # not among s's trials
    dists = {"x": FloatDistribution(-1, 1), "n": IntDistribution(1, 9, log=True),
             "act": CategoricalDistribution(["relu", None, 3])}
    study.add_trial(create_trial(params={"x": 0.5, "n": 3, "act": None}, distributions=dists,
                                 values=[float("inf")] * objectives, user_attrs={"k": [1, "a"]},
                                 system_attrs={"s": {"b": 2}}))
    study.add_trial(create_trial(params={"x": -0.5, "n": 9, "act": "relu"}, distributions=dists,
                                 state=TrialState.PRUNED,
                                 intermediate_values={0: 1.0, 1: float("nan"), 2: -math.inf}))
    study.add_trial(create_trial(state=TrialState.FAIL))
    running = study.ask()
    running.suggest_categorical("act", ["relu", None, 3])
    study.enqueue_trial({"x": 0.1}, user_attrs={"retry_of": 1})
    fresh = optuna.load_study(study_name="s", storage=url)
    _optuna.preload(fresh)
    ours = fresh.get_trials(deepcopy=False)
    theirs = optuna.load_study(study_name="s", storage=url).get_trials(deepcopy=False)
    assert [comparable(t) for t in ours] == [comparable(t) for t in theirs]
    assert [t.state for t in ours][-2:] == [TrialState.RUNNING, TrialState.WAITING]
    # what changes later is read by Optuna as usual: the running trial ends, one more starts
    study.tell(running, [1.0] * objectives)
    study.add_trial(create_trial(params={"x": 0.0}, distributions={"x": dists["x"]},
                                 values=[0.0] * objectives))
    again = fresh.get_trials(deepcopy=False)
    assert [t.state.name for t in again][3:] == ["COMPLETE", "WAITING", "COMPLETE"]
    _optuna.preload(fresh)  # a second preload reads nothing again
    assert len(fresh.get_trials(deepcopy=False)) == 6
