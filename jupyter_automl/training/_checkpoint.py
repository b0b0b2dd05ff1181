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
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._utils.io import write_atomic
from ..runs import CHECKPOINT, read_state, write_state

PLAIN = "plain_state"  # a custom loop's plain state, JSON text in the checkpoint file


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


class CheckpointWriter:
    """Saves a trial's epochs; one write in flight, so training never waits on more than one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
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
            np.savez(buffer, epoch=np.int64(epoch), **arrays)
            write_atomic(self.folder / CHECKPOINT, buffer.getvalue())
            write_state(self.folder, state)
        except BaseException as exc:  # surfaced on the training thread by wait()
            self._error = exc


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
            )
    except Exception as exc:
        raise Unreadable(f"{path} is unreadable ({type(exc).__name__}: {exc})") from None
    history = read_state(folder).get("history", [])
    checkpoint.history = [h for h in history if h.get("epoch", 0) <= checkpoint.epoch]
    return checkpoint
