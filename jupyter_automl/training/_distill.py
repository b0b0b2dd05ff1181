"""Knowledge distillation inside ``fit`` (``--distill-from TEACHER``): the trial's model, the
student, learns from the teacher study's best model as well as from the labels.

Before the student's ``fit`` runs, the teacher predicts the training (and validation) inputs;
each label is packed with the teacher's class probabilities into one target array, and the
student is compiled again, with its own optimizer, with the distillation loss (Hinton et al.,
2015) and with its own metrics read on the labels alone, under their own names (so
``val_accuracy`` is still the student's accuracy)::

    loss = (1 - w) * crossentropy(labels, student)
           + w * T**2 * KL(softmax(log teacher / T) || softmax(log student / T))

``T`` is the temperature and ``w`` the weight of the soft targets. A student whose loss takes
logits (``from_logits=True``) is read as logits, any other as probabilities.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import TrialValueError

EPSILON = 1e-7


@dataclass(frozen=True)
class Distillation:
    teacher: str  # the teacher's .keras file
    temperature: float
    soft_weight: float


@functools.lru_cache(maxsize=2)
def _teacher(path: str) -> Any:
    from .._utils.process import import_keras

    return import_keras().saving.load_model(path, compile=False)


def teacher_probabilities(path: str, x: Any) -> np.ndarray:
    """The teacher's class probabilities for ``x`` (a softmax applied if it returns logits)."""
    out = np.asarray(_teacher(path).predict(x, verbose=0, batch_size=256), dtype="float32")
    if out.ndim != 2 or out.shape[1] < 2:
        raise TrialValueError(f"--distill-from: the teacher returns outputs of shape "
                              f"{out.shape[1:]}; distillation needs class scores (a softmax "
                              "over two classes or more)")
    if np.any(out < 0) or not np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return out


def apply(arguments: dict[str, Any], model: Any, distill: Distillation) -> Callable[[], None]:
    """Rewrite ``fit``'s bound ``arguments`` in place (targets packed with the teacher's
    probabilities, validation data too) and compile ``model`` for distillation. Returns what
    puts the cell's own compile settings back once ``fit`` has ended (the saved model must
    load without this module, with the loss and metrics it was given)."""
    x, y = arguments.get("x"), arguments.get("y")
    if not isinstance(x, np.ndarray) or y is None or not isinstance(np.asarray(y), np.ndarray):
        raise TrialValueError("--distill-from needs fit(x, y) with NumPy arrays (the teacher "
                              "predicts x once, before training); this fit got "
                              f"{type(x).__name__} inputs")
    labels = np.asarray(y)
    hard = _hard_columns(labels)
    arguments["y"] = _pack(labels, teacher_probabilities(distill.teacher, x))
    validation = arguments.get("validation_data")
    if isinstance(validation, (tuple, list)) and len(validation) >= 2:
        vx, vy = validation[0], np.asarray(validation[1])
        arguments["validation_data"] = (vx, _pack(vy, teacher_probabilities(distill.teacher,
                                                                            vx)))
    config = model.get_compile_config() or {}
    from_logits = bool((config.get("loss") or {}).get("config", {}).get("from_logits")) \
        if isinstance(config.get("loss"), dict) else False
    optimizer = model.optimizer
    model.compile(optimizer=optimizer,
                  loss=_loss(distill.temperature, distill.soft_weight, hard, from_logits),
                  metrics=[_on_labels(m, hard) for m in _metrics(config)])

    def restore() -> None:
        model.compile_from_config(config)
        model.optimizer = optimizer  # its state, trained: kept with the model

    return restore


def _hard_columns(labels: np.ndarray) -> int:
    """1 for class indices, C for one-hot labels."""
    if labels.ndim == 1 or (labels.ndim == 2 and labels.shape[1] == 1):
        return 1
    if labels.ndim == 2:
        return int(labels.shape[1])
    raise TrialValueError(f"--distill-from: labels of shape {labels.shape[1:]}; give class "
                          "indices or one-hot rows")


def _pack(labels: np.ndarray, soft: np.ndarray) -> np.ndarray:
    hard = labels.reshape(len(labels), -1).astype("float32")
    if len(hard) != len(soft):
        raise TrialValueError(f"--distill-from: {len(hard)} labels for {len(soft)} inputs")
    return np.concatenate([hard, soft], axis=1)


def _loss(temperature: float, weight: float, hard: int, from_logits: bool) -> Any:
    import keras
    from keras import ops

    def distillation_loss(y_true: Any, y_pred: Any) -> Any:
        labels, teacher = y_true[:, :hard], y_true[:, hard:]
        if hard == 1:
            hard_loss = keras.losses.sparse_categorical_crossentropy(
                ops.cast(labels[:, 0], "int32"), y_pred, from_logits=from_logits)
        else:
            hard_loss = keras.losses.categorical_crossentropy(labels, y_pred,
                                                              from_logits=from_logits)
        student_log = y_pred if from_logits else ops.log(ops.clip(y_pred, EPSILON, 1.0))
        teacher_soft = ops.softmax(ops.log(ops.clip(teacher, EPSILON, 1.0)) / temperature)
        student_soft = ops.log_softmax(student_log / temperature)
        kl = ops.sum(teacher_soft * (ops.log(ops.clip(teacher_soft, EPSILON, 1.0))
                                     - student_soft), axis=-1)
        return (1.0 - weight) * hard_loss + weight * temperature ** 2 * kl

    return distillation_loss


def _metrics(config: dict[str, Any]) -> list[Any]:
    metrics = config.get("metrics") or []
    return list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]


def _on_labels(metric: Any, hard: int) -> Any:
    """``metric`` read on the labels of the packed targets, under its own name."""
    import keras

    if isinstance(metric, str) and metric in ("accuracy", "acc"):
        inner = (keras.metrics.SparseCategoricalAccuracy(name=metric) if hard == 1
                 else keras.metrics.CategoricalAccuracy(name=metric))
    elif isinstance(metric, dict):
        inner = keras.metrics.deserialize(metric)
    else:
        inner = keras.metrics.get(metric)
        if not isinstance(inner, keras.metrics.Metric):
            inner = keras.metrics.MeanMetricWrapper(inner, name=str(metric))

    class OnLabels(keras.metrics.Metric):
        def __init__(self) -> None:
            super().__init__(name=inner.name)
            self.inner = inner

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            labels = y_true[:, 0] if hard == 1 else y_true[:, :hard]
            self.inner.update_state(labels, y_pred, sample_weight)

        def result(self) -> Any:
            return self.inner.result()

        def reset_state(self) -> None:
            self.inner.reset_state()

    return OnLabels()
