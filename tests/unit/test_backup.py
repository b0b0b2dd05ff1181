"""The copy of a study's database a runner keeps, and putting it back (runs/_backup.py)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from jupyter_automl.errors import AutomlError
from jupyter_automl.runs import Backups, _backup, backup_of, copy_database, restore, study_paths


def study_with(paths: Path, trials: int) -> optuna.Study:
    study = optuna.create_study(study_name="b", storage=f"sqlite:///{paths}",
                                load_if_exists=True)
    for _ in range(trials):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    return study


def test_a_copy_holds_the_study_as_it_was(tmp_path: Path) -> None:
    paths = study_paths(tmp_path, "b")
    paths.root.mkdir(parents=True)
    study_with(paths.db, 3)
    copy_database(paths.db, backup_of(paths.db))
    study_with(paths.db, 2)
    copied = optuna.load_study(study_name="b", storage=f"sqlite:///{backup_of(paths.db)}")
    assert len(copied.trials) == 3
    assert not list(paths.root.glob(".*.tmp"))  # no temporary file left


def test_restore_puts_the_copy_back_and_keeps_the_rest_aside(tmp_path: Path) -> None:
    paths = study_paths(tmp_path, "b")
    paths.root.mkdir(parents=True)
    study_with(paths.db, 2)
    copy_database(paths.db, backup_of(paths.db))
    study_with(paths.db, 2)
    for number in range(4):
        (paths.trial(number)).mkdir(parents=True)
    paths.db.write_bytes(b"not a database")
    done = restore(paths)
    assert done.trials == 2 and done.damaged is not None
    assert done.damaged.read_bytes() == b"not a database"
    assert sorted(p.name.split(".")[0] for p in done.set_aside) == ["2", "3"]
    assert sorted(p.name for p in paths.trials.iterdir() if p.name.isdigit()) == ["0", "1"]
    assert len(optuna.load_study(study_name="b", storage=f"sqlite:///{paths.db}").trials) == 2
    assert "restored the copy of" in done.describe("b")


def test_restore_without_a_copy_or_with_a_bad_one_says_so(tmp_path: Path) -> None:
    paths = study_paths(tmp_path, "b")
    paths.root.mkdir(parents=True)
    with pytest.raises(AutomlError, match="has no copy of its database"):
        restore(paths)
    backup_of(paths.db).write_bytes(b"garbage")
    with pytest.raises(AutomlError, match="cannot be read either"):
        restore(paths)


def test_copies_are_spaced_and_a_failed_one_keeps_the_last(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    paths = study_paths(tmp_path, "b")
    paths.root.mkdir(parents=True)
    study_with(paths.db, 1)
    backups = Backups(paths)
    backups.maybe()  # a run that began now: not due
    assert not backup_of(paths.db).exists()
    monkeypatch.setattr(_backup, "EVERY", 0.0)
    backups.maybe()
    assert backup_of(paths.db).exists()
    kept = backup_of(paths.db).read_bytes()
    paths.db.write_bytes(b"not a database")
    backups.take()
    assert backup_of(paths.db).read_bytes() == kept
    assert "the previous copy is kept" in capsys.readouterr().out
