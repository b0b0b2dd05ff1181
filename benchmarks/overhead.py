"""Overhead of ``%%automl`` over the same study written by hand with Optuna (and Keras).

Run from the repository root::

    .venv/bin/python benchmarks/overhead.py             # full run, about 8 minutes on 2 cores
    .venv/bin/python benchmarks/overhead.py --quick     # smoke test: 50 and 3 trials
    .venv/bin/python benchmarks/overhead.py --repeat 9  # more timed runs on a noisy machine

Each benchmark times each side five times (``--repeat N``), alternating automl, optuna, optuna,
automl, and judges the median ratio of neighbouring runs' CPU times (see ``Row``); the best
wall time of each side is printed too. Both sides use the same sampler, the magic's
``--sampler tpe`` (Optuna's TPE, multivariate with grouped parameters, seed 0), no pruner and
SQLite storage in a fresh temporary folder, and draw the same parameters (the best values
printed under each benchmark must agree), so a ratio is the magic's own cost. ``--vs-default``
gives the hand-written side Optuna's default ``TPESampler(seed=0)`` instead: what a user moving
from plain Optuna pays, the grouped sampler's extra work included.

* ``trivial``: 200 trials of a 2-parameter quadratic. Measures what the magic adds per trial
  (cell execution, hp binding, runner lock, progress line, exporter, ask/tell instead of
  ``optimize``) and per study (spec, recovery check, result summary).
* ``table``: 100 trials of a table lookup (6 choices of 5 options each, as NAS-Bench-201's
  cells): what users of cheap tabular objectives feel (goal: within 1.2x).
* ``keras``: 10 trials x 10 epochs of a Dense network on scikit-learn's digits. The hand-written
  side reports ``val_accuracy`` to its trial every epoch; the magic side adds its wrapped
  ``fit``, a checkpoint every epoch and the export of the best model.
* ``keras ce=1m``: the same with ``--checkpoint-every 1m`` on the magic side: the batches drawn
  in an order a retry can find again, and the clock looked at before every batch (no trial here
  lasts a minute, so no save falls inside an epoch: the cost of having the option on).

The report always exits 0; a missed goal is printed as ``MISSED``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import shlex
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before keras is first imported (lazily)

TRIVIAL_CELL = """\
x = hp.float("x", -10, 10)
y = hp.float("y", -10, 10)
(x - 2) ** 2 + (y + 1) ** 2
"""

KERAS_CELL = """\
model = build_model(hp.int("units", 16, 128, log=True), hp.float("lr", 1e-3, 3e-2, log=True))
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=EPOCHS, batch_size=64)
"""

EPOCHS = 10
# wall seconds, CPU seconds (this process's, all threads), and the trials the study ended with
Timed = tuple[float, float, list[FrozenTrial]]
STUDY = "bench"
ORDER = (("automl", "optuna"), ("optuna", "automl"))  # ABBA: drift hits both sides alike


@dataclass
class Row:
    """One benchmark's figures: the best wall time of each side, and the goal for their ratio.

    The goal is judged on ``paired``: the median, over the runs, of the ratio of the CPU times
    of two neighbouring runs (automl then optuna, or optuna then automl). On this shared
    machine the same run's wall time varied by 15-30% from one minute to the next, on either
    side: the best of three of each side moved the ratio by +-0.1, while neighbouring runs
    share the machine's state of the moment, and CPU time leaves out the time neighbours take.
    """

    name: str
    automl: float
    optuna: float
    goal: float
    note: str = ""
    paired: float = math.nan  # median ratio of neighbouring runs' CPU times

    @property
    def ratio(self) -> float:
        return self.automl / self.optuna

    @property
    def ok(self) -> bool:
        return self.paired <= self.goal


# -- the two sides -------------------------------------------------------------------------------


def start_shell() -> Any:
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.run_line_magic("load_ext", "jupyter_automl")
    return ip


def run_automl(ip: Any, cell: str, trials: int, extra: str = "") -> Timed:
    """Time one ``%%automl`` cell in a fresh runs folder; return the time and its trials."""
    with tempfile.TemporaryDirectory(prefix="bench-automl-") as tmp:
        line = (f"{STUDY} --trials {trials} --sampler tpe --seed 0 --pruner none {extra} "
                f"--runs-dir {shlex.quote(tmp)}")
        with contextlib.redirect_stdout(io.StringIO()):
            start, cpu = time.perf_counter(), time.process_time()
            ip.run_cell_magic("automl", line, cell)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{tmp}/{STUDY}/study.db")
        return elapsed, cpu, study.get_trials(deepcopy=False)


def magic_sampler() -> optuna.samplers.BaseSampler:
    """The sampler of ``%%automl --sampler tpe --seed 0`` (engine/_algorithms.py)."""
    import warnings

    with warnings.catch_warnings():  # group=True is "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=0, multivariate=True, group=True)


def default_sampler() -> optuna.samplers.BaseSampler:
    """Optuna's default TPE (``--vs-default``)."""
    return optuna.samplers.TPESampler(seed=0)


