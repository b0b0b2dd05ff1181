"""Discard and rerun without a kernel: the verbs' arguments, a finished trial's record
rewritten in Optuna's tables (and refused when it changed meanwhile), the notes and rows of a
discarded trial, and the summary's two readers agreeing on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_automl import _optuna
from jupyter_automl._verbs import CLI, MAGIC, parser
from jupyter_automl.errors import OptionError
from jupyter_automl.results import mark_discarded, with_discarded
from jupyter_automl.results._trials import discard_note, discarded_values
from jupyter_automl.runs import DISCARDED


def make_study(tmp_path: Path) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}")
    study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=3)
    return study


@pytest.mark.parametrize("where", [MAGIC, CLI])
def test_the_verbs_take_a_study_a_trial_number_and_their_options(where: str) -> None:
    args = parser(where).parse_args(["discard", "q", "3", "--reason", "a noisy run"])
    assert (args.name, args.trial, args.reason, args.undo) == ("q", 3, "a noisy run", False)
    args = parser(where).parse_args(["rerun", "q", "0", "--discard"])
    assert (args.trial, args.discard, args.reason) == (0, True, None)


def test_a_trial_is_named_by_its_number() -> None:
    for bad in ("x", "-1"):
        with pytest.raises(OptionError, match="a trial is named by its number"):
            parser(MAGIC).parse_args(["discard", "q", bad])


def test_rewriting_a_finished_trial_and_putting_it_back(tmp_path: Path) -> None:
    import optuna
    from optuna.trial import TrialState

    study = make_study(tmp_path)
    values = study.trials[1].values
    record = {"reason": "noise", "state": "COMPLETE", "values": values}
    _optuna.rewrite_finished(study, 1, expected=TrialState.COMPLETE, state=TrialState.FAIL,
                             values=None, attr=DISCARDED, attr_value=record)
    fresh = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}")
    trial = fresh.trials[1]
    assert (trial.state, trial.values, trial.user_attrs[DISCARDED]) == (
        TrialState.FAIL, None, record)
    with pytest.raises(_optuna.TrialChanged, match="trial 1 is FAIL now, not COMPLETE"):
        _optuna.rewrite_finished(fresh, 1, expected=TrialState.COMPLETE,
                                 state=TrialState.FAIL, values=None, attr=DISCARDED,
                                 attr_value=record)
    with pytest.raises(LookupError):
        _optuna.rewrite_finished(fresh, 9, expected=TrialState.COMPLETE,
                                 state=TrialState.FAIL, values=None, attr=DISCARDED,
                                 attr_value=None)
    _optuna.rewrite_finished(fresh, 1, expected=TrialState.FAIL, state=TrialState.COMPLETE,
                             values=discarded_values(trial.user_attrs), attr=DISCARDED,
                             attr_value=None)
    back = optuna.load_study(study_name="s",
                             storage=f"sqlite:///{tmp_path / 'study.db'}").trials[1]
    assert (back.state, back.values, DISCARDED in back.user_attrs) == (
        TrialState.COMPLETE, values, False)


def test_the_summary_counts_a_discarded_trial_apart_by_sql_and_through_optuna(
        tmp_path: Path) -> None:
    from optuna.trial import TrialState

    from jupyter_automl.results._summary import _best, rows_of

    study = make_study(tmp_path)
    _optuna.rewrite_finished(study, 2, expected=TrialState.COMPLETE, state=TrialState.FAIL,
                             values=None, attr=DISCARDED, attr_value={"reason": None})
    by_sql = _optuna.read_study(tmp_path / "study.db", "s", lent="warm_start", final="final",
                                lost="failed_because", supernet="darts_supernet",
                                choose=_best, discarded=DISCARDED)
    import optuna

    through_optuna = rows_of(optuna.load_study(
        study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}"))
    assert by_sql.discarded == through_optuna.discarded == {2}
    assert [n for n, _, _ in by_sql.best] == [n for n, _, _ in through_optuna.best]
    assert 2 not in [n for n, _, _ in by_sql.best]


def test_a_discarded_trial_reads_as_such_in_its_row() -> None:
    attrs = {DISCARDED: {"reason": "bad batch", "by": "ana@box", "state": "COMPLETE",
                         "at": "2026-12-05T17:04:00+00:00", "values": [0.5, 2.0]}}
    assert discard_note(attrs) == "bad batch (by ana@box, 2026-12-05 17:04 UTC)"
    assert discard_note({DISCARDED: {}}) == "discarded"
    assert discard_note({}) is None
    row = mark_discarded({"number": 3, "state": "FAIL", "loss": None, "acc": None,
                          "error": "x"}, attrs, ["loss", "acc"])
    assert row == {"number": 3, "state": "DISCARDED", "loss": 0.5, "acc": 2.0,
                   "discarded": "bad batch (by ana@box, 2026-12-05 17:04 UTC)"}
    untouched = {"number": 1, "state": "COMPLETE"}
    assert mark_discarded(dict(untouched), {}, ["loss"]) == untouched
    assert with_discarded(["number"], [untouched]) == ["number"]
    assert with_discarded(["number"], [untouched, row]) == ["number", "discarded"]


def test_a_lost_rerun_is_retried_as_a_rerun(tmp_path: Path) -> None:
    """A queued rerun whose kernel died is failed and queued again, still marked a rerun, so
    that it still runs past the study's total."""
    from jupyter_automl.engine._recovery import fail_and_retry
    from jupyter_automl.runs import RERUN_OF, StudyPaths

    study = make_study(tmp_path)
    study.enqueue_trial(dict(study.trials[0].params), user_attrs={RERUN_OF: 0})
    running = study.ask()
    assert running.user_attrs[RERUN_OF] == 0
    running.suggest_float("x", -3, 3)  # the cell draws (is given) its parameters, then dies
    assert fail_and_retry(study, _optuna.frozen(study, running), StudyPaths(tmp_path / "s"),
                          reason="its kernel died")
    retry = study.trials[-1]
    assert (retry.state.name, retry.user_attrs[RERUN_OF]) == ("WAITING", 0)
    assert _optuna.given_params(study.ask()) == study.trials[0].params
