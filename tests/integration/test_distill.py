"""``--distill-from``: a study whose trials learn from another study's best model (real Keras
training on the digits), its options, and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from digits import split

from jupyter_automl import run_study
from jupyter_automl.errors import OptionError

TEACHER = '''
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 5e-3, 2e-2, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=6, batch_size=32)
'''

STUDENT = '''
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(hp.int("units", 8, 16),
                                                                  activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, LABELS, validation_data=(x_val, y_val), epochs=6, batch_size=32)
{"params": model.count_params()}
'''


@pytest.fixture(scope="module")
def taught(tmp_path_factory: Any) -> dict[str, Any]:
    import keras

    data = split()
    runs = tmp_path_factory.mktemp("distill")
    keras.utils.set_random_seed(0)
    ns = {**data, "keras": keras,
          "wrong": np.random.default_rng(0).permutation(data["y"])}  # labels that teach nothing
    teacher = run_study(TEACHER, f"teacher --trials 1 --maximize val_accuracy --runs-dir {runs}",
                        ns, listeners=[])
    assert teacher.best_value > 0.9
    return {"runs": runs, "ns": ns, "teacher": teacher.best_value}


def student(taught: dict[str, Any], name: str, options: str, labels: str = "y") -> Any:
    return run_study(STUDENT.replace("LABELS", labels),
                     f"{name} --maximize val_accuracy --minimize params --runs-dir "
                     f"{taught['runs']} {options}", taught["ns"], listeners=[])


def test_the_student_learns_from_the_teacher_s_targets(taught: dict[str, Any]) -> None:
    """With labels that are a random permutation, a student trained on them alone learns
    nothing; with the teacher's soft targets weighted 1 it learns the teacher's answers."""
    alone = student(taught, "alone", "--trials 1 --seed 0", labels="wrong")
    taught_ = student(taught, "taught", "--trials 1 --seed 0 --distill-from teacher "
                      "--soft-weight 1 --temperature 2", labels="wrong")
    (trial,) = alone.study.trials
    (distilled,) = taught_.study.trials
    assert trial.values[0] < 0.3  # chance is 0.1
    assert distilled.values[0] > 0.8  # val_accuracy still names the student's accuracy
    assert distilled.values[1] == trial.values[1]  # the cell's own value, the parameters
    # the saved student loads with its own loss, without this package's distillation loss
    import keras

    saved = keras.models.load_model(taught_.paths.front_models()[distilled.number])
    assert saved.loss == "sparse_categorical_crossentropy"
    assert taught_.spec["distill_from"] == {"teacher": "teacher", "temperature": "2",
                                            "soft_weight": "1"}


def test_temperature_and_weight_as_parameters(taught: dict[str, Any]) -> None:
    searched = student(taught, "searched", "--trials 2 --seed 1 --distill-from teacher "
                       "--temperature search --soft-weight search")
    for trial in searched.study.trials:
        assert 1 <= trial.params["distill_temperature"] <= 10
        assert 0.1 <= trial.params["distill_soft_weight"] <= 0.9
        assert trial.values[0] > 0.5


@pytest.mark.parametrize(("options", "message"), [
    ("--distill-from nowhere", "no study named 'nowhere'|nowhere"),
    ("--distill-from plain", "trained no Keras model"),
    ("--temperature 3", "add --distill-from"),
    ("--distill-from teacher --temperature -1", "give a positive number"),
    ("--distill-from teacher --soft-weight 2", "from 0.0 to 1.0"),
    ("--distill-from bad", "a study cannot distil from itself"),
])
def test_errors(taught: dict[str, Any], options: str, message: str, tmp_path: Path) -> None:
    run_study('(hp.float("x", 0, 1) - 0.5) ** 2', f"plain --trials 1 --runs-dir "
              f"{taught['runs']}", {}, listeners=[])
    name = "bad"
    with pytest.raises(OptionError, match=message):
        student(taught, name, f"--trials 1 {options}")
    assert not (taught["runs"] / name / "trials").exists()
