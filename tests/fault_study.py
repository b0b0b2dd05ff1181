"""The small studies that fault tests hurt, and the invariants they check after a fault.

Two kinds of study, the smallest that show what a test is about:

- a Keras model trained by ``fit`` (:data:`SETUP`, :data:`BODY`), or by a custom loop
  (:data:`LOOP_BODY`), or under population-based training (:data:`PBT_BODY`), for the tests
  about resuming training: the weights, the optimizer and the epoch come back from the
  checkpoint;
- a plain custom loop over a few numbers checkpointed as a dict (:data:`PLAIN_SETUP`,
  :data:`PLAIN_BODY`), for the tests about the study around the training (runners sharing a
  study, their heartbeats and lock files, the files a study writes and the moment they are
  written): the same trial loop, checkpoints, reports, retries and invariants, without
  TensorFlow's import (5 s of a core) in each process the test starts.

No study sleeps: a test places its fault with a failpoint (:class:`Hold`), or waits on what it
can observe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from conftest import wait_for

NAME = "m"
TRIALS = 4
EPOCHS = 4

SETUP = '''\
import numpy as np
import keras
import tensorflow as tf
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int64")
'''

BODY = f'''\
model = keras.Sequential([keras.Input((8,)),
                          keras.layers.Dense(hp.int("units", 4, 16), activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-1, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs={EPOCHS}, batch_size=64)
'''

# The same study trained by a custom loop: trial.checkpoint and trial.report instead of fit.
LOOP_BODY = f'''\
model = keras.Sequential([keras.Input((8,)),
                          keras.layers.Dense(hp.int("units", 4, 16), activation="relu"),
                          keras.layers.Dense(2)])
optimizer = keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-1, log=True))
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
start = trial.checkpoint(model=model, optimizer=optimizer)
for step in range(start, {EPOCHS}):
    for i in range(0, 192, 64):
        with tf.GradientTape() as tape:
            loss = loss_fn(y[i:i + 64], model(x[i:i + 64], training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    accuracy = float(np.mean(np.argmax(model(x[192:]), -1) == y[192:]))
    trial.report({{"loss": float(loss), "val_accuracy": accuracy}}, step=step + 1)
'''

# The plain study: a least-squares fit of 8 numbers by gradient steps, in NumPy, its weights
# checkpointed as a dict of plain values; the same parameters, epochs and metrics as BODY.
PLAIN_SETUP = '''\
import numpy as np
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8))
y = x @ rng.normal(size=8)
'''

PLAIN_BODY = f'''\
scale = hp.int("units", 4, 16) / 16
lr = hp.float("lr", 1e-3, 1e-1, log=True)
state = {{"w": [0.0] * 8}}
start = trial.checkpoint(state=state)
for step in range(start, {EPOCHS}):
    w = np.array(state["w"])
    w -= lr * scale * 2 * x[:192].T @ (x[:192] @ w - y[:192]) / 192
    state["w"] = w.tolist()
    loss = float(np.mean((x[192:] @ w - y[192:]) ** 2))
    trial.report({{"loss": loss, "val_accuracy": 1 / (1 + loss)}}, step=step + 1)
'''

OPTIONS = f"{NAME} --trials {TRIALS} --pruner none --seed 0 --maximize val_accuracy"

# The same model with a choice of layers searched by DARTS: a search, then its retrain, twice.
DARTS_BODY = BODY.replace(
    'keras.layers.Dense(hp.int("units", 4, 16), activation="relu"),',
    'keras.layers.Dense(8, activation="relu"),\n'
    '                          hp.choice("block", [keras.layers.Dense(8, activation="relu"),\n'
    '                                              keras.layers.Dense(8, activation="tanh"),\n'
    '                                              keras.layers.Identity()]),')
assert DARTS_BODY != BODY

# The same model under population-based training: 4 members, 2 generations of 2 epochs.
PBT_BODY = BODY.replace('log=True)', 'log=True, mutable=True)')
PBT_OPTIONS = (f"{NAME} --scheduler pbt --population 4 --interval 2 --seed 0 "
               "--maximize val_accuracy")


def script(options: str = OPTIONS, setup: str = SETUP, body: str = BODY,
           display: str | None = None) -> str:
    """A Python program running the study outside Jupyter (``python -c``); its worker kernels
    (``--kernels``) replay ``setup``, as ``%%automl_setup`` gives them."""
    shown = "" if display is None else f", display={display!r}"
    return (f"import jupyter_automl\nns = {{}}\nexec({setup!r}, ns)\n"
            f"jupyter_automl.run_study({body!r}, {options!r}, namespace=ns, "
            f"setup_cells=[{setup!r}]{shown})\n")


def run(code: str, cwd: Path, failpoints: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in ``cwd``, with exactly the failpoints given armed (none of the
    caller's), to its end: its exit status (-9 when a failpoint killed it) and output."""
    from jupyter_automl._utils.failpoints import ENV

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop(ENV, None)
    if failpoints:
        env[ENV] = failpoints
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def notebook(path: Path, options: str = OPTIONS, setup: str = SETUP,
             body: str = BODY) -> Path:
    """The study as a notebook (``jupyter-automl run``, papermill): load, setup, the cell."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_automl"),
                nbformat.v4.new_code_cell(f"%%automl_setup\n{setup}"),
                nbformat.v4.new_code_cell(f"%%automl {options}\n{body}")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


class Hold:
    """The pause failpoint (docs/failpoints.md) from the test's side: ``env(point)`` makes each
    process that gets it hold at ``point`` (``epoch.saved@N``: after its (N+1)th epoch's
    checkpoint) and say so in the file ``path``; ``wait`` blocks until ``count`` processes
    are held there; ``release`` lets them go, and any later process pass the point."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def env(self, point: str) -> dict[str, str]:
        from jupyter_automl._utils.failpoints import ENV

        return {ENV: f"{point}=pause:{self.path}"}

    def pids(self) -> list[int]:
        try:
            return [int(line.split()[0]) for line in self.path.read_text().splitlines()]
        except OSError:
            return []

    def wait(self, count: int = 1, what: str = "the run") -> list[int]:
        wait_for(lambda: len(self.pids()) >= count, 300, f"{what} held at its failpoint")
        return self.pids()

    def release(self) -> None:
        self.path.with_name(self.path.name + ".released").touch()
        self.path.unlink(missing_ok=True)


