"""``fit``'s training data in an order a retried trial can find again (``--checkpoint-every``).

A checkpoint saved inside an epoch says which batch the epoch had reached. To continue there,
the retry must see the epoch's batches in the same order and skip the ones already trained:

* **arrays** (NumPy arrays or tensors, alone or in lists and dicts): the batches are drawn
  from a permutation of the samples made from the trial's order seed and the epoch number,
  the same in any process; Keras's own shuffle would draw a new one;
* **a ``tf.data.Dataset`` whose order is fixed** (no reshuffling or unseeded shuffle, no
  non-deterministic op): the batches already trained are skipped (read and dropped);
* anything else (a generator, a ``PyDataset``, a dataset that reshuffles each epoch) cannot
  be positioned: the epoch restarts from its first batch, with the saved weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DEFAULT_BATCH = 32  # Keras's batch size when fit is given none


class Feed:
    """Where ``fit``'s training data can be positioned: the arguments to train with, and
    those that train the rest of an epoch from one of its batches."""

    def epoch_begin(self, epoch: int) -> None:
        """Called as each epoch of the trial (counted from its first) begins."""

    def rest(self, arguments: dict[str, Any], epoch: int, batch: int) -> dict[str, Any]:
        """``arguments`` for a ``fit`` call that trains epoch ``epoch`` from ``batch`` on."""
        raise NotImplementedError

    def after(self, arguments: dict[str, Any], epoch: int) -> dict[str, Any]:
        """``arguments`` for the epochs from ``epoch`` on, once a rest call trained the one
        before it."""
        return arguments

    @property
    def batches(self) -> int | None:
        """Batches in an epoch, when known."""
        return None


def position(arguments: dict[str, Any], seed: int) -> tuple[Feed | None, str]:
    """A :class:`Feed` for ``fit``'s bound ``arguments`` (changed in place to train from it),
    or ``None`` and why the data cannot be positioned."""
    x = arguments.get("x")
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        why = _dataset_order_varies(x)
        if why:
            return None, f"its tf.data pipeline {why}"
        return _DatasetFeed(arguments), ""
    data = (x, arguments.get("y"), arguments.get("sample_weight"))
    leaves = [leaf for leaf in tf.nest.flatten(data) if leaf is not None]
    if not leaves or not all(_is_array(leaf) for leaf in leaves):
        kinds = sorted({type(leaf).__name__ for leaf in leaves if not _is_array(leaf)})
        return None, f"its training data ({', '.join(kinds) or 'none'}) is not arrays or tf.data"
    if arguments.get("steps_per_epoch"):
        return None, "steps_per_epoch is set for array data"
    if arguments.get("shuffle") == "batch":
        return None, "shuffle='batch' draws its own order"
    return _ArrayFeed(arguments, seed), ""


class _ArrayFeed(Feed):
    """Arrays, batched through a tf.data pipeline whose order is the epoch's permutation."""

    def __init__(self, arguments: dict[str, Any], seed: int) -> None:
        import keras
        import tensorflow as tf

        data = (arguments.get("x"), arguments.get("y"), arguments.get("sample_weight"))
        split = arguments.get("validation_split") or 0.0
        n = len(tf.nest.flatten(arguments["x"])[0])
        if split and arguments.get("validation_data") is None:  # as Keras splits: the last part
            at = int(math.floor(n * (1.0 - split)))
            arguments["validation_data"] = _trim(tf.nest.map_structure(
                lambda a: None if a is None else a[at:], data))
            data = tf.nest.map_structure(lambda a: None if a is None else a[:at], data)
            n = at
        floatx = keras.backend.floatx()
        self.tensors = tf.nest.map_structure(lambda a: None if a is None else _tensor(a, floatx),
                                             data)
        self.n = n
        self.batch_size = int(arguments.get("batch_size") or DEFAULT_BATCH)
        self.shuffle = bool(arguments.get("shuffle", True))
        self.seed = seed
        self.order = tf.Variable(np.arange(n, dtype=np.int64), trainable=False,
                                 name="automl_epoch_order")
        self._epoch = -1
        arguments.update(x=self._dataset(0), y=None, sample_weight=None, batch_size=None,
                         shuffle=False, validation_split=0.0)

    @property
    def batches(self) -> int:
        return -(-self.n // self.batch_size)

    def epoch_begin(self, epoch: int) -> None:
        if not self.shuffle or epoch == self._epoch:
            return
        self._epoch = epoch
        self.order.assign(np.random.default_rng([self.seed, epoch]).permutation(self.n))

    def rest(self, arguments: dict[str, Any], epoch: int, batch: int) -> dict[str, Any]:
        self.epoch_begin(epoch)
        return {**arguments, "x": self._dataset(batch)}

    def _dataset(self, first: int) -> Any:
        import tensorflow as tf

        tensors, order, size, n = self.tensors, self.order, self.batch_size, self.n

        def batch(i: Any) -> Any:
            indices = order[i * size:tf.minimum((i + 1) * size, n)]
            return _trim(tf.nest.map_structure(
                lambda t: None if t is None else tf.gather(t, indices), tensors))

        return tf.data.Dataset.range(first, self.batches).map(batch).prefetch(tf.data.AUTOTUNE)


class _DatasetFeed(Feed):
    """A tf.data pipeline that yields its batches in the same order every time."""

    def __init__(self, arguments: dict[str, Any]) -> None:
        self.dataset = arguments["x"]
        self.steps = arguments.get("steps_per_epoch")
        cardinality = int(self.dataset.cardinality())
        self._batches = cardinality if cardinality > 0 else None

    @property
    def batches(self) -> int | None:
        return self.steps or self._batches

    def rest(self, arguments: dict[str, Any], epoch: int, batch: int) -> dict[str, Any]:
        if not self.steps:  # each epoch is one pass over the dataset
            return {**arguments, "x": self.dataset.skip(batch)}
        # one stream over all epochs: epoch e begins at batch e * steps_per_epoch
        return {**arguments, "x": self.dataset.skip(epoch * self.steps + batch),
                "steps_per_epoch": self.steps - batch}

    def after(self, arguments: dict[str, Any], epoch: int) -> dict[str, Any]:
        if not self.steps:
            return arguments
        return {**arguments, "x": self.dataset.skip(epoch * self.steps)}


def _dataset_order_varies(dataset: Any) -> str:
    """Why ``dataset`` may yield its elements in another order next time; "" if it cannot."""
    import tensorflow as tf

    try:
        graph = tf.compat.v1.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    except Exception:  # noqa: BLE001 - a pipeline that cannot be serialized (py_function...)
        return "cannot be inspected (a generator or py_function in it)"
    nodes = {node.name: node for node in graph.node}
    for node in list(graph.node) + [n for f in graph.library.function for n in f.node_def]:
        if node.op.startswith("ShuffleAndRepeat") or (
                "Shuffle" in node.op and node.attr["reshuffle_each_iteration"].b):
            return "reshuffles every epoch"
        if "Shuffle" in node.op and all(_const(nodes.get(name.split(":")[0])) == 0
                                        for name in node.input[2:4]):
            return "shuffles without a seed"
        if node.attr["deterministic"].s == b"false" or node.op.startswith("RandomDataset"):
            return f"has a non-deterministic step ({node.op})"
        if node.op in ("PyFunc", "EagerPyFunc", "GeneratorDataset"):
            return "runs Python code (a generator or py_function) that cannot be positioned"
    return ""


def _const(node: Any) -> int | None:
    if node is None or node.op != "Const":
        return None
    values = node.attr["value"].tensor.int64_val
    return int(values[0]) if values else 0


def _is_array(value: Any) -> bool:
    import tensorflow as tf

    return isinstance(value, (np.ndarray, tf.Tensor)) and len(getattr(value, "shape", ())) > 0


def _tensor(array: Any, floatx: str) -> Any:
    import tensorflow as tf

    tensor = tf.convert_to_tensor(array)
    return tf.cast(tensor, floatx) if tensor.dtype.is_floating else tensor


def _trim(data: tuple[Any, Any, Any]) -> Any:
    """``(x, y, sample_weight)`` without its trailing Nones, as Keras's datasets yield."""
    x, y, weights = data
    if weights is not None:
        return x, y, weights
    return (x, y) if y is not None else (x,)

