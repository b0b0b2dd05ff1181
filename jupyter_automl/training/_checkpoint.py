"""Per-trial checkpoints: weights and optimizer state every epoch, written off the training thread.

A trial's folder (``trials/<number>/``) holds ``checkpoint.npz`` (model variables, optimizer
variables and the number of finished epochs, with the batch an epoch had reached when
``--checkpoint-every`` saved inside it and the seed of the epochs' sample order; or for a
custom loop the arrays of each object it handed to ``trial.checkpoint``, named
``object/index``, and its plain state) and ``state.json``
(the per-epoch logs). Both are replaced atomically, so a kill at any instant leaves the previous
epoch's checkpoint intact.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._utils.failpoints import hit as failpoint
from .._utils.io import json_text, write_atomic
from ..errors import TrialValueError
from ..runs import (
    CHECKPOINT,
    STORE_SLOTS,
    CheckpointStore,
    checkpoint_slot,
    read_state,
    write_state,
)

PLAIN = "plain_state"  # a custom loop's plain state, JSON text in the checkpoint file
HISTORY = "history"  # the epochs' logs up to the checkpoint's, JSON text in the same file


@dataclass
class Checkpoint:
    """What a trial had finished when it was last saved."""

    epoch: int
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]
    history: list[dict[str, float]] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # a custom loop's, by name/index
    plain: dict[str, Any] = field(default_factory=dict)  # a custom loop's plain state, by name
    batch: int = 0  # batches of epoch ``epoch + 1`` trained (a save inside an epoch), else 0
    order_seed: int | None = None  # the seed of the epochs' sample order (--checkpoint-every)
    execution: int = 0  # --executions-per-trial: the trial's execution it saved (0: the first)


class CheckpointWriter:
    """Saves a trial's epochs; one write in flight, so training never waits on more than one.
    With a ``store`` (``--checkpoint-store``), each checkpoint is also uploaded there, to its
    two slots in turn."""

    def __init__(self, folder: Path, store: CheckpointStore | None = None,
                 number: int | None = None) -> None:
        self.folder = folder
        self.store = store
        self.number = number
        self.slot = 0  # the store's slot the next upload goes to
        self._warned = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def save(self, epoch: int, weights: list[np.ndarray], optimizer: list[np.ndarray],
             state: dict[str, Any], batch: int = 0, order_seed: int | None = None) -> None:
        """Save ``fit``'s epoch (or ``batch`` batches into the epoch after it): the model's
        weights and its optimizer's variables."""
        arrays: dict[str, Any] = {"n_weights": np.int64(len(weights)),
                                  "n_optimizer": np.int64(len(optimizer)),
                                  "batch": np.int64(batch)}
        if order_seed is not None:
            arrays["order_seed"] = np.int64(order_seed)
        arrays.update({f"w{i}": w for i, w in enumerate(weights)})
        arrays.update({f"o{i}": o for i, o in enumerate(optimizer)})
        self.save_arrays(epoch, arrays, state)

    def save_arrays(self, epoch: int, arrays: dict[str, Any], state: dict[str, Any]) -> None:
        """Save ``arrays`` (copies the training thread no longer touches) and ``state`` as the
        checkpoint of ``epoch``, on a thread of its own; the previous save ends first."""
        self.wait()
        self._thread = threading.Thread(
            target=self._write, args=(epoch, arrays, state),
            name=f"automl-checkpoint-{self.folder.name}", daemon=True,
        )
        self._thread.start()

    def wait(self) -> None:
        """Block until the last save is on disk; re-raise its error, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self, epoch: int, arrays: dict[str, Any], state: dict[str, Any]) -> None:
        try:
            buffer = io.BytesIO()
            # the history goes in the file too: a kill before state.json is written would
            # otherwise resume at this epoch without its metrics
            logs: dict[str, Any] = {HISTORY: np.array(json_text(state.get("history", [])))}
            np.savez(buffer, epoch=np.int64(epoch),
                     execution=np.int64(state.get("execution") or 0), **logs, **arrays)
            write_atomic(self.folder / CHECKPOINT, buffer.getvalue(), failpoint="checkpoint")
            failpoint("checkpoint.state")
            write_state(self.folder, state)
            failpoint("checkpoint.saved")
            if self.store is not None:
                self._upload(buffer.getvalue())
        except BaseException as exc:  # surfaced on the training thread by wait()
            self._error = exc

    def _upload(self, data: bytes) -> None:
        """The checkpoint to the store's next slot. A store that cannot be reached costs
        what a retry elsewhere would resume from, never this trial: said once, then kept
        trying."""
        assert self.store is not None and self.number is not None
        try:
            self.store.put(checkpoint_slot(self.number, self.slot), data)
        except Exception as exc:  # noqa: BLE001 - any failure of the store, which is a copy
            if not self._warned:
                self._warned = True
                print(f"jupyter-automl: trial {self.number}'s checkpoint could not be kept in "
                      f"{self.store.url} ({type(exc).__name__}: {exc}); it is kept in "
                      f"{self.folder}, and later epochs try the store again", file=sys.stderr)
            return
        self.slot = 1 - self.slot
        failpoint("checkpoint.stored")


class Unreadable(Exception):
    """A checkpoint file that exists but cannot be read (truncated, corrupt)."""


def load(folder: Path) -> Checkpoint | None:
    """The checkpoint saved in ``folder``; ``None`` if there is none.

    Raises :class:`Unreadable` for a file that cannot be read: that costs the epochs it held,
    never the study, and the caller says so.
    """
    path = folder / CHECKPOINT
    if not path.exists():
        return None
    return _parse(path, folder, str(path))


def load_stored(store: CheckpointStore, number: int, folder: Path,
                than: Checkpoint | None = None) -> Checkpoint | None:
    """Trial ``number``'s newest checkpoint that the store holds and can be read (a slot an
    upload cut short is passed over), if it is newer than ``than`` (the one in ``folder``);
    copied into ``folder`` for the runs after this one. None otherwise. (Only trial
    ``number`` ever writes its slots: a retry is a trial of its own.)"""
    found: list[tuple[int, int, int, bytes, Checkpoint]] = []
    for slot in range(STORE_SLOTS):
        data = store.get(checkpoint_slot(number, slot))
        if data is None:
            continue
        try:
            saved = _parse(io.BytesIO(data), folder, store.key(checkpoint_slot(number, slot)))
        except Unreadable:
            continue
        found.append((saved.epoch, saved.batch, slot, data, saved))
    if not found:
        return None
    epoch, batch, _, data, saved = max(found, key=lambda f: (f[0], f[1]))
    if than is not None and (epoch, batch) <= (than.epoch, than.batch):
        return None
    write_atomic(folder / CHECKPOINT, data)
    return saved


def _parse(path: Path | io.BytesIO, folder: Path, label: str) -> Checkpoint:
    try:
        with np.load(path) as data:
            n_w = int(data["n_weights"]) if "n_weights" in data.files else 0
            n_o = int(data["n_optimizer"]) if "n_optimizer" in data.files else 0
            checkpoint = Checkpoint(
                epoch=int(data["epoch"]),
                weights=[data[f"w{i}"] for i in range(n_w)],
                optimizer=[data[f"o{i}"] for i in range(n_o)],
                arrays={k: data[k] for k in data.files if "/" in k},
                # in the same file as the arrays, so the two always belong to one step
                plain=json.loads(str(data[PLAIN])) if PLAIN in data.files else {},
                batch=int(data["batch"]) if "batch" in data.files else 0,
                order_seed=int(data["order_seed"]) if "order_seed" in data.files else None,
                execution=int(data["execution"]) if "execution" in data.files else 0,
            )
            history = json.loads(str(data[HISTORY])) if HISTORY in data.files else None
    except Exception as exc:
        raise Unreadable(f"{label} is unreadable ({type(exc).__name__}: {exc})") from None
    # older checkpoints have no history of their own: state.json's, written after the file
    history = history or read_state(folder).get("history", [])
    checkpoint.history = [h for h in history if h.get("epoch", 0) <= checkpoint.epoch]
    return checkpoint


# -- what a custom loop hands to trial.checkpoint ----------------------------------------------
def kind_of(name: str, obj: Any) -> str:
    """What ``trial.checkpoint`` keeps of ``obj``: a Keras model's weights, an optimizer's
    variables, a ``tf.train.Checkpoint``'s files, or a dict of plain values (numbers, strings,
    lists, dicts)."""
    if hasattr(obj, "get_weights") and hasattr(obj, "set_weights"):
        return "model"
    if hasattr(obj, "variables") and hasattr(obj, "apply_gradients"):
        return "optimizer"
    if any(c.__name__ == "Checkpoint" and c.__module__.startswith("tensorflow")
           for c in type(obj).__mro__):
        return "tf"
    if isinstance(obj, dict):
        return "plain"
    raise TrialValueError(
        f"trial.checkpoint({name}=...) got a {type(obj).__name__}: it keeps Keras models, Keras "
        "optimizers, tf.train.Checkpoint objects and dicts of plain values (numbers, strings, "
        "lists, dicts); put other state in a dict or a tf.train.Checkpoint")


def arrays_of(objects: dict[str, Any], model: Any = None,
            weights: list[Any] | None = None) -> tuple[dict[str, Any], str]:
    """Copies of the tracked objects' arrays, named ``object/index``, and their plain state as
    JSON text; read on the training thread, so the writer's thread never touches a variable.
    ``weights`` are ``model``'s, already read for this step: not copied a second time."""
    arrays: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for name, obj in objects.items():
        kind = kind_of(name, obj)
        if kind == "model":
            values = weights if obj is model and weights is not None else obj.get_weights()
            arrays.update({f"{name}/{i}": w for i, w in enumerate(values)})
        elif kind == "optimizer":
            arrays.update({f"{name}/{i}": np.array(v.numpy())
                           for i, v in enumerate(obj.variables)})
        elif kind == "tf":
            arrays.update({f"{name}/{TF}{suffix}": blob
                           for suffix, blob in _tf_checkpoint_files(obj).items()})
        else:
            plain[name] = obj
    try:
        text = json.dumps(plain, allow_nan=True) if plain else ""
    except (TypeError, ValueError) as exc:
        raise TrialValueError(
            f"trial.checkpoint: the state {sorted(plain)} cannot be saved ({exc}); keep numbers, "
            "strings, lists and dicts in it (convert arrays with .tolist(), tensors with "
            "float(...))") from None
    return arrays, text


