"""The experiment trackers' options (--tensorboard, --mlflow, --mlflow-experiment) and the pure
parts of their records: where a Keras log key goes, which epochs are still to write, and a
tracking server that does not answer (a real closed port: said at once, by name)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_automl.engine import parse_options
from jupyter_automl.engine._mlflow import check_server
from jupyter_automl.engine._tensorboard import curve_tag
from jupyter_automl.engine._tracking import epochs_after
from jupyter_automl.errors import OptionError, TrackingError


def test_tensorboard_takes_a_folder_or_the_study_s_own() -> None:
    assert parse_options("d").tensorboard is None
    assert parse_options("d --tensorboard").tensorboard == ""  # RUNS_DIR/NAME/tensorboard
    assert parse_options("d --tensorboard logs/tb").tensorboard == "logs/tb"
    assert parse_options("d --tensorboard=logs --trials 3").tensorboard == "logs"
    assert parse_options("--tensorboard --trials 3").trials == 3


def test_mlflow_takes_a_uri_or_the_environment_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    opts = parse_options("d --mlflow http://127.0.0.1:5000")
    assert (opts.mlflow, opts.mlflow_experiment) == ("http://127.0.0.1:5000", None)
    with pytest.raises(OptionError, match="--mlflow without a URI logs to MLFLOW_TRACKING_URI, "
                                          "which is not set"):
        parse_options("d --mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert parse_options("d --mlflow --mlflow-experiment exp").mlflow_experiment == "exp"
    assert parse_options("d --mlflow").mlflow == ""


def test_mlflow_experiment_needs_mlflow() -> None:
    with pytest.raises(OptionError, match="--mlflow-experiment names the experiment of "
                                          "--mlflow's runs: add --mlflow URI"):
        parse_options("d --mlflow-experiment exp")
    with pytest.raises(OptionError, match="--mlflow-experiment needs a name"):
        parse_options("d --mlflow http://h:5000 --mlflow-experiment ' '")


def test_parsing_the_options_imports_neither_mlflow_nor_tensorboard() -> None:
    code = ("import sys\nfrom jupyter_automl.engine import parse_options\n"
            "parse_options('d --mlflow http://h:5000 --tensorboard')\n"
            "print(sorted(m for m in ('mlflow', 'tensorboard', 'tensorflow')\n"
            "             if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_keras_log_keys_go_where_keras_s_callback_puts_them() -> None:
    assert curve_tag("loss") == ("epoch_loss", "train")
    assert curve_tag("val_accuracy") == ("epoch_accuracy", "validation")


def test_only_the_epochs_after_the_resume_point_are_written() -> None:
    history = [{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5, "note": "x"},
               {"epoch": 3, "loss": 0.4}]
    assert epochs_after(history, 1) == [(2, {"loss": 0.5}), (3, {"loss": 0.4})]
    assert epochs_after(history, 3) == []


def test_a_server_that_does_not_answer_is_said_at_once() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TrackingError, match=rf"the MLflow tracking server "
                                            rf"http://u:\*\*\*@127.0.0.1:{port} does not answer"):
        check_server(f"http://u:secret@127.0.0.1:{port}")
    check_server("sqlite:///nowhere.db")  # a database or a folder: MLflow opens it itself


def test_a_tensorboard_folder_that_cannot_be_written_is_said_before_any_trial(
        tmp_path: Path) -> None:
    from jupyter_automl import run_study

    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(TrackingError, match=r"--tensorboard: the folder .*taken cannot be "
                                            r"written .*No trial has started"):
        run_study('hp.float("x", 0, 1)', f"t --trials 2 --runs-dir {tmp_path} "
                                         f"--tensorboard={tmp_path / 'taken'}")
    assert not (tmp_path / "t" / "trials").exists() or not any((tmp_path / "t" / "trials")
                                                               .iterdir())
