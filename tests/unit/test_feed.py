"""``--checkpoint-every``'s data positioning: array batches follow a permutation any process
can make again, the rest of an epoch is exactly its batches after the saved one, and a
tf.data pipeline is positioned only when its order is fixed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jupyter_automl.engine import parse_options

tf = pytest.importorskip("tensorflow")
from jupyter_automl.training import _feed as feeds  # noqa: E402


def arguments(**changes: Any) -> dict[str, Any]:
    x = np.arange(50, dtype="float64")[:, None]
    return {"x": x, "y": np.arange(50), "sample_weight": None, "batch_size": 8, "shuffle": True,
            "validation_split": 0.0, "validation_data": None, "steps_per_epoch": None,
            **changes}


def labels(dataset: Any) -> list[int]:
    return [int(v) for _, y in dataset for v in y.numpy()]


def test_array_batches_follow_the_epochs_permutation_and_the_rest_skips_the_trained_ones() -> None:
    a = arguments()
    feed, why = feeds.position(a, seed=7)
    assert feed is not None and why == "" and feed.batches == 7
    assert a["y"] is None and a["shuffle"] is False and a["batch_size"] is None
    feed.epoch_begin(3)
    order = np.random.default_rng([7, 3]).permutation(50).tolist()
    assert labels(a["x"]) == order
    assert a["x"].element_spec[0].dtype == tf.float32  # as Keras casts float64 inputs
    # another process, same seed: the rest of epoch 3 from its batch 4 (index)
    again = arguments()
    other, _ = feeds.position(again, seed=7)
    assert labels(other.rest(again, 3, 4)["x"]) == order[32:]
    feed.epoch_begin(4)
    assert labels(a["x"]) != order and sorted(labels(a["x"])) == list(range(50))


def test_unshuffled_arrays_keep_their_order_and_the_split_is_keras_s() -> None:
    a = arguments(shuffle=False, validation_split=0.2)
    feed, _ = feeds.position(a, seed=0)
    feed.epoch_begin(2)
    assert labels(a["x"]) == list(range(40))
    val_x, val_y = a["validation_data"]
    assert val_y.tolist() == list(range(40, 50)) and a["validation_split"] == 0.0


@pytest.mark.parametrize(("make", "why"), [
    (lambda d: d.shuffle(10), "reshuffles every epoch"),
    (lambda d: d.shuffle(10, reshuffle_each_iteration=False), "shuffles without a seed"),
    (lambda d: d.shuffle(10, seed=3, reshuffle_each_iteration=False), ""),
    (lambda d: d.map(lambda v: v * 2), ""),
])
def test_a_dataset_is_positioned_only_when_its_order_is_fixed(make: Any, why: str) -> None:
    data = make(tf.data.Dataset.range(40)).batch(8)
    feed, reason = feeds.position({"x": data}, seed=0)
    assert (feed is None) == bool(why) and why in reason
    if feed is not None:
        rest = feed.rest({"x": data}, 2, 3)["x"]
        assert [b.numpy().tolist() for b in rest] == [b.numpy().tolist() for b in data][3:]


def test_a_repeated_dataset_with_steps_per_epoch_is_one_stream() -> None:
    data = tf.data.Dataset.range(1000).batch(2).repeat()
    a = {"x": data, "steps_per_epoch": 5}
    feed, _ = feeds.position(a, seed=0)
    rest = feed.rest(a, 2, 3)
    assert rest["steps_per_epoch"] == 2
    assert next(iter(rest["x"])).numpy().tolist() == [26, 27]  # batch 13 = 2 * 5 + 3
    assert next(iter(feed.after(a, 3)["x"])).numpy().tolist() == [30, 31]


def test_generators_cannot_be_positioned() -> None:
    feed, why = feeds.position({"x": (i for i in range(3))}, seed=0)
    assert feed is None and "generator" in why


def test_checkpoint_every_reads_a_duration() -> None:
    assert parse_options("s --checkpoint-every 10m").checkpoint_every == 600
    assert parse_options("s").checkpoint_every is None
    with pytest.raises(Exception, match="duration"):
        parse_options("s --checkpoint-every soon")