def restore_tracked(objects: dict[str, Any], saved: Checkpoint) -> None:
    """Put a checkpoint's arrays and plain state back into the tracked objects."""
    models = [o for o in objects.values() if kind_of("", o) == "model"]
    for name, obj in objects.items():
        kind = kind_of(name, obj)
        if kind == "plain":
            if name not in saved.plain:
                raise KeyError(f"the checkpoint holds no state {name!r}")
            obj.clear()
            obj.update(saved.plain[name])
            continue
        if kind == "tf":
            _read_tf_checkpoint(obj, {k[len(name) + 1 + len(TF):]: v for k, v in
                                      saved.arrays.items() if k.startswith(f"{name}/{TF}")})
            continue
        values = _numbered(saved.arrays, name)
        if kind == "model":
            obj.set_weights(values)
            continue
        if not getattr(obj, "built", True) and models:  # Keras builds optimizers lazily
            obj.build(models[0].trainable_variables)
        if len(obj.variables) != len(values):
            raise ValueError(f"optimizer {name!r} has {len(obj.variables)} variables, its "
                             f"checkpoint {len(values)}")
        for variable, value in zip(obj.variables, values):
            variable.assign(value)


TF = "tf"  # a tf.train.Checkpoint's files are kept as NAME/tf.index, NAME/tf.data-00000-of-...


