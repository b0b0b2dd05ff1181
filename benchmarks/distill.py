"""``--distill-from``: does a small student learn more from the teacher's soft targets than
from the labels alone?

Run from the repository root::

    .venv/bin/python benchmarks/distill.py            # 3 seeds
    .venv/bin/python benchmarks/distill.py --quick    # 1 seed

scikit-learn's digits, split once (1077 to train, 360 to validate, 360 to test). The teacher
is the best of a 6-trial study of a 2-layer dense network. For each seed, the same student
architecture (one hidden layer of 8 units, 10 epochs) is trained twice with the same seed,
on the labels alone and with ``--distill-from teacher --temperature 4 --soft-weight 0.7``:
their validation and test accuracy, and the difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TEACHER = """\
model = keras.Sequential([
    keras.Input((64,)),
    keras.layers.Dense(hp.int("units", 64, 256, log=True), activation="relu"),
    keras.layers.Dense(hp.int("units2", 32, 128, log=True), activation="relu"),
    keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-2, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=15, batch_size=32)
"""

STUDENT = """\
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=10, batch_size=32)
"""


def data() -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype("float32")
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=0,
                                                      stratify=y)
    x, x_val, y, y_val = train_test_split(x_rest, y_rest, test_size=0.25, random_state=0,
                                          stratify=y_rest)
    return {"x": x, "y": y, "x_val": x_val, "y_val": y_val, "x_test": x_test, "y_test": y_test}


def accuracy(result: Any, ns: dict[str, Any], split: str) -> float:
    import numpy as np

    predicted = np.argmax(result.best_model.predict(ns[f"x_{split}"], verbose=0), axis=-1)
    return float(np.mean(predicted == ns[f"y_{split}"]))


def main() -> None:
    import keras

    from jupyter_automl._api import run_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed")
    parser.add_argument("--temperature", default="4")
    parser.add_argument("--soft-weight", default="0.7")
    parser.add_argument("--epochs", type=int, default=10, help="the student's epochs")
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="the share of the training data the students see")
    args = parser.parse_args()
    seeds = 1 if args.quick else 3
    ns = {**data(), "keras": keras}
    keep = int(len(ns["x"]) * args.fraction)
    students = {**ns, "x": ns["x"][:keep], "y": ns["y"][:keep]}
    cell = STUDENT.replace("epochs=10", f"epochs={args.epochs}")
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        keras.utils.set_random_seed(0)
        teacher = run_study(TEACHER, f"teacher --trials 6 --seed 0 --pruner none "
                            f"--maximize val_accuracy --runs-dir {runs}", ns, listeners=[])
        t_val, t_test = accuracy(teacher, ns, "val"), accuracy(teacher, ns, "test")
        for seed in range(seeds):
            figures = {}
            for side, extra in (("labels", ""), ("distilled", (
                    f"--distill-from teacher --temperature {args.temperature} "
                    f"--soft-weight {args.soft_weight}"))):
                keras.utils.set_random_seed(seed)
                student = run_study(cell, f"{side}{seed} --trials 1 --seed {seed} "
                                    f"--pruner none --maximize val_accuracy --runs-dir {runs} "
                                    f"{extra}", students, listeners=[])
                figures[side] = (accuracy(student, ns, "val"), accuracy(student, ns, "test"))
            rows.append(figures)
            print(f"seed {seed}: labels alone val {figures['labels'][0]:.4f} test "
                  f"{figures['labels'][1]:.4f} | distilled val {figures['distilled'][0]:.4f} "
                  f"test {figures['distilled'][1]:.4f}", flush=True)
    print(f"\nteacher: val {t_val:.4f}, test {t_test:.4f} ({teacher.best_trial.params}); "
          f"student: 8 hidden units, {args.epochs} epochs on {keep} samples, T "
          f"{args.temperature}, soft weight {args.soft_weight}; {seeds} seeds ({sys.platform}, "
          f"{os.cpu_count()} CPUs)")
    for index, split in enumerate(("val", "test")):
        alone = statistics.mean(r["labels"][index] for r in rows)
        taught = statistics.mean(r["distilled"][index] for r in rows)
        print(f"mean {split} accuracy: labels alone {alone:.4f}, distilled {taught:.4f} "
              f"({taught - alone:+.4f})")
    wins = sum(r["distilled"][1] > r["labels"][1] for r in rows)
    print(f"the distilled student's test accuracy is higher on {wins} of {seeds} seeds")


if __name__ == "__main__":
    main()
