from __future__ import annotations

import pytest

from jupyter_automl._utils.duration import format_duration, parse_duration
from jupyter_automl.engine._options import Objective, parse_options
from jupyter_automl.errors import OptionError


def test_defaults() -> None:
    o = parse_options("")
    assert (o.name, o.trials, o.sampler, o.directions, o.effective_pruner) == (
        "automl", None, "tpe+evolution", ["minimize"], "median")


def test_everything() -> None:
    o = parse_options("digits --trials 40 --timeout 1h30m --maximize val_accuracy "
                      "--minimize params --sampler nsga2 --seed 3 --early-stopping 4 "
                      "--storage x.db --runs-dir runs --fresh")
    assert o.name == "digits" and o.trials == 40 and o.timeout == 5400
    assert o.objectives == [Objective("val_accuracy", "maximize"), Objective("params", "minimize")]
    assert o.directions == ["maximize", "minimize"] and o.effective_pruner == "none"
    assert (o.sampler, o.seed, o.early_stopping, o.storage, o.runs_dir, o.fresh) == (
        "nsga2", 3, 4, "x.db", "runs", True)


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("30m", 1800),
                                          ("1.5h", 5400), ("2h30m", 9000), ("1d", 86400)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "10x", "-5", "0", "1h-2m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (5, 185, 3720)] == ["5s", "3m05s", "1h02m"]


BAD_LINES = [
    ("--trails 5", r"unknown option --trails \(did you mean --trials\?\)"),
    ("--trials 0", r"--trials: '0': give a whole number, at least 1"),
    ("--trials many", r"--trials: 'many': give a whole number, at least 1"),
    ("--timeout soon", r"--timeout: cannot read 'soon' as a duration; write it like 90s"),
    ("--sampler foo", r"--sampler: invalid choice: 'foo'"),
    ("--pruner magic", r"--pruner: invalid choice: 'magic'"),
    ("--maximize", r"--maximize: expected one argument"),
    ("--maximize acc --minimize acc", r"each metric may appear once"),
    ("--maximize a --maximize b --pruner median", r"--pruner median needs a single objective"),
    ("a b", r"unexpected argument 'b': only one study name"),
    ("bad/name", r"study name 'bad/name' must start with a letter or digit"),
    ("--fresh --check", r"cannot be combined with --fresh"),
    ("--seed x", r"--seed: invalid int value: 'x'"),
    ("'unclosed", r"cannot split the option line"),
]


@pytest.mark.parametrize("line,message", BAD_LINES)
def test_bad_option_lines(line: str, message: str) -> None:
    with pytest.raises(OptionError, match=message) as info:
        parse_options(line)
    if "split" not in message:
        assert "valid options: --background, --check, --checkpoint-dir, --checkpoint-every, " \
               "--checkpoint-store, --constraint, " \
               "--darts, --darts-beta, --darts-lr, --distill-from, --early-stopping, --edit" \
            in str(info.value)


def test_the_costs_to_measure_come_from_measure_objectives_and_constraints() -> None:
    options = parse_options('s --maximize val_accuracy --constraint "tflite_int8_kb <= 8" '
                            '--measure latency_ms --measure latency_ms,tflite_dynamic_kb')
    assert options.measures == ["tflite_dynamic_kb", "tflite_int8_kb", "latency_ms"]
    assert parse_options("s --minimize latency_int8_ms").measures == ["latency_int8_ms"]
    assert parse_options("s --measure all").measures == [
        "tflite_dynamic_kb", "tflite_int8_kb", "latency_ms", "latency_int8_ms"]
    assert parse_options('s --constraint "params <= 5k"').measures == []
    with pytest.raises(OptionError, match=r"--measure: unknown cost 'size'; choose among "
                       r"tflite_dynamic_kb, tflite_int8_kb, latency_ms, latency_int8_ms"):
        parse_options("s --measure size")


def test_a_calibration_sample_is_drawn_from_what_fit_was_given() -> None:
    import numpy as np

    from jupyter_automl.training import calibration_sample

    x = np.arange(1000 * 3, dtype="float32").reshape(1000, 3)
    drawn = calibration_sample(x)
    assert drawn is not None and drawn.shape == (200, 3)
    assert np.array_equal(drawn, calibration_sample(x))  # the same draw every time
    assert len(np.unique(drawn[:, 0])) == 200 and drawn[:, 0].max() > 600  # across the data
    batches = [(x[i:i + 64], None) for i in range(0, 1000, 64)]  # a PyDataset-like sequence
    assert calibration_sample(batches).shape == (200, 3)
    assert calibration_sample({"a": x}) is None and calibration_sample(iter(batches)) is None
    assert calibration_sample(x[:0]) is None


@pytest.mark.parametrize("url, message", [
    ("s3://key:secret@bucket", "credentials never go in the URL"),
    ("s3://No_Such", "write s3://BUCKET or s3://BUCKET/PREFIX"),
    ("gs://bucket", "use s3://BUCKET[/PREFIX] or a folder (file:///PATH or a path)"),
])
def test_a_checkpoint_store_it_cannot_use_is_an_option_error(url: str, message: str) -> None:
    import re

    with pytest.raises(OptionError, match=re.escape(message)):
        parse_options(f"s --checkpoint-store {url}")
    assert parse_options("s --checkpoint-store s3://bucket/x").checkpoint_store == \
        "s3://bucket/x"
