"""``--executions-per-trial N``: the option, the mean and spread, how a row reads, what the
last execution reports, and which checkpoint a retry's execution resumes from."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from optuna.trial import TrialState

from jupyter_automl.engine._executions import Executions, better, checkpoint_text
from jupyter_automl.engine._options import parse_options
from jupyter_automl.errors import OptionError
from jupyter_automl.results import (
    EXECUTIONS,
    EXECUTIONS_STD,
    Averaged,
    cell_text,
    mean_and_std,
    spread_of,
    trial_row,
)
from jupyter_automl.training import Checkpoint, FitSettings, TrialFit


def test_the_option() -> None:
    assert parse_options("").executions == 1
    assert parse_options("--executions-per-trial 3 --seed 1").executions == 3
    assert parse_options("--executions-per-trial 1 --scheduler pbt").executions == 1


@pytest.mark.parametrize("line,said", [
    ("--executions-per-trial 0", "'0': give a whole number, at least 1"),
    ("--executions-per-trial -2", "give a whole number, at least 1"),
    ("--executions-per-trial two", "give a whole number, at least 1"),
    ("--executions-per-trial 2 --scheduler pbt", "cannot be combined with --scheduler pbt"),
    ("--executions-per-trial 2 --darts", "cannot be combined with --darts"),
    ("--executions-per-trial 2 --kernels 2 --strategy multi-worker",
     "cannot be combined with --strategy multi-worker"),
])
def test_nonsense_is_refused_saying_why(line: str, said: str) -> None:
    with pytest.raises(OptionError, match="executions-per-trial") as caught:
        parse_options(line)
    assert said in str(caught.value)


def test_mean_and_sample_standard_deviation() -> None:
    means, stds = mean_and_std([[0.90, 10.0], [0.92, 14.0], [0.94, 12.0]])
    assert means == pytest.approx([0.92, 12.0])
    assert stds == pytest.approx([0.02, 2.0])  # n - 1, as numpy's ddof=1
    assert mean_and_std([[0.5]]) == ([0.5], [0.0])


def test_a_row_reads_the_mean_with_its_spread() -> None:
    attrs = {EXECUTIONS: [[0.904], [0.92]], EXECUTIONS_STD: [0.0113]}
    row = trial_row(3, TrialState.COMPLETE, [0.912], ["val_accuracy"], {}, 4, 2.0,
                    spread=spread_of(attrs))
    value = row["val_accuracy"]
    assert isinstance(value, Averaged) and value == pytest.approx(0.912)
    assert cell_text("val_accuracy", value) == "0.912 ± 0.011 (2 runs)"
    assert json.loads(json.dumps(row["val_accuracy"])) == pytest.approx(0.912)  # the widget's
    assert sorted([Averaged(0.5, 0.1, 2), 0.3]) == [0.3, 0.5]
    plain = trial_row(4, TrialState.COMPLETE, [0.9], ["val_accuracy"], {}, 4, 2.0)
    assert cell_text("val_accuracy", plain["val_accuracy"]) == "0.9"
    assert spread_of({EXECUTIONS: [[0.9]]}) is None  # not finished: no spread yet


def test_the_last_execution_reports_the_mean_of_each_step() -> None:
    runs = Executions(3, values=[[0.8], [0.6]],
                      curves=[[[1, 0.5], [2, 0.8]], [[1, 0.3], [2, 0.6], [3, 0.7]]])
    settings = FitSettings("val_accuracy", prune=True)
    runs.configure(settings)
    assert (settings.execution, settings.report, settings.prune) == (2, True, True)
    fit: Any = SimpleNamespace(settings=settings)
    assert TrialFit.reported(fit, 0.7, 1) == pytest.approx(0.5)  # (0.5 + 0.3 + 0.7) / 3
    assert TrialFit.reported(fit, 0.9, 3) == pytest.approx(0.8)  # only the second reached 3
    assert TrialFit.reported(fit, 0.4, 9) == 0.4
    first = FitSettings("val_accuracy", prune=True)
    Executions(3).configure(first)
    assert (first.execution, first.report, first.prune) == (0, False, False)


def test_a_retry_resumes_only_its_own_execution(capsys: pytest.CaptureFixture[str]) -> None:
    trial: Any = SimpleNamespace(number=7)
    runs = Executions(3, values=[[0.8]], curves=[[]], seeds=[11, 12])
    saved = Checkpoint(1, [np.zeros(2)], [], execution=1)
    assert runs.resume_point(trial, saved) is saved
    assert "trial 7 goes on at execution 2 of 3" in capsys.readouterr().err
    stale = Checkpoint(4, [np.zeros(2)], [], execution=0)  # the finished execution's last
    assert runs.resume_point(trial, stale) is None
    assert Executions(3).resume_point(trial, Checkpoint(2, [], [])) is not None


def test_seeds_are_kept_and_taken_again(monkeypatch: pytest.MonkeyPatch) -> None:
    for heavy in ("keras", "tensorflow"):  # their global seeds are left alone by this test
        monkeypatch.setitem(sys.modules, heavy, None)  # type: ignore[arg-type]
    attrs: dict[str, Any] = {}
    trial: Any = SimpleNamespace(number=5, set_user_attr=attrs.__setitem__)
    runs = Executions(2)
    first = runs.begin(trial, 3)
    assert attrs["execution_seeds"] == [first] == [(3 * 1_000_003 + 5 * 1_009) % 2**31]
    retried = Executions(2, seeds=[first])
    assert retried.begin(trial, None) == first  # a retry runs it on the seed it had
    a, b = np.random.rand(), (retried.begin(trial, None), np.random.rand())[1]
    assert a == b


def test_the_best_execution_is_kept() -> None:
    low, high = SimpleNamespace(values=[0.2]), SimpleNamespace(values=[0.5])
    assert better(None, low, "maximize") is low
    assert better(low, high, "maximize") is high and better(low, high, "minimize") is low


def test_an_interrupted_run_says_which_execution_was_checkpointed() -> None:
    history = [{"epoch": 1.0}, {"epoch": 2.0}]
    one_done = {EXECUTIONS: [[0.8]]}
    assert checkpoint_text({"execution": 1, "history": history}, one_done, 3) == \
        " at execution 2 of 3, epoch 2"
    # the first execution's last checkpoint, execution 2 not saved yet: it starts again
    assert checkpoint_text({"execution": 0, "history": history}, one_done, 3) is None
    assert checkpoint_text({"history": []}, {}, 2) == " at execution 1 of 2"
