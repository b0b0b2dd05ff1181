"""``trial`` in a cell without Keras: reports feed the study, and each misuse is a clear error
that names the fix (the trial fails with it; the finished trials stay)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_automl import run_study
from jupyter_automl.errors import AutomlError, TooManyFailuresError
from jupyter_automl.training import trial


def study(body: str, tmp_path: Path, options: str = "") -> Any:
    return run_study(body, f"loop --trials 3 --seed 0 --runs-dir {tmp_path} {options}", {},
                     listeners=[])


def test_reports_are_the_trials_steps_and_value(tmp_path: Path) -> None:
    body = ('x = hp.float("x", 0, 1)\n'
            'for step in range(5):\n'
            '    trial.report({"loss": x + 1 / (step + 1)})\n')
    result = study(body, tmp_path, "--minimize loss --pruner none")
    assert result.done == 3
    for row in result.trials:
        # the best step is the last (the loss falls), and every step is in the history
        assert row["loss"] == pytest.approx(row["params"]["x"] + 0.2)
        assert row["epochs"] == 5
    state = result.paths.read_state(0)
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3, 4, 5]


def test_a_bare_number_is_the_objective(tmp_path: Path) -> None:
    body = 'x = hp.float("x", 0, 1)\nfor step in range(1, 4):\n    trial.report(x * step, step)\n'
    result = study(body, tmp_path, "--pruner none")
    assert [row["value"] for row in result.trials] == \
        pytest.approx([row["params"]["x"] for row in result.trials])  # the best (first) step


def test_early_stopping_ends_the_loop(tmp_path: Path) -> None:
    body = ('steps = 0\nx = hp.float("x", 0, 1)\n'
            'for step in range(50):\n'
            '    steps += 1\n'
            '    trial.report({"loss": 1.0})\n'
            '    if trial.should_stop():\n'
            '        break\n'
            'assert steps == 3, steps\n')
    result = study(body, tmp_path, "--minimize loss --early-stopping 2 --pruner none")
    assert result.done == 3 and all(row["epochs"] == 3 for row in result.trials)


@pytest.mark.parametrize("body,message", [
    ('trial.report(1.0, step=1)\ntrial.report(2.0, step=1)',
     "step 1 was already reported and steps must increase"),
    ('trial.report({"loss": "high"})', "loss is 'high', not a number"),
    ('trial.report({"loss": 1.0})\ntrial.report({"los": 0.5})',
     r"has the metrics \['los'\], the steps before had \['loss'\]"),
    ('trial.checkpoint(state={"seen": {1, 2}})\ntrial.report(1.0)',
     r"the state \['state'\] cannot be saved"),
    ('trial.checkpoint(rng=object())', "trial.checkpoint\\(rng=...\\) got a object"),
    ('trial.report(1.0, step=0)', "a step is a whole number, 1 or more"),
])
def test_misuse_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(TooManyFailuresError, match=message):
        study('x = hp.float("x", 0, 1)\n' + body, tmp_path, "--pruner none")


def test_outside_a_trial_it_says_where_it_works() -> None:
    with pytest.raises(AutomlError, match="works inside an %%automl cell"):
        trial.report(1.0)


def test_a_retried_loop_that_kept_nothing_starts_over(tmp_path: Path) -> None:
    """Reports alone save the history but no state: a retry reports from step 1 again."""
    import optuna

    body = ('x = hp.float("x", 0, 1)\n'
            'for step in range(3):\n'
            '    trial.report({"loss": x + step})\n')
    first = study(body, tmp_path, "--minimize loss --pruner none")
    stored = first.study.trials[0]
    first.study.enqueue_trial(stored.params, user_attrs={"retry_of": 0, "resume_from": 0})
    again = run_study(body, f"loop --trials 4 --minimize loss --runs-dir {tmp_path}", {},
                      listeners=[])
    retry = again.study.trials[3]
    assert retry.state == optuna.trial.TrialState.COMPLETE
    assert sorted(retry.intermediate_values) == [1, 2, 3]
    assert "resumed_at_epoch" not in retry.user_attrs