SAMPLER: list[Callable[[], optuna.samplers.BaseSampler]] = [magic_sampler]  # --vs-default


def run_optuna(objective: Callable[[optuna.Trial], float], trials: int,
               direction: Literal["minimize", "maximize"] = "minimize") -> Timed:
    """Time the hand-written study: the sampler of :data:`SAMPLER`, no pruner, SQLite in a
    fresh folder."""
    with tempfile.TemporaryDirectory(prefix="bench-optuna-") as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        study = optuna.create_study(
            storage=f"sqlite:///{tmp}/plain.db", sampler=SAMPLER[0](),
            pruner=optuna.pruners.NopPruner(), direction=direction,
        )
        study.optimize(objective, n_trials=trials)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        return elapsed, cpu, study.get_trials(deepcopy=False)


def completed(trials: list[FrozenTrial]) -> list[float]:
    return [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]


def alternate(repeat: int, sides: dict[str, Callable[[], Timed]]
              ) -> tuple[dict[str, list[tuple[float, float]]], dict[str, list[FrozenTrial]]]:
    """Time each side ``repeat`` times in ABBA order; every (wall, CPU) time, and each side's
    last trials."""
    times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    last: dict[str, list[FrozenTrial]] = {}
    for i in range(repeat):
        for side in ORDER[i % 2]:
            elapsed, cpu, last[side] = sides[side]()
            times[side].append((elapsed, cpu))
            print(f"  {side:<7} {elapsed:7.2f} s ({cpu:.2f} s CPU)", flush=True)
    return times, last


def like_for_like(last: dict[str, list[FrozenTrial]], trials: int) -> list[str]:
    """Notes on anything that makes the two sides' runs differ in work done."""
    notes = [f"{side} completed {len(completed(t))}/{trials} trials"
             for side, t in last.items() if len(completed(t)) != trials]
    if [t.params for t in last["automl"]] != [t.params for t in last["optuna"]]:
        notes.append("the sides drew different parameters: the comparison is not like for like")
    return notes


def best_of(name: str, goal: float, repeat: int, automl: Callable[[], Timed],
            plain: Callable[[], Timed], trials: int,
            best: Callable[[list[float]], float]) -> Row:
    """The benchmark's row: each side's minimum wall and CPU time over ``repeat`` runs, and a
    note on anything amiss."""
    times, last = alternate(repeat, {"automl": automl, "optuna": plain})
    values = {side: completed(t) for side, t in last.items()}
    print("  best values: " + ", ".join(f"{k} {best(v):.6g}" for k, v in values.items() if v))
    paired = statistics.median(a[1] / o[1] for a, o in zip(times["automl"], times["optuna"]))
    return Row(name, min(w for w, _ in times["automl"]), min(w for w, _ in times["optuna"]),
               goal, "; ".join(like_for_like(last, trials)), paired)


# -- benchmark (a): a trivial objective -------------------------------------------------------


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    y = trial.suggest_float("y", -10, 10)
    return (x - 2) ** 2 + (y + 1) ** 2


