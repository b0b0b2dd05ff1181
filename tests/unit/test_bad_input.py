"""Bad input a new user would try: each is a message that names what is wrong and the fix,
never a raw traceback, and nothing finished is lost."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from jupyter_automl import run_study
from jupyter_automl.cli import main
from jupyter_automl.engine import parse_options
from jupyter_automl.errors import OptionError, PathError, path_error


@pytest.mark.parametrize("option", ["--timeout", "--checkpoint-every", "--trial-timeout"])
@pytest.mark.parametrize("value", ["0s", "-5m", "-1", "0"])
def test_a_duration_must_be_positive_and_says_so(option: str, value: str) -> None:
    with pytest.raises(OptionError, match=f"{option}: duration '{value}' must be positive"):
        parse_options(f"q {option} {value}")


def test_a_duration_that_does_not_read_says_how_to_write_one() -> None:
    with pytest.raises(OptionError, match="cannot read 'soon' as a duration; write it like 90s"):
        parse_options("q --timeout soon")


@pytest.mark.parametrize("line, said", [
    ("q --trials 0", "--trials: '0': give a whole number, at least 1"),
    ("q --trials -3", "--trials: '-3': give a whole number, at least 1"),
    ("q --trials many", "--trials: 'many': give a whole number, at least 1"),
    ("q --kernels 2 --gpus-per-trial 0", "--gpus-per-trial: '0': give a number above 0"),
])
def test_counts_must_be_positive_and_say_so(line: str, said: str) -> None:
    with pytest.raises(OptionError, match=said):
        parse_options(line)


def test_listing_a_folder_that_does_not_exist_fails(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert main(["studies", str(missing)]) == 2
    assert f"{missing}: there is no such folder" in capsys.readouterr().err
    assert main(["studies", str(tmp_path)]) == 0  # an empty one is listed as empty
    assert "no studies in" in capsys.readouterr().out


def test_a_runs_folder_that_cannot_be_made_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(PathError, match="a part of the path is a file, not a folder"):
        run_study('hp.float("x", 0, 1)', f"q --trials 1 --runs-dir {blocker / 'runs'}",
                  display="text")


@pytest.mark.parametrize("code, said", [
    (errno.EACCES, "permission denied: choose a path you can write to"),
    (errno.ENOSPC, "no space left on the device"),
    (errno.EROFS, "the file system is read-only"),
])
def test_an_error_on_a_path_names_the_path_and_the_fix(code: int, said: str) -> None:
    error = path_error(OSError(code, "raw", "/data/out"))
    assert str(error).startswith("/data/out: ") and said in str(error)


def test_a_port_out_of_range_says_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["dashboard", "q", "--port", "99999"])
    assert info.value.code == 2
    assert "'99999': a port is a number from 0 to 65535" in capsys.readouterr().err


def test_a_study_in_a_folder_that_does_not_exist(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "q", "--runs-dir", str(tmp_path / "nowhere")]) == 2
    assert "there is no such folder: give the runs folder" in capsys.readouterr().err


def test_a_full_disk_is_found_in_what_caused_an_error() -> None:
    from jupyter_automl.errors import disk_full

    full = OSError(errno.ENOSPC, "No space left on device", "/data/x")
    try:
        try:
            raise full
        except OSError as exc:
            raise RuntimeError("a callback failed") from exc
    except RuntimeError as wrapped:
        assert disk_full(wrapped) is full
    assert disk_full(OSError(errno.EACCES, "denied")) is None
    assert disk_full(OSError(errno.EDQUOT, "quota")) is not None


def test_a_full_disk_names_the_folder_its_free_space_and_the_space_needed(
        tmp_path: Path) -> None:
    from jupyter_automl.errors import disk_full_text, format_bytes
    from jupyter_automl.runs import StudyPaths

    paths = StudyPaths(tmp_path / "study")
    (paths.trial(0)).mkdir(parents=True)
    (paths.trial(0) / "checkpoint.npz").write_bytes(b"\0" * 3000)
    paths.db.write_bytes(b"\0" * 1000)
    assert paths.space_needed() == 7000
    said = disk_full_text(paths.trials, paths.space_needed())
    assert said.startswith(f"the disk holding {paths.trials} is full (")
    assert "about 6.8 KB needed to go on" in said and "--runs-dir" in said
    assert [format_bytes(n) for n in (12, 2048, 5 * 2**20)] == ["12 B", "2.0 KB", "5.0 MB"]


def test_a_database_error_under_a_trial_is_the_storage_s_not_the_cell_s(
        tmp_path: Path) -> None:
    import optuna
    import sqlalchemy.exc

    from jupyter_automl.runs import root_cause, storage_failure

    db = tmp_path / "study.db"
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    study_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "s")
    trial_id = storage.create_new_trial(study_id)
    storage.engine.dispose()
    db.write_bytes(b"not a database" * 100)
    with pytest.raises(Exception) as raised:  # what a trial's report raises then
        storage.set_trial_intermediate_value(trial_id, 1, 0.5)
    assert storage_failure(raised.value) is not None
    assert "file is not a database" in root_cause(raised.value)
    cut = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed"))
    try:
        raise cut  # the cell's own database: the cell's error
    except sqlalchemy.exc.OperationalError as exc:
        assert storage_failure(exc) is None
    assert storage_failure(ValueError("the cell's own")) is None


def test_a_server_gone_as_the_run_ends_is_a_storage_error(tmp_path: Path) -> None:
    """The run's summary reads the study once more: a database server restarting just then
    (Optuna's StorageInternalError over psycopg's OperationalError) says it cannot be reached,
    never Optuna's traceback."""
    from types import SimpleNamespace

    import optuna

    from jupyter_automl._api import finish
    from jupyter_automl.engine import RunEnd
    from jupyter_automl.errors import StorageError
    from jupyter_automl.runs import StudyPaths

    class Down:
        def __getattr__(self, name: str) -> None:
            try:
                raise ConnectionRefusedError("connection refused")
            except ConnectionRefusedError as exc:
                raise optuna.exceptions.StorageInternalError(
                    "An exception is raised during the commit.") from exc

    url = "postgresql://automl:secret@127.0.0.1:5432/studies"
    prepared = SimpleNamespace(paths=StudyPaths.at(tmp_path / "m"), url=url, study=Down(),
                               total=4)
    runner = SimpleNamespace(prepared=prepared, name="m", done=4, total=4)
    with pytest.raises(StorageError, match="cannot be reached .connection refused") as raised:
        finish(runner, RunEnd.FINISHED)  # type: ignore[arg-type]
    assert "secret" not in str(raised.value)