def _tf_checkpoint_files(saved: Any) -> dict[str, np.ndarray]:
    """A ``tf.train.Checkpoint`` written to memory: its files' bytes, by suffix. The variables
    are read here, on the training thread; the bytes go to disk on the writer's."""
    import tensorflow as tf

    prefix = f"ram://jupyter-automl/{os.getpid()}/{id(saved)}/ckpt"
    saved.write(prefix)
    files = {}
    for path in tf.io.gfile.glob(prefix + "*"):
        with tf.io.gfile.GFile(path, "rb") as f:
            files[path[len(prefix):]] = np.frombuffer(f.read(), dtype=np.uint8)
        tf.io.gfile.remove(path)
    return files


def _read_tf_checkpoint(saved: Any, files: dict[str, np.ndarray]) -> None:
    """Restore ``saved`` (a ``tf.train.Checkpoint``) from its files; a variable created later
    (an optimizer's slots) takes its value when it is created, as ``tf.train.Checkpoint.read``
    does."""
    import tensorflow as tf

    if not files:
        raise KeyError("the checkpoint holds no tf.train.Checkpoint files")
    # read lazily (for variables created later), so the files stay in memory until the next
    # restore in this process replaces them
    prefix = f"ram://jupyter-automl/{os.getpid()}/restore/ckpt"
    for path in tf.io.gfile.glob(prefix + "*"):
        tf.io.gfile.remove(path)
    for suffix, blob in files.items():
        with tf.io.gfile.GFile(prefix + suffix, "wb") as f:
            f.write(blob.tobytes())
    saved.read(prefix).expect_partial()


def _numbered(arrays: dict[str, np.ndarray], name: str) -> list[np.ndarray]:
    found = {int(k.rsplit("/", 1)[1]): v for k, v in arrays.items()
             if k.rsplit("/", 1)[0] == name}
    if not found:
        raise KeyError(f"the checkpoint holds nothing named {name!r}")
    return [found[i] for i in range(len(found))]