def bench_trivial(ip: Any, trials: int, repeat: int) -> Row:
    print(f"trivial: {trials} trials of a 2-parameter quadratic", flush=True)
    run_automl(ip, TRIVIAL_CELL, 2)  # warm-up: first-call imports on both sides
    run_optuna(quadratic, 2)
    return best_of(f"trivial x{trials}", 1.05, repeat,
                   lambda: run_automl(ip, TRIVIAL_CELL, trials),
                   lambda: run_optuna(quadratic, trials), trials, min)


# -- benchmark (b): a table lookup ---------------------------------------------------------

OPS = ("none", "skip", "conv1x1", "conv3x3", "pool")
TABLE_CELL = """\
cell = tuple(hp.choice(f"edge_{i}", OPS) for i in range(6))
TABLE[cell]
"""


def lookup_table() -> dict[tuple[str, ...], float]:
    """Every cell of 6 edges of 5 operations (15,625) with a made-up accuracy."""
    import itertools

    rng = np.random.default_rng(0)
    cells = list(itertools.product(OPS, repeat=6))
    return dict(zip(cells, rng.uniform(0.1, 0.95, len(cells)).tolist()))


def bench_table(ip: Any, trials: int, repeat: int) -> Row:
    print(f"table: {trials} trials of a lookup in a table of 5^6 cells", flush=True)
    table = lookup_table()
    ip.user_ns.update(TABLE=table, OPS=OPS)

    def lookup(trial: optuna.Trial) -> float:
        return table[tuple(trial.suggest_categorical(f"edge_{i}", OPS) for i in range(6))]

    run_automl(ip, TABLE_CELL, 2, "--maximize value")
    run_optuna(lookup, 2, "maximize")
    return best_of(f"table x{trials}", 1.20, repeat,
                   lambda: run_automl(ip, TABLE_CELL, trials, "--maximize value"),
                   lambda: run_optuna(lookup, trials, "maximize"), trials, max)


# -- benchmark (c): a small Keras model -------------------------------------------------------


def digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, data.target, random_state=0)
    return {"x_train": x_train, "x_val": x_val, "y_train": y_train, "y_val": y_val}


def build_model(units: int, lr: float) -> Any:
    """The model of both sides: one hidden Dense layer and a softmax."""
    import keras

    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def report_callback(trial: optuna.Trial) -> Any:
    """A Keras callback that reports ``val_accuracy`` to ``trial`` after every epoch."""
    import keras

    class ReportValAccuracy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            trial.report(float((logs or {})["val_accuracy"]), epoch)

    return ReportValAccuracy()


def keras_objective(data: dict[str, np.ndarray],
                    epochs: int = EPOCHS) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        model = build_model(trial.suggest_int("units", 16, 128, log=True),
                            trial.suggest_float("lr", 1e-3, 3e-2, log=True))
        history = model.fit(data["x_train"], data["y_train"], epochs=epochs, batch_size=64,
                            validation_data=(data["x_val"], data["y_val"]), verbose=0,
                            callbacks=[report_callback(trial)])
        return max(history.history["val_accuracy"])

    return objective


def warm_up_keras(ip: Any, data: dict[str, np.ndarray]) -> None:
    """One short fit, then one 1-epoch trial per side: start-up costs count on neither side."""
    build_model(32, 1e-2).fit(data["x_train"], data["y_train"], epochs=1, batch_size=64,
                              validation_data=(data["x_val"], data["y_val"]), verbose=0)
    ip.user_ns["EPOCHS"] = 1
    run_automl(ip, KERAS_CELL, 1, "--maximize val_accuracy")
    ip.user_ns["EPOCHS"] = EPOCHS
    run_optuna(keras_objective(data, epochs=1), 1, "maximize")


def seeded(run: Callable[[], Timed]) -> Callable[[], Timed]:
    """``run`` after a Keras reset: no graphs left over, the same initial weights each time."""

    def call() -> Timed:
        import keras

        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        return run()

    return call


def bench_keras(ip: Any, trials: int, repeat: int, extra: str = "", label: str = "") -> Row:
    print(f"keras{label}: {trials} trials x {EPOCHS} epochs on digits {extra}", flush=True)
    data = digits()
    ip.user_ns.update(data, build_model=build_model, EPOCHS=EPOCHS)
    warm_up_keras(ip, data)
    options = f"--maximize val_accuracy {extra}"
    automl = seeded(lambda: run_automl(ip, KERAS_CELL, trials, options))
    plain = seeded(lambda: run_optuna(keras_objective(data), trials, "maximize"))
    return best_of(f"keras {trials}x{EPOCHS}{label}", 1.05, repeat, automl, plain, trials, max)