class Study:
    """The study as the tests read it: from its storage, opened read-only (a reader must not
    create the database it waits for), and from its trials' checkpoint folders."""

    def __init__(self, runs: Path, url: str | None = None, trials_dir: Path | None = None,
                 name: str = NAME) -> None:
        self.name = name
        self.url = url or f"sqlite:///{runs / name / 'study.db'}"
        self.trials_dir = trials_dir or runs / name / "trials"

    def trials(self) -> list[Any]:
        import optuna

        from jupyter_automl.errors import StorageError
        from jupyter_automl.runs._storage import open_storage

        try:
            storage = open_storage(self.url, read_only=True)
            return list(optuna.load_study(study_name=self.name, storage=storage).trials)
        except (KeyError, StorageError):
            return []

    def heartbeat_age(self, number: int) -> float:
        """Seconds since trial ``number``'s runner last beat for it, by the database's clock
        (a study in a database server; 0 before its first beat)."""
        import optuna

        from jupyter_automl._optuna import heartbeat_ages
        from jupyter_automl.runs._storage import open_storage

        study = optuna.load_study(study_name=self.name,
                                  storage=open_storage(self.url, read_only=True))
        return heartbeat_ages(study, [number]).get(number) or 0.0

    def state(self, number: int) -> dict[str, Any]:
        """Trial ``number``'s state.json ({} before its first epoch)."""
        try:
            return dict(json.loads((self.trials_dir / str(number) / "state.json").read_text()))
        except (OSError, ValueError):
            return {}

    def saved(self, number: int) -> int:
        """Epochs trial ``number``'s state.json lists (written just after its checkpoint)."""
        return len(self.state(number).get("history", []))

    def checkpointed(self, number: int) -> int:
        """The epoch of trial ``number``'s checkpoint file (0 without one). A kill between the
        checkpoint's rename and its state.json leaves the file one epoch ahead of
        :meth:`saved`, and a retry rightly resumes from the file."""
        import numpy as np

        try:
            with np.load(self.trials_dir / str(number) / "checkpoint.npz") as data:
                return int(data["epoch"])
        except Exception:  # noqa: BLE001 - none, or truncated (BadZipFile): nothing to resume
            return 0

    def pid(self, number: int) -> int:
        """The process that trains trial ``number`` (a worker kernel, with --kernels)."""
        return int(self.state(number)["pid"])

    def held_trial(self, pid: int) -> int:
        """The trial that the process ``pid`` (a runner, a kernel, a worker kernel), held at
        ``epoch.saved``, is training, once the held epoch's checkpoint is on disk (the writer
        thread may still be writing it): the RUNNING trial whose state.json names ``pid`` and
        lists every epoch reported."""
        found: list[int] = []

        def reported_on_disk(trial: Any) -> bool:  # (a PBT generation's history starts with
            # the epochs of the checkpoint it continued, which it did not report itself)
            state = self.state(trial.number)
            history = state.get("history") or [{}]
            return state.get("pid") == pid and bool(trial.intermediate_values) and \
                history[-1].get("epoch") == max(trial.intermediate_values)

        def on_disk() -> bool:
            found[:] = [t.number for t in self.trials() if t.state.name == "RUNNING"
                        and reported_on_disk(t)]
            return bool(found)

        wait_for(on_disk, 60, f"the checkpoint of the trial held in process {pid}")
        return found[0]

    def finished(self) -> dict[int, Any]:
        return {t.number: t.values for t in self.trials()
                if t.state.name in ("COMPLETE", "PRUNED")}

    def lost(self) -> list[int]:
        """The trials a fault cut short: failed, and queued again."""
        return sorted(t.number for t in self.trials() if "failed_because" in t.user_attrs)

    def truncate_checkpoint(self, number: int) -> None:
        path = self.trials_dir / str(number) / "checkpoint.npz"
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])

    def snapshot(self) -> dict[int, int]:
        """The epochs saved by each trial running now (taken at a fault: a trial that had
        saved one must resume from it, one that had not starts over)."""
        return {t.number: self.saved(t.number) for t in self.trials()
                if t.state.name == "RUNNING"}

    def check(self, kept: dict[int, Any], lost: list[int], resumed: bool = True,
              total: int = TRIALS, saved: dict[int, int] | None = None) -> None:
        """The invariants of every fault test: every finished trial kept as it was, the lost
        trials retried with their parameters (from their checkpoints, unless ``resumed`` is
        False or ``saved``, the :meth:`snapshot` at the fault, says a trial had none) and
        finished, no trial number reused, none RUNNING or WAITING, the total reached."""
        study = self.trials()
        states = {t.number: t.state.name for t in study}
        for number, values in kept.items():
            assert states[number] in ("COMPLETE", "PRUNED") and study[number].values == values
        assert [t.number for t in study] == list(range(len(study)))
        assert not [n for n, s in states.items() if s in ("RUNNING", "WAITING")], states
        assert sum(s in ("COMPLETE", "PRUNED") for s in states.values()) >= total, states
        for number in lost:
            assert states[number] == "FAIL", states
            retries = [t for t in study if t.user_attrs.get("retry_of") == number]
            assert len(retries) == 1, states
            retry = retries[0]
            # the parameters the lost trial had drawn (a kernel killed while the cell was
            # still drawing them leaves the rest to the retry)
            assert retry.params.items() >= study[number].params.items(), (retry.params,
                                                                         study[number].params)
            if (saved is None or saved.get(number, 0) >= 1) and \
                    not retry.user_attrs.get("darts_supernet"):  # (a search's end adds its
                # architecture to its parameters)
                assert retry.params == study[number].params
            assert retry.state.name in ("COMPLETE", "PRUNED"), (retry.number, retry.user_attrs)
            before = study[number].user_attrs.get("pbt_copied",
                                                  study[number].user_attrs.get("pbt_continued"))
            if resumed and (saved is None or saved.get(number, 0) >= 1):
                assert retry.user_attrs.get("resumed_at_epoch", 0) >= 1, retry.user_attrs
            elif before is not None:  # a PBT trial lost before its own first checkpoint (or
                # with it truncated) starts again from the one its generation started from
                assert retry.user_attrs.get("resume_from") in (before, number), retry.user_attrs
                if before != number and retry.user_attrs.get("resume_from") == number:
                    assert retry.user_attrs.get("resumed_at_epoch", 0) >= 1, retry.user_attrs
            else:
                assert "resumed_at_epoch" not in retry.user_attrs, retry.user_attrs
            for key in ("pbt_member", "pbt_generation", "pbt_continued", "pbt_copied"):
                assert retry.user_attrs.get(key) == study[number].user_attrs.get(key)

    def check_population(self, population: int, generations: int) -> None:
        """A PBT study after its faults: every member finished every generation once."""
        done = sorted((t.user_attrs["pbt_generation"], t.user_attrs["pbt_member"])
                      for t in self.trials() if t.state.name == "COMPLETE")
        assert done == [(g, m) for g in range(generations) for m in range(population)], done


def fill(disk: Path) -> Path:
    """Write a file in ``disk`` until it has no space left; return it (remove it to free them)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:  # unbuffered: closing it flushes nothing
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def hold_lock(db: Path, seconds: float) -> subprocess.Popen[bytes]:
    """A second process holding an exclusive lock on the SQLite file ``db`` for ``seconds``."""
    code = textwrap.dedent(f"""
        import sqlite3, time
        db = sqlite3.connect({str(db)!r}, timeout=30, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep({seconds})
        db.execute("COMMIT")
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"locked"
    return proc
