"""``--scheduler pbt``: population-based training with real Keras training.

Generations of member trials, exploit (a checkpoint copied) and explore (mutable parameters
perturbed, their new value in effect), the schedule and the best model, errors, and resume
after the kernel running a generation is killed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import study_of

from jupyter_automl.errors import OptionError, PbtError, StudyConflictError
from jupyter_automl.results import (
    CONTINUED,
    COPIED,
    FINAL,
    GENERATION,
    MEMBER,
    MUTABLE,
    lineage,
)

CELL = '''
model = keras.Sequential([keras.Input((8,)),
                          keras.layers.Dense(hp.int("units", 4, 16), activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
rate = hp.float("lr", 1e-3, 1e-1, log=True, mutable=True)
model.compile(keras.optimizers.Adam(rate), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
class Seen(keras.callbacks.Callback):  # after the checkpoint's restore, before any step
    def on_train_batch_begin(self, batch, logs=None):
        if not self.seen:
            self.seen = True
            seen_rates.append((float(self.model.optimizer.learning_rate.numpy()), rate,
                               int(self.model.optimizer.iterations.numpy())))
    seen = False
model.fit(x, y, validation_data=(x_val, y_val), epochs=EPOCHS, batch_size=32, callbacks=[Seen()])
'''


@pytest.fixture
def data(ip: Any) -> Any:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    ip.user_ns.update(x=x, y=y, x_val=x[:64], y_val=y[:64], seen_rates=[])
    return ip


def cell(epochs: int) -> str:
    return CELL.replace("EPOCHS", str(epochs))


def by_number(study: Any) -> dict[int, Any]:
    return {t.number: t for t in study.trials}


def test_generations_exploit_and_explore(data: Any, tmp_path: Path) -> None:
    data.run_cell_magic("automl", "pbt --scheduler pbt --population 4 --interval 2 --seed 1 "
                        "--maximize val_accuracy", cell(6))
    study = study_of(tmp_path / "runs", "pbt")
    trials = by_number(study)
    # 4 members x 3 generations, each a COMPLETE trial, queued in member order
    assert len(trials) == 12 and all(t.state.name == "COMPLETE" for t in trials.values())
    for t in trials.values():
        assert t.user_attrs[MEMBER] == t.number % 4 and t.user_attrs[GENERATION] == t.number // 4
        assert t.user_attrs[MUTABLE] == ["lr"]
        assert t.user_attrs[FINAL] is (t.user_attrs[GENERATION] == 2)
        # a trial trains its own generation's epochs only
        g = t.user_attrs[GENERATION]
        assert sorted(t.intermediate_values) == [2 * g + 1, 2 * g + 2]
    for g in (1, 2):
        members = [t for t in trials.values() if t.user_attrs[GENERATION] == g]
        before = {t.user_attrs[MEMBER]: t for t in trials.values()
                  if t.user_attrs[GENERATION] == g - 1}
        copied = [t for t in members if COPIED in t.user_attrs]
        assert len(copied) == 1  # the bottom quarter of 4
        ranked = sorted(before.values(), key=lambda t: -t.value)
        child = copied[0]
        assert before[child.user_attrs[MEMBER]].number == ranked[-1].number  # the worst...
        assert child.user_attrs[COPIED] == ranked[0].number  # ...copies the best
        donor = trials[child.user_attrs[COPIED]]
        assert child.params["units"] == donor.params["units"]  # the architecture is inherited
        low, high = 1e-3, 1e-1
        assert low <= child.params["lr"] <= high
        assert child.params["lr"] != donor.params["lr"]
        for t in members:
            assert t.user_attrs[CONTINUED] == before[t.user_attrs[MEMBER]].number
            if t is not child:
                assert t.params == before[t.user_attrs[MEMBER]].params
    # the learning rate in effect after a restore is the trial's own, never the checkpoint's
    seen = data.user_ns["seen_rates"]
    assert len(seen) == 12
    for in_effect, asked, _iterations in seen:
        assert math.isclose(in_effect, asked, rel_tol=1e-5)
    # the optimizer's state was restored: its step count goes on from the checkpoint
    assert [it for _, _, it in seen[4:8]] == [16] * 4  # 2 epochs x 8 batches
    # the copied member's weights are the donor's: its first epoch starts where the donor ended
    result = data.user_ns["_automl"]
    best = result.best_trial
    assert best.user_attrs[FINAL]
    chain = lineage(trials, best.number)
    assert [t.user_attrs[GENERATION] for t in chain] == [0, 1, 2]
    schedule = result.best_schedule
    assert schedule["epoch"] == [1, 2, 3, 4, 5, 6]
    assert schedule["lr"] == [t.params["lr"] for t in chain for _ in range(2)]
    assert result.done == 12 and result.total == 12 and result.status == "finished"
    # the best model is the best member's final checkpoint
    params = json.loads((tmp_path / "runs" / "pbt" / "best" / "params.json").read_text())
    assert params["trial"] == best.number


def test_rerun_of_a_finished_pbt_study_adds_nothing(data: Any, tmp_path: Path) -> None:
    options = "again --scheduler pbt --population 4 --interval 1 --seed 3"
    data.run_cell_magic("automl", options, cell(2))
    data.run_cell_magic("automl", options, cell(2))
    assert len(study_of(tmp_path / "runs", "again").trials) == 8


@pytest.mark.parametrize(("options", "message"), [
    ("e --scheduler pbt --population 3", "at least 4 members"),
    ("e --scheduler pbt --maximize val_accuracy --minimize loss", "one objective"),
    ("e --scheduler pbt --pruner median", "drop --pruner"),
    ("e --scheduler pbt --trials 10", "drop\n--trials"),
    ("e --population 8", "add --scheduler pbt"),
])
def test_bad_options(data: Any, options: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        data.run_cell_magic("automl", options, cell(2))
    assert message.replace("\n", " ") in str(info.value).replace("\n", " ")


def test_no_mutable_parameter_is_an_error_before_any_trial(data: Any, tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="mutable=True"):
        data.run_cell_magic("automl", "nm --scheduler pbt --population 4",
                            cell(2).replace(", mutable=True", ""))
    assert not (tmp_path / "runs" / "nm" / "trials").exists()


def test_a_cell_without_fit_stops_the_study(data: Any, tmp_path: Path) -> None:
    with pytest.raises(PbtError, match="did not call\nmodel.fit|did not call model.fit"):
        data.run_cell_magic("automl", "nofit --scheduler pbt --population 4",
                            'hp.float("lr", 0.1, 1.0, mutable=True) ** 2')
    study = study_of(tmp_path / "runs", "nofit")
    assert sum(t.state.name == "FAIL" for t in study.trials) == 1  # stopped at the first


def test_another_kind_of_study_is_a_conflict(data: Any) -> None:
    data.run_cell_magic("automl", "mixed --trials 1", cell(1))
    with pytest.raises(StudyConflictError, match="no --scheduler"):
        data.run_cell_magic("automl", "mixed --scheduler pbt --population 4", cell(1))


@pytest.mark.slow
def test_worker_kernels_train_a_generation_side_by_side(ip: Any, tmp_path: Path,
                                                       monkeypatch: Any) -> None:
    """Each worker kernel holds after its first epoch until both are held (the pause
    failpoint): the two train members of generation 0 at once, however late one started."""
    import threading

    from conftest import orphan_kernels
    from fault_study import Hold

    from jupyter_automl._utils.failpoints import ENV

    hold = Hold(tmp_path / "held")
    monkeypatch.setenv(ENV, hold.env("epoch.saved@0")[ENV])  # the worker kernels inherit it
    held: list[Any] = []

    def release_both() -> None:
        try:
            held.append(hold.wait(2, "both worker kernels"))
        except Exception as exc:  # noqa: BLE001 - let the run go on; the test says why
            held.append(exc)
        hold.release()

    releaser = threading.Thread(target=release_both, daemon=True)
    releaser.start()

    setup = '''
import numpy as np
import keras
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int64")
x_val, y_val, seen_rates = x[:64], y[:64], []
'''
    ip.run_cell_magic("automl_setup", "", setup)
    ip.run_cell_magic("automl", "par --scheduler pbt --population 4 --interval 1 --seed 2 "
                      "--kernels 2 --maximize val_accuracy", cell(2))
    releaser.join(30)
    assert held and isinstance(held[0], list) and len(held[0]) == 2, held
    study = study_of(tmp_path / "runs", "par")
    trials = by_number(study)
    assert len(trials) == 8 and all(t.state.name == "COMPLETE" for t in trials.values())
    assert {t.user_attrs["kernel"] for t in trials.values()} == {"local kernel 0",
                                                                "local kernel 1"}
    # synchronous: no trial of generation 1 started before generation 0 had ended
    first = [t for t in trials.values() if t.user_attrs[GENERATION] == 0]
    second = [t for t in trials.values() if t.user_attrs[GENERATION] == 1]
    assert max(t.datetime_complete for t in first) <= min(t.datetime_start for t in second)
    (child,) = [t for t in second if COPIED in t.user_attrs]
    assert child.user_attrs["resumed_at_epoch"] == 1  # the donor's checkpoint, on a worker
    best = ip.user_ns["_automl"].best_trial
    assert best.user_attrs[FINAL] and (tmp_path / "runs" / "par" / "best" / "model.keras").exists()
    assert orphan_kernels() == []


def test_the_live_panel_draws_members_and_the_schedule(data: Any, capsys: Any) -> None:
    from jupyter_automl import run_study
    from jupyter_automl.ui._panel import StudyPanel

    panel = StudyPanel(interval=0, display=False)
    result = run_study(cell(4), "live --scheduler pbt --population 4 --interval 2 --seed 5 "
              "--maximize val_accuracy", data.user_ns, listeners=[panel])
    assert "switched off" not in capsys.readouterr().err
    assert "8/8 trials" in panel.header.value and "finished" in panel.header.value
    curves = panel.figures["curves"]
    assert curves.layout.title.text == "Population: a line per member"
    members = [t for t in curves.data if t.name.startswith("member")]
    assert len(members) == 4
    for trace in members:  # each member's line runs through both generations
        assert [x for x in trace.x if x == x] == [1, 2, 3, 4]
    copies = next(t for t in curves.data if t.name == "copied a better member")
    assert list(copies.x) == [3]  # one member copied another, at the second generation
    best = next(t for t in curves.data if t.name == "best lineage")
    assert list(best.x) == [1, 2, 3, 4]
    (lr,) = panel.figures["schedule"].data
    schedule = result.best_schedule
    assert lr.name == "lr" and [float(v) for v in lr.text] == pytest.approx(
        schedule["lr"], rel=1e-3)
    assert "member" in panel.table.columns
    assert {r["member"].split(" · ")[1] for r in panel.table.rows} == {"gen 0", "gen 1"}


def test_a_warm_start_from_a_pbt_study_takes_its_trained_members(data: Any,
                                                                 tmp_path: Path) -> None:
    data.run_cell_magic("automl", "src --scheduler pbt --population 4 --interval 1 --seed 0 "
                        "--maximize val_accuracy", cell(2))
    finals = {t.number: t for t in study_of(tmp_path / "runs", "src").trials
              if t.user_attrs.get(FINAL)}
    assert len(finals) == 4
    data.run_cell_magic("automl", "dst --trials 1 --seed 0 --pruner none --warm-start src "
                        "--maximize val_accuracy", cell(2))
    warm = [t for t in study_of(tmp_path / "runs", "dst").trials if "warm_start" in t.user_attrs]
    # the final generations only: an earlier generation's value is a half-trained model's
    assert sorted(t.user_attrs["warm_trial"] for t in warm) == sorted(finals)
    assert all(t.values == finals[t.user_attrs["warm_trial"]].values for t in warm)


AUGMENTED = '''
rotation = hp.float("rotation", 0.0, 0.3, mutable=True)
model = keras.Sequential([keras.Input((4, 2, 1)), keras.layers.RandomRotation(rotation),
                          keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-1, log=True, mutable=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
class Seen(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if not self.seen:
            self.seen = True
            seen_rates.append((trial.number, rotation, self.model.layers[0].factor))
    seen = False
model.fit(x.reshape(-1, 4, 2, 1), y, validation_data=(x_val.reshape(-1, 4, 2, 1), y_val),
          epochs=2, batch_size=32, callbacks=[Seen()])
'''


def test_an_augmentation_magnitude_is_searched_with_the_weights(data: Any, tmp_path: Path) -> None:
    data.run_cell_magic("automl", "aug --scheduler pbt --population 4 --interval 1 --seed 4 "
                        "--maximize val_accuracy", AUGMENTED)
    trials = by_number(study_of(tmp_path / "runs", "aug"))
    seen = {number: (asked, factor) for number, asked, factor in data.user_ns["seen_rates"]}
    # the layer of each generation's model has that generation's magnitude...
    assert len(seen) == 8
    assert all(abs(factor[1]) == pytest.approx(asked) for asked, factor in seen.values())
    (child,) = [t for t in trials.values() if COPIED in t.user_attrs]
    donor = trials[child.user_attrs[COPIED]]
    # ...and an exploit changed it, while the weights came from the donor's checkpoint
    assert child.params["rotation"] != donor.params["rotation"]
    assert child.user_attrs["resumed_at_epoch"] == 1


def test_a_seeded_run_repeats_itself(data: Any, tmp_path: Path) -> None:
    for name in ("first", "second"):
        data.run_cell_magic("automl", f"{name} --scheduler pbt --population 4 --interval 1 "
                            "--seed 7 --maximize val_accuracy", cell(2))
    first, second = (study_of(tmp_path / "runs", n).trials for n in ("first", "second"))
    assert [t.params for t in first] == [t.params for t in second]
    assert [t.user_attrs.get(COPIED) for t in first] == [t.user_attrs.get(COPIED) for t in second]
    assert [t.intermediate_values for t in first] == [t.intermediate_values for t in second]
