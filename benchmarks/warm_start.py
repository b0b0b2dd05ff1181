"""``--warm-start``: does a study that starts from an earlier one reach a good model sooner?

Run from the repository root::

    .venv/bin/python benchmarks/warm_start.py             # 3 seeds, 20 trials a study
    .venv/bin/python benchmarks/warm_start.py --quick     # 1 seed, 8 trials

For each seed: a study tunes a dense network on a quarter of scikit-learn's digits (TPE, the
seed); then three studies tune it on all of them: cold, ``--warm-start quarter`` (its trials
as observations) and ``--warm-start quarter:top5`` (its 5 best sets trained again first). All
use TPE with the same seed, the same trials and epochs. The figure is the number of trials each
needs to reach the cold study's final best validation accuracy, warm / cold (below 1: the warm
start got there sooner); a warm study that never gets there counts its trials + 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CELL = """\
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(hp.int("units", 8, 128, log=True), activation="relu"),
                          keras.layers.Dropout(hp.float("dropout", 0.0, 0.5)),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-4, 3e-1, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=8, batch_size=64)
"""


def data(fraction: float) -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, random_state=0)
    keep = int(len(x_train) * fraction)
    return {"x": x_train[:keep], "y": y_train[:keep], "x_val": x_val, "y_val": y_val}


def run(name: str, runs: str, namespace: dict[str, Any], trials: int, seed: int,
        extra: str = "") -> list[float]:
    """The study's own trials' values, in trial order."""
    import keras

    from jupyter_automl._api import run_study

    keras.utils.set_random_seed(seed)
    result = run_study(CELL, f"{name} --trials {trials} --seed {seed} --pruner none "
                       f"--maximize val_accuracy --runs-dir {runs} {extra}",
                       {**namespace, "keras": keras}, listeners=[])
    return [t.value for t in result.study.trials
            if "warm_start" not in t.user_attrs and t.value is not None]


def trials_to(values: list[float], target: float) -> int:
    """1-based number of trials until the running best reaches ``target``; len + 1 if never."""
    for i, value in enumerate(values, 1):
        if value >= target - 1e-9:
            return i
    return len(values) + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    seeds, trials = (1, 8) if args.quick else (args.seeds, args.trials)
    small, full = data(0.25), data(1.0)
    rows = []
    start = time.monotonic()
    for seed in range(seeds):
        with tempfile.TemporaryDirectory(prefix="bench-warm-") as runs:
            run("quarter", runs, small, trials, seed)
            cold = run("cold", runs, full, trials, seed)
            warm = run("warm", runs, full, trials, seed, "--warm-start quarter")
            top = run("top5", runs, full, trials, seed, "--warm-start quarter:top5")
        target = max(cold)
        row = (seed, target, trials_to(cold, target), trials_to(warm, target), max(warm),
               trials_to(top, target), max(top))
        rows.append(row)
        print(f"seed {seed}: cold best {target:.4f} after {row[2]} trials; warm reached it "
              f"after {row[3]} (best {row[4]:.4f}), top5 after {row[5]} (best {row[6]:.4f})",
              flush=True)
    print("\nseed | cold best | cold trials | warm trials | warm best | ratio | top5 trials | "
          "top5 best | ratio")
    for seed, target, cold, warm, best, top, top_best in rows:
        print(f"{seed:4d} | {target:9.4f} | {cold:11d} | {warm:11d} | {best:9.4f} | "
              f"{warm / cold:5.2f} | {top:11d} | {top_best:9.4f} | {top / cold:5.2f}")
    for name, i in (("warm", 3), ("top5", 5)):
        ratios = [row[i] / row[2] for row in rows]
        print(f"{name}: median ratio {statistics.median(ratios):.2f}, best "
              f"{statistics.median(row[i + 1] for row in rows):.4f} median, against cold "
              f"{statistics.median(row[1] for row in rows):.4f}")
    print(f"{seeds} seeds, {trials} trials a study ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
