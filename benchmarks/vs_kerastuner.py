"""``%%automl`` against KerasTuner: the same space, data, split and epochs, side by side.

Run from the repository root::

    .venv/bin/python benchmarks/vs_kerastuner.py              # 5 seeds, about 25 minutes
    .venv/bin/python benchmarks/vs_kerastuner.py --seeds 0 1  # two seeds
    .venv/bin/python benchmarks/vs_kerastuner.py --quick      # one seed, Hyperband pair only

The task is a new user's first tuning job: scikit-learn's digits (x/16, a fixed 75/25
train/validation split), a dense network of 1-3 layers of 32-256 units (step 32), one dropout
rate (0-0.5), the learning rate (1e-4-1e-2, log) and the batch size (16, 32, 64, 128), Adam,
at most 9 epochs a trial, the best epoch's ``val_accuracy`` as the trial's score.

For each seed, in this order, each side in a fresh Python process of its own (TensorFlow
imported and the data loaded before its clock starts, so start-up counts on neither side):

1. ``kt-hyperband``: KerasTuner ``Hyperband(max_epochs=9, factor=3)``, one full iteration. Its
   wall time is the seed's budget ``T``, its best validation accuracy the target ``B``.
2. ``kt-random`` and ``kt-bayes``: KerasTuner ``RandomSearch`` and ``BayesianOptimization`` (9
   epochs a trial), stopped at ``T``.
3. ``automl``: ``%%automl`` with its defaults (multivariate TPE, median pruner), and
   ``automl-hyperband``: ``%%automl --pruner hyperband``, each given up to 2 x ``T`` (stopped
   sooner once past ``T`` with ``B`` reached). ``--sides automl-sha`` adds
   ``--pruner sha``; ``automl-hybrid`` and ``automl-hybrid-hyperband`` are the same two with
   ``--sampler tpe+evolution``.

Every side trains through the same ``fit`` call with the same recording callback, which writes
each epoch's ``val_accuracy`` and time to a file as it goes (a side stopped at its budget keeps
its record). From the records: each side's best at ``T``, the time it took to reach ``B``
(divided by ``T``: the goal is a median at most 0.6 for ``automl-hyperband``), and the epochs it
trained. The report always exits 0; a missed goal is printed as ``MISSED``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MAX_EPOCHS = 9
FACTOR = 3
BATCH_SIZES = [16, 32, 64, 128]
KT_SIDES = ("kt-hyperband", "kt-random", "kt-bayes")
OURS = {"automl": "", "automl-hyperband": "--pruner hyperband", "automl-sha": "--pruner sha",
        # the candidate default sampler (benchmarks/README.md, search_quality.py)
        "automl-hybrid": "--sampler tpe+evolution",
        "automl-hybrid-hyperband": "--sampler tpe+evolution --pruner hyperband"}
GOAL = 0.6  # automl-hyperband's median time to reach B, as a share of T

CELL = """\
layers = hp.int("layers", 1, 3)
model = build_model(layers, [hp.int(f"units_{i}", 32, 256, step=32) for i in range(layers)],
                    hp.float("dropout", 0.0, 0.5), hp.float("lr", 1e-4, 1e-2, log=True))
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=MAX_EPOCHS,
          batch_size=hp.choice("batch_size", BATCH_SIZES), callbacks=[recorder()])
