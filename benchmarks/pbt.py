"""``--scheduler pbt`` against TPE + Hyperband, given the same number of training epochs.

Run from the repository root::

    .venv/bin/python benchmarks/pbt.py            # 3 seeds, population 8, 12 epochs a member
    .venv/bin/python benchmarks/pbt.py --quick    # 1 seed, population 4, 4 epochs

The task is the tutorial's (notebooks/06_adaptive_training.ipynb): a small CNN on scikit-learn's
digits as 8x8x1 images, behind Keras augmentation layers whose magnitudes (rotation,
translation, zoom) are parameters next to the learning rate and the number of filters. The data
are split once into train / validation / test.

For each seed: PBT (``--population P --interval 2``, every member trained for E epochs: P x E
epochs in all, the augmentation and the learning rate mutable); then TPE + Hyperband (``--pruner
hyperband``, the same cell, E epochs at most per trial), given trials until it has trained at
least as many epochs as PBT did (a study resumes with a larger ``--trials``, so it grows two
trials at a time). The figures: each one's best validation accuracy (what both optimise), its
best model's accuracy on the held-out test split, the epochs it trained and its wall time.
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
t = hp.float("translation", 0.0, 0.2, mutable=True)
augment = [keras.layers.RandomRotation(hp.float("rotation", 0.0, 0.2, mutable=True)),
           keras.layers.RandomTranslation(t, t),
           keras.layers.RandomZoom(hp.float("zoom", 0.0, 0.2, mutable=True))]
model = keras.Sequential([keras.Input((8, 8, 1)), *augment,
                          keras.layers.Conv2D(hp.int("filters", 8, 32, log=True), 3,
                                              padding="same", activation="relu"),
                          keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-4, 1e-2, log=True, mutable=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=EPOCHS, batch_size=64)
"""


def data() -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype("float32").reshape(-1, 8, 8, 1)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=0,
                                                      stratify=y)
    x, x_val, y, y_val = train_test_split(x_rest, y_rest, test_size=0.25, random_state=0,
                                          stratify=y_rest)
    return {"x": x, "y": y, "x_val": x_val, "y_val": y_val, "x_test": x_test, "y_test": y_test}


def epochs_trained(result: Any) -> int:
    """Epochs the study's trials trained (a PBT trial's own generation only)."""
    return sum(len(t.intermediate_values) for t in result.study.trials)


def test_accuracy(result: Any, ns: dict[str, Any]) -> float:
    import numpy as np

    model = result.best_model
    predicted = np.argmax(model.predict(ns["x_test"], verbose=0), axis=-1)
    return float(np.mean(predicted == ns["y_test"]))


def one_seed(seed: int, population: int, epochs: int, runs: str) -> dict[str, dict[str, float]]:
    import keras

    from jupyter_automl._api import run_study

    ns = {**data(), "keras": keras}
    cell = CELL.replace("EPOCHS", str(epochs))
    figures = {}
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    pbt = run_study(cell, f"pbt{seed} --scheduler pbt --population {population} --interval 2 "
                    f"--seed {seed} --maximize val_accuracy --runs-dir {runs}", ns, listeners=[])
    figures["pbt"] = {"val": pbt.best_value, "test": test_accuracy(pbt, ns),
                      "epochs": epochs_trained(pbt), "seconds": time.perf_counter() - start}
    budget = figures["pbt"]["epochs"]
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    trials = population
    while True:
        tpe = run_study(cell, f"tpe{seed} --trials {trials} --pruner hyperband --seed {seed} "
                        f"--maximize val_accuracy --runs-dir {runs}", ns, listeners=[])
        if epochs_trained(tpe) >= budget:
            break
        trials += 2
    figures["tpe+hyperband"] = {"val": tpe.best_value, "test": test_accuracy(tpe, ns),
                                "epochs": epochs_trained(tpe),
                                "seconds": time.perf_counter() - start, "trials": trials}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, population 4, 4 epochs")
    parser.add_argument("--seeds", type=int, default=None)
    args = parser.parse_args()
    seeds = args.seeds or (1 if args.quick else 3)
    population, epochs = (4, 4) if args.quick else (8, 12)
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for seed in range(seeds):
            figures = one_seed(seed, population, epochs, runs)
            rows.append(figures)
            pbt, tpe = figures["pbt"], figures["tpe+hyperband"]
            print(f"seed {seed}: PBT val {pbt['val']:.4f} test {pbt['test']:.4f} "
                  f"({pbt['epochs']:.0f} epochs, {pbt['seconds']:.0f} s) | TPE+Hyperband val "
                  f"{tpe['val']:.4f} test {tpe['test']:.4f} ({tpe['epochs']:.0f} epochs in "
                  f"{tpe['trials']:.0f} trials, {tpe['seconds']:.0f} s)", flush=True)
    print(f"\npopulation {population}, {epochs} epochs a member, {seeds} seeds "
          f"(medians; {sys.platform}, {os.cpu_count()} CPUs)")
    print(f"{'':16}{'best val_accuracy':>18}{'test accuracy':>15}{'epochs':>8}{'seconds':>9}")
    for side in ("pbt", "tpe+hyperband"):
        med = {k: statistics.median(r[side][k] for r in rows)
               for k in ("val", "test", "epochs", "seconds")}
        print(f"{side:16}{med['val']:>18.4f}{med['test']:>15.4f}{med['epochs']:>8.0f}"
              f"{med['seconds']:>9.0f}")
    wins = sum(r["pbt"]["val"] > r["tpe+hyperband"]["val"] for r in rows)
    ties = sum(r["pbt"]["val"] == r["tpe+hyperband"]["val"] for r in rows)
    print(f"PBT's best validation accuracy is higher on {wins} of {seeds} seeds"
          + (f" ({ties} tied)" if ties else ""))


if __name__ == "__main__":
    main()
