"""Differentiable architecture search (DARTS; Liu, Simonyan and Yang, 2019), first order, inside
the cell's own ``fit``.

In a ``--darts`` study each ``hp.choice`` whose options are Keras layers (or functions that
return one) becomes a mixed operation: the softmax of its architecture weights (``alpha``)
times each option's output, summed. The model's weights train on the training split as the cell
asks; after every training batch the architecture weights take one Adam step on a batch of the
validation split, at a learning rate set by the search's length (``default_lr``). At the end
each choice's strongest option is the trial's architecture.

The architecture weights are weights of the model (not trainable by ``fit``'s optimizer), so a
trial's checkpoints hold them and a retried search resumes with them. Their softmax is added to
each epoch's logs (``darts:<choice>:<option>``), which is how the panel draws them.

DARTS is known to collapse onto parameter-free options (a skip connection wins because it
trains fastest, not because it is best). The remedy here, on request (``beta > 0``), is the
beta-decay regularization of beta-DARTS (Ye et al., CVPR 2022): the architecture loss adds
``lambda * mean over choices of logsumexp(alpha)``, which keeps the weights from running away,
with ``lambda`` growing linearly over the epochs to ``beta``. ``beta=0`` (the default) is plain
DARTS: on the one space measured (benchmarks/darts.py) the parameter-free option chosen was a
good one (pooling, never a skip), and the remedy, which removed half of them, cost 3 points.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SpaceError

if TYPE_CHECKING:
    import numpy as np

SUPERNET = "darts_supernet"  # user attr: the trial trained mixed operations (never the best)
WEIGHTS = "darts_weights"  # user attr: {choice: {option: weight}} when the search ended
DERIVED_FROM = "darts_from"  # user attr of a retrain: the search trial it trains the result of
LEARNING_RATE = "darts_lr"  # user attr: the architecture weights' learning rate it used
LOG = "darts"  # epoch logs: darts:<choice>:<option> = the option's weight at the epoch's end

DEFAULT_BETA = 0.0  # plain DARTS: on benchmarks/darts.py's space the remedy cost 3 points
# The default learning rate of the architecture weights is set by the search's length: an Adam
# step moves a weight by at most about its learning rate, so ``MOVE / steps`` lets each weight
# move by up to MOVE over the whole search, however many batches it has. The original DARTS
# (3e-4 over 50 epochs of CIFAR-10's half at batch 64) allows about 6; on benchmarks/darts.py
# (264 steps) 8 gave 0.03, which found architectures 2.4 points better than a fixed 3e-3.
MOVE = 8.0
LR_BOUNDS = (3e-4, 0.1)
UNKNOWN_STEPS_LR = 0.03  # a fit whose number of batches Keras does not know


def default_lr(steps: int | None) -> float:
    """The architecture weights' learning rate for a search of ``steps`` training batches."""
    if not steps:
        return UNKNOWN_STEPS_LR
    low, high = LR_BOUNDS
    return min(high, max(low, MOVE / steps))


@dataclass(frozen=True)
class DartsSettings:
    lr: float | None = None  # the architecture weights' Adam learning rate (None: default_lr)
    beta: float = DEFAULT_BETA  # beta-decay's weight at the last epoch (0: plain DARTS)


def retrains_owed(trials: Sequence[Any]) -> tuple[int, int]:
    """What a --darts study still owes its searches, from its trials (frozen): the retrains
    queued and not started, and the searches running whose retrain is not queued yet.

    A search's retrain runs even past the study's total (a search is scored by its retrain),
    and a runner starts a new search only while the total leaves room for the retrains owed."""
    retrained = {t.user_attrs[DERIVED_FROM] for t in trials if DERIVED_FROM in t.user_attrs}
    queued = searching = 0
    for t in trials:
        if DERIVED_FROM in t.user_attrs:
            queued += t.state.name == "WAITING"
        elif t.state.name == "RUNNING" and not (
                {t.number, t.user_attrs.get("retry_of", t.number)} & retrained):
            searching += 1
    return queued, searching


def log_key(choice: str, option: Any) -> str:
    return f"{LOG}:{choice}:{option}"


def weights_by_epoch(history: list[dict[str, float]]) -> dict[str, dict[str, list[float]]]:
    """The architecture weights in a trial's epoch logs: ``{choice: {option: [by epoch]}}``."""
    found: dict[str, dict[str, list[float]]] = {}
    for logs in history:
        for key, value in logs.items():
            if key.startswith(LOG + ":"):
                _, choice, option = key.split(":", 2)
                found.setdefault(choice, {}).setdefault(option, []).append(float(value))
    return found