def bench_keras_checkpoint_every(ip: Any, trials: int, repeat: int) -> Row:
    return bench_keras(ip, trials, repeat, "--checkpoint-every 1m", " ce=1m")


# -- the report ----------------------------------------------------------------------------------


def attempt(bench: Callable[[Any, int, int], Row], ip: Any, trials: int, repeat: int,
            name: str) -> Row:
    """Run one benchmark; an error is printed and becomes a row that misses its goal."""
    try:
        return bench(ip, trials, repeat)
    except Exception:  # a report: show the failure, go on with the next benchmark
        traceback.print_exc()
        return Row(name, math.nan, math.nan, goal=math.nan, note="ERROR (traceback above)")


def table(rows: list[Row]) -> str:
    lines = ["benchmark          | automl s | optuna s | best/best | paired CPU | goal  | ok",
             "-------------------|----------|----------|-----------|------------|-------|-----"]
    for r in rows:
        ok = "yes" if r.ok else "NO"
        lines.append(f"{r.name:<18} | {r.automl:8.2f} | {r.optuna:8.2f} | {r.ratio:9.3f} | "
                     f"{r.paired:10.3f} | {r.goal:5.2f} | {ok}")
    return "\n".join(lines)


def verdicts(rows: list[Row]) -> list[str]:
    out = [f"NOTE {r.name}: {r.note}" for r in rows if r.note]
    out += [f"MISSED {r.name}: paired automl/optuna CPU time = {r.paired:.3f} > goal "
            f"{r.goal:.2f}" for r in rows if not r.ok and not math.isnan(r.paired)]
    return out or ["all goals met"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 50 trivial trials and 3 Keras trials")
    parser.add_argument("--repeat", type=int, default=5, metavar="N",
                        help="timed runs per side, alternating (default 5)")
    parser.add_argument("--vs-default", action="store_true",
                        help="the hand-written side uses Optuna's default TPESampler(seed=0), "
                             "not the magic's grouped multivariate TPE")
    parser.add_argument("--tf-threads", type=int, default=1, metavar="N",
                        help="TensorFlow intra- and inter-op threads (default 1: on a 2-core "
                             "machine, training on both cores makes run times vary by +-15%%; "
                             "0 lets TensorFlow choose)")
    return parser.parse_args(argv)


def pin_tensorflow(threads: int) -> None:
    """Fix TensorFlow's thread pools (both sides alike) before any op runs."""
    if threads <= 0:
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.vs_default:
        SAMPLER[0] = default_sampler
    trivial_n, table_n, keras_n = (50, 30, 3) if args.quick else (200, 100, 10)
    pin_tensorflow(args.tf_threads)
    ip = start_shell()
    start = time.perf_counter()
    repeat = max(1, args.repeat)
    rows = [attempt(bench_trivial, ip, trivial_n, repeat, f"trivial x{trivial_n}"),
            attempt(bench_table, ip, table_n, repeat, f"table x{table_n}"),
            attempt(bench_keras, ip, keras_n, repeat, f"keras {keras_n}x{EPOCHS}"),
            attempt(bench_keras_checkpoint_every, ip, keras_n, repeat,
                    f"keras {keras_n}x{EPOCHS} ce=1m")]
    print(f"\n{table(rows)}\n")
    print("\n".join(verdicts(rows)))
    if args.quick:
        print("--quick is a smoke test: fixed per-study costs weigh more, the goals are set for "
              "the full run")
    print(f"(hand-written side: {SAMPLER[0].__doc__.splitlines()[0]} "  # type: ignore[union-attr]
          f"python {sys.version.split()[0]}, optuna {optuna.__version__}, "
          f"{os.cpu_count()} cpus, TensorFlow threads {args.tf_threads or 'auto'}, "
          f"{time.perf_counter() - start:.0f} s in all, "
          f"run in {Path.cwd()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