"""


# -- what both sides share (run inside a side's process) -------------------------------------
def digits() -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, data.target, test_size=0.25,
                                                      random_state=0, stratify=data.target)
    return {"x_train": x_train, "x_val": x_val, "y_train": y_train, "y_val": y_val}


def build_model(layers: int, units: list[int], dropout: float, lr: float) -> Any:
    import keras

    model = keras.Sequential([keras.Input((64,))])
    for width in units[:layers]:
        model.add(keras.layers.Dense(width, activation="relu"))
        model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class Record:
    """Each epoch's ``val_accuracy`` and its time since the side started, appended to a file."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "a", buffering=1)  # noqa: SIM115 - open while the side runs
        self.start = time.perf_counter()

    def callback(self) -> Any:
        import keras

        record = self

        class Recorder(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                accuracy = float((logs or {})["val_accuracy"])
                record.file.write(json.dumps({"t": time.perf_counter() - record.start,
                                              "acc": accuracy}) + "\n")

        return Recorder()


def run_kerastuner(side: str, seed: int, record: Record, workdir: Path) -> None:
    import keras
    import keras_tuner as kt

    data = digits()

    class Space(kt.HyperModel):
        def build(self, hp: Any) -> Any:
            layers = hp.Int("layers", 1, 3)
            units = [hp.Int(f"units_{i}", 32, 256, step=32) for i in range(layers)]
            return build_model(layers, units, hp.Float("dropout", 0.0, 0.5),
                               hp.Float("lr", 1e-4, 1e-2, sampling="log"))

        def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
            return model.fit(*args, batch_size=hp.Choice("batch_size", BATCH_SIZES), **kwargs)

    common = {"objective": "val_accuracy", "seed": seed, "directory": str(workdir),
              "project_name": side, "overwrite": True, "max_consecutive_failed_trials": 1000}
    keras.utils.set_random_seed(seed)
    record.start = time.perf_counter()
    if side == "kt-hyperband":
        tuner: Any = kt.Hyperband(Space(), max_epochs=MAX_EPOCHS, factor=FACTOR, **common)
    elif side == "kt-random":
        tuner = kt.RandomSearch(Space(), max_trials=10_000, **common)
    else:
        tuner = kt.BayesianOptimization(Space(), max_trials=10_000, **common)
    tuner.search(data["x_train"], data["y_train"], epochs=MAX_EPOCHS, verbose=0,
                 validation_data=(data["x_val"], data["y_val"]), callbacks=[record.callback()])


def run_automl(options: str, seed: int, record: Record, workdir: Path) -> None:
    import contextlib
    import io

    import keras
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.run_line_magic("load_ext", "jupyter_automl")
    ip.user_ns.update(digits(), build_model=build_model, recorder=record.callback,
                      MAX_EPOCHS=MAX_EPOCHS, BATCH_SIZES=BATCH_SIZES)
    keras.utils.set_random_seed(seed)
    line = (f"vs_kt --trials 10000 --maximize val_accuracy --seed {seed} {options} "
            f"--runs-dir {workdir}")
    record.start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        ip.run_cell_magic("automl", line, CELL)


def side_main(side: str, seed: int, out: Path) -> None:
    """One side, in this process (the parent stops it at its budget)."""
    import keras  # noqa: F401 - imported before the clock starts, as in a notebook

    record = Record(out)
    with tempfile.TemporaryDirectory(prefix=f"vs-kt-{side}-") as tmp:
        if side in KT_SIDES:
            run_kerastuner(side, seed, record, Path(tmp))
        else:
            run_automl(OURS[side], seed, record, Path(tmp))


# -- the parent: runs the sides, reads their records ----------------------------------------
@dataclass
class Run:
    side: str
    seed: int
    points: list[tuple[float, float]]  # (seconds, val_accuracy), one per epoch
    finished: bool  # ended by itself, not stopped at its budget
    wall: float

    def best_at(self, t: float) -> float:
        return max((a for s, a in self.points if s <= t), default=float("nan"))

    def reached(self, target: float) -> float | None:
        return next((s for s, a in self.points if a >= target - 1e-9), None)

    def epochs_until(self, t: float) -> int:
        return sum(1 for s, _ in self.points if s <= t)


def run_side(side: str, seed: int, budget: float | None, folder: Path,
             enough: tuple[float, float] | None = None) -> Run:
    """Run ``side`` in a process of its own until it ends or ``budget`` seconds of its record
    pass; with ``enough`` = (T, B), also once its record is past T and has reached B."""
    out = folder / f"{side}-{seed}.jsonl"
    out.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--side", side, "--seed", str(seed), "--out", str(out)]
    log = folder / f"{side}-{seed}.stderr"
    start = time.perf_counter()
    with open(log, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True)
    finished = False
    while not finished:
        finished = process.poll() is not None
        points = read_points(out)
        last = points[-1][0] if points else 0.0
        if budget is not None and (last >= budget or
                                   time.perf_counter() - start > budget + 120):
            break
        if enough is not None and last >= enough[0] and \
                max(a for _, a in points) >= enough[1] - 1e-9:
            break
        time.sleep(0.2)
    if not finished:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    wall = time.perf_counter() - start
    if finished and process.returncode != 0:
        raise RuntimeError(f"{side} (seed {seed}) failed with exit code {process.returncode}:\n"
                           f"{log.read_text()[-3000:]}")
    points = read_points(out)
    if budget is not None:
        points = [p for p in points if p[0] <= budget]
    return Run(side, seed, points, finished, wall)


def read_points(path: Path) -> list[tuple[float, float]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    points = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # the line being written
            break
        points.append((record["t"], record["acc"]))
    return points


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    return f"{min(values):.3g}-{max(values):.3g}" if values else "-"


def report(runs: dict[int, dict[str, Run]], sides: list[str]) -> list[str]:
    lines = ["", "per seed: T = KerasTuner Hyperband's wall time, B = its best val_accuracy; "
             "for each side its best at T, time to reach B (/T), epochs trained by T", ""]
    header = f"{'seed':>4} | {'T s':>6} | {'B':>6} | " + " | ".join(f"{s:>24}" for s in sides)
    lines += [header, "-" * len(header)]
    shares: dict[str, list[float]] = {s: [] for s in sides}
    gaps: dict[str, list[float]] = {s: [] for s in sides}
    for seed, by_side in sorted(runs.items()):
        kt = by_side["kt-hyperband"]
        budget, target = kt.points[-1][0], kt.best_at(float("inf"))
        cells = []
        for side in sides:
            run = by_side[side]
            reached = run.reached(target)
            share = None if reached is None else reached / budget
            if share is not None:
                shares[side].append(share)
            else:
                shares[side].append(float("inf"))
            gaps[side].append(run.best_at(budget) - target)
            shown = "never" if share is None else f"{share:.2f}"
            cells.append(f"{run.best_at(budget):.4f} {shown:>5} {run.epochs_until(budget):>4}ep")
        lines.append(f"{seed:>4} | {budget:6.1f} | {target:.4f} | "
                     + " | ".join(f"{c:>24}" for c in cells))
    lines += ["", f"{'side':>18} | median time to B (/T) | spread | median best-B at T | spread"]
    for side in sides:
        finite = [s for s in shares[side] if s != float("inf")]
        never = len(shares[side]) - len(finite)
        lines.append(f"{side:>18} | {median(shares[side]):21.2f} | {spread(finite)}"
                     f"{f' ({never} never)' if never else ''} | {median(gaps[side]):+17.4f} | "
                     f"{spread(gaps[side])}")
    if "automl-hyperband" in shares:
        got = median(shares["automl-hyperband"])
        verdict = "ok" if got <= GOAL else "MISSED"
        lines.append(f"\ngoal: automl-hyperband's median time to reach B <= {GOAL} x T: "
                     f"{got:.2f} {verdict}")
        noise = statistics.stdev([r["kt-hyperband"].best_at(float("inf"))
                                  for r in runs.values()]) if len(runs) > 1 else 0.0
        worst = min(gaps["automl-hyperband"])
        verdict = "ok" if worst >= -noise else "MISSED"
        lines.append(f"goal: automl-hyperband's best at T never below B by more than one seed's "
                     f"noise (the standard deviation of B over the seeds, {noise:.4f}): worst "
                     f"{worst:+.4f} {verdict}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--quick", action="store_true",
                        help="seed 0 only; KerasTuner Hyperband against --pruner hyperband")
    parser.add_argument("--sides", nargs="+", choices=[*OURS, *KT_SIDES[1:]],
                        help="the sides run against KerasTuner Hyperband (default: all)")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # a side's own process
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        side_main(args.side, args.seed, args.out)
        return 0
    seeds = [0] if args.quick else args.seeds
    sides = args.sides or (["automl-hyperband"] if args.quick else
                           ["automl", "automl-hyperband", "kt-random", "kt-bayes"])
    runs: dict[int, dict[str, Run]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vs-kt-") as tmp:
        for seed in seeds:
            kt = run_side("kt-hyperband", seed, None, Path(tmp))
            budget = kt.points[-1][0]
            runs[seed] = {"kt-hyperband": kt}
            print(f"seed {seed}: kt-hyperband {budget:.1f} s, best {kt.best_at(budget):.4f}, "
                  f"{len(kt.points)} epochs", flush=True)
            for side in sides:
                limit = budget * (2 if side in OURS else 1)
                target = kt.best_at(budget)
                run = run_side(side, seed, limit, Path(tmp),
                               enough=(budget, target) if side in OURS else None)
                runs[seed][side] = run
                print(f"seed {seed}: {side} best at T {run.best_at(budget):.4f}, at 2T "
                      f"{run.best_at(limit):.4f}, {len(run.points)} epochs", flush=True)
    print("\n".join(report(runs, sides)))
    print(f"\n(python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
          f"{time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