class Darts:
    """One search trial's mixed operations, and the architecture step its ``fit`` takes."""

    def __init__(self, settings: DartsSettings) -> None:
        self.settings = settings
        self.labels: dict[str, list[Any]] = {}  # choice -> its options' labels
        self.owners: dict[str, Any] = {}  # choice -> the mixed operation holding its alpha
        self.optimizer: Any = None
        self.lr: float | None = settings.lr  # set when the search's length is known
        self._step: Any = None

    # -- the cell's hp.choice --------------------------------------------------------------------
    def mix(self, where: str, name: str, labels: list[Any], options: list[Any]) -> Any:
        """What ``hp.choice`` returns in a search: a mixed operation of layer options, or a
        function making one from layer factories (called as the cell calls the chosen one)."""
        keras = _keras()
        layers = [isinstance(o, keras.layers.Layer) for o in options]
        if all(layers):
            return self._mixed(where, name, labels, list(options))
        if not any(layers) and all(callable(o) for o in options):
            def make(*args: Any, **kwargs: Any) -> Any:
                built = [o(*args, **kwargs) for o in options]
                wrong = [label for label, b in zip(labels, built)
                         if not isinstance(b, keras.layers.Layer)]
                if wrong:
                    raise SpaceError(_not_layers(where, wrong, "do not return"))
                return self._mixed(where, name, labels, built)

            return make
        wrong = [label for label, is_layer in zip(labels, layers) if not is_layer]
        raise SpaceError(_not_layers(where, wrong, "are not"))

    def _mixed(self, where: str, name: str, labels: list[Any], options: list[Any]) -> Any:
        self.labels[name] = labels
        op = _mixed_class()(options, where, owner=self.owners.get(name), name=f"darts_{name}")
        self.owners.setdefault(name, op)
        return op

    # -- the architecture step -------------------------------------------------------------------
    def callback(self, arguments: dict[str, Any]) -> Any:
        """The Keras callback that steps the architecture weights after each training batch,
        on a batch of the validation split of ``fit``'s ``arguments``."""
        if not self.owners:
            return None
        batches = _validation_batches(arguments)
        epochs = int(arguments.get("epochs") or 1)
        return _step_class()(self, batches, epochs)

    def step(self, model: Any, x: Any, y: Any, weight: float) -> None:
        import tensorflow as tf

        alphas = [op.alpha for op in self.owners.values()]
        if self.optimizer is None:
            keras = _keras()
            lr = self.lr if self.lr is not None else UNKNOWN_STEPS_LR
            self.optimizer = keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.999)
            self.optimizer.build(alphas)

            def step(x: Any, y: Any, weight: Any) -> Any:
                with tf.GradientTape() as tape:
                    for alpha in alphas:
                        tape.watch(alpha.value)
                    loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
                    decay = tf.add_n([tf.reduce_logsumexp(a.value) for a in alphas])
                    total = loss + weight * decay / len(alphas)
                grads = tape.gradient(total, [a.value for a in alphas])
                self.optimizer.apply(grads, alphas)
                return loss

            self._step = tf.function(step, reduce_retracing=True)
        self._step(x, y, tf.constant(weight, tf.float32))

    # -- the result ------------------------------------------------------------------------------
    def weights(self) -> dict[str, dict[str, float]]:
        """Each choice's softmax weights, by option label."""
        import numpy as np

        found = {}
        for name, op in self.owners.items():
            soft = _softmax(np.asarray(op.alpha.numpy(), dtype=np.float64))
            found[name] = {str(label): float(w) for label, w in zip(self.labels[name], soft)}
        return found

    def logs(self) -> dict[str, float]:
        return {log_key(name, label): w for name, ws in self.weights().items()
                for label, w in ws.items()}

    def derived(self) -> dict[str, Any]:
        """Each choice's strongest option (its label): the architecture the search found."""
        import numpy as np

        return {name: self.labels[name][int(np.argmax(op.alpha.numpy()))]
                for name, op in self.owners.items()}


def _not_layers(where: str, labels: list[Any], verb: str) -> str:
    shown = ", ".join(repr(label) for label in labels)
    return (f"--darts: {where} has options that {verb} Keras layers ({shown}). DARTS "
            "mixes the options of a choice by their outputs, so in a --darts study every "
            "hp.choice is a choice of layers (hp.choice('op', [layers.Dense(64), "
            "layers.Identity()])) or of functions that return one (called as the cell calls the "
            "chosen option). Make this choice one of layers, or make it hp.fixed, or drop "
            "--darts to sample it")


def _softmax(alpha: np.ndarray) -> np.ndarray:
    import numpy as np

    e = np.exp(alpha - alpha.max())
    return e / e.sum()


def _keras() -> Any:
    import keras

    return keras


def _validation_batches(arguments: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """Endless batches of ``fit``'s validation data (``validation_data`` or the last
    ``validation_split`` of ``x``/``y``, split as Keras splits it), reshuffled each pass."""
    keras = _keras()
    data = arguments.get("validation_data")
    split = arguments.get("validation_split") or 0.0
    size = int(arguments.get("batch_size") or 32)
    if data is None and split:
        x, y = arguments.get("x"), arguments.get("y")
        if y is None or not _sliceable(x):
            raise SpaceError(_no_validation("validation_split needs x and y as arrays"))
        n = len(keras.tree.flatten(x)[0])
        at = int(math.floor(n * (1.0 - split)))
        data = (keras.tree.map_structure(lambda a: a[at:], x),
                keras.tree.map_structure(lambda a: a[at:], y))
    if data is None:
        raise SpaceError(_no_validation("the cell's fit has none"))
    if isinstance(data, (tuple, list)) and len(data) >= 2 and _sliceable(data[0]):
        return _array_batches(data[0], data[1], size)
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        return (_xy(element) for element in data.repeat())
    raise SpaceError(_no_validation(f"its validation_data is a {type(data).__name__}; give "
                                    "(x, y) arrays or a tf.data.Dataset"))


def _array_batches(x: Any, y: Any, size: int) -> Iterator[tuple[Any, Any]]:
    import numpy as np

    keras = _keras()
    n = len(keras.tree.flatten(x)[0])
    rng = np.random.default_rng(0)
    while True:
        order = rng.permutation(n)
        for start in range(0, n, size):
            take = np.sort(order[start:start + size])

            def batch(a: Any, take: Any = take) -> Any:
                return np.asarray(a)[take]

            yield keras.tree.map_structure(batch, x), keras.tree.map_structure(batch, y)


def _xy(element: Any) -> tuple[Any, Any]:
    if isinstance(element, (tuple, list)) and len(element) >= 2:
        return element[0], element[1]
    raise SpaceError(_no_validation("its validation dataset does not give (x, y) pairs"))


def _sliceable(value: Any) -> bool:
    keras = _keras()
    leaves = keras.tree.flatten(value) if value is not None else []
    return bool(leaves) and all(hasattr(leaf, "__len__") and hasattr(leaf, "__getitem__")
                                for leaf in leaves)


def _no_validation(why: str) -> str:
    return ("--darts trains the architecture weights on validation data, alternating with the "
            f"model's weights on the training data, but {why}. Pass validation_data=(x_val, "
            "y_val) or validation_split=0.2 to the cell's fit")


@functools.cache
def _mixed_class() -> type:
    import keras
    from keras import ops

    class MixedOp(keras.layers.Layer):
        """The softmax-weighted sum of its options' outputs (one ``hp.choice`` in a search).
        Several calls of one choice share the architecture weights of the first (``owner``)."""

        def __init__(self, options: list[Any], where: str, owner: Any = None,
                     **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.options = options
            self.where = where
            if owner is None:
                self.alpha = self.add_weight(shape=(len(options),), initializer="zeros",
                                             trainable=False, name="alpha")
                self._owner: Callable[[], Any] = lambda: self.alpha
            else:  # kept out of Keras's tracking: the owner's alpha is saved once
                self._owner = functools.partial(getattr, owner, "alpha")

        def call(self, inputs: Any) -> Any:
            outputs = [op(inputs) for op in self.options]
            shapes = {tuple(o.shape[1:]) for o in outputs}
            if len(shapes) > 1:
                raise SpaceError(f"--darts: the options of {self.where} give outputs of "
                                 f"different shapes ({', '.join(map(str, sorted(shapes)))}); a "
                                 "mixed operation sums them, so each option must give the "
                                 "shape of the others (pad, project or pool them to one)")
            weights = ops.softmax(ops.convert_to_tensor(self._owner()))
            return sum(weights[i] * ops.cast(o, self.compute_dtype)
                       for i, o in enumerate(outputs))

        def compute_output_shape(self, input_shape: Any) -> Any:
            return self.options[0].compute_output_shape(input_shape)

    return MixedOp


@functools.cache
def _step_class() -> type:
    import keras

    class ArchitectureStep(keras.callbacks.Callback):
        """After each training batch, one step of the architecture weights on a validation
        batch; beta-decay's weight grows from 0 to ``beta`` over the epochs."""

        def __init__(self, darts: Darts, batches: Iterator[tuple[Any, Any]],
                     epochs: int) -> None:
            super().__init__()
            self.darts, self.batches, self.epochs = darts, batches, max(1, epochs)
            self.weight = 0.0

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            if self.darts.settings.lr is None:
                steps = self.params.get("steps")
                self.darts.lr = default_lr(self.epochs * steps if steps else None)

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.weight = self.darts.settings.beta * epoch / max(1, self.epochs - 1)

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            x, y = next(self.batches)
            self.darts.step(self.model, x, y, self.weight)

    return ArchitectureStep
