"""Trials on two local worker kernels against the same trials in the notebook's kernel.

Run from the repository root::

    .venv/bin/python benchmarks/parallel.py            # 16 Keras trials, 40 trivial trials
    .venv/bin/python benchmarks/parallel.py --quick    # 6 Keras trials, 20 trivial trials
    .venv/bin/python benchmarks/parallel.py --warm --default-threads   # warm kernels too
    .venv/bin/python benchmarks/parallel.py --ray      # two Ray actors too

* ``keras``: the same CPU-bound Keras trials (a dense network on scikit-learn's digits, fixed
  epochs, no pruning), TensorFlow pinned to one thread in every kernel (a setup cell, replayed
  in the workers; ``--default-threads``: TensorFlow's own thread counts): in this kernel, then
  with ``--kernels 2``. Prints the speedup (goal >= 1.6 on 2 cores). Worker start-up (kernel,
  TensorFlow import, setup) is included.
* ``--warm``: the same ``--kernels 2`` cell run a second time, as a new study, on the worker
  kernels the first run left warm: its speedup beside the cold one (goal >= 1.7), and how long
  a third, trivial ``--kernels 2`` cell takes from its start to its first trial's (goal < 0.5 s).
* ``dispatch``: trivial trials through ``--kernels 2``, after the workers are up, against the
  same trials in this kernel: the added time per trial, in ms.
* ``--ray``: the same Keras trials on two Ray actors (``--kernels ray*2``: a Ray started for the
  run on this machine, its start-up included), their speedup (goal >= 1.7, as for local
  kernels), and the dispatch cost per trivial trial through Ray beside ``--kernels 2``'s.

``--pin-cores`` also gives each kernel one core of its own (every thread of the process, the
tf.data threads included): this kernel on core 0 for the in-kernel run, the two workers on
cores 0 and 1. Without it, one kernel's tf.data threads borrow the idle second core, which the
in-kernel run has and the two workers do not.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PINNED = """
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
"""
SETUP = """
EPOCHS = 20
import tensorflow as tf
PINNED
import keras
from sklearn.datasets import load_digits
x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
"""

KERAS = """
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(hp.int("units", 192, 256), activation="relu"),
                          keras.layers.Dense(hp.int("units2", 192, 256), activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-3, 1e-2, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.2, epochs=EPOCHS, batch_size=32)
"""

TRIVIAL = 'x = hp.float("x", -5, 5)\n(x - 1) ** 2'
# a trivial trial that notes when it started (each kernel appends to the file)
STAMPED = 'import time\nx = hp.float("x", -5, 5)\nopen(STAMPS, "a").write(f"{time.time()}\\n")\nx'
EPOCHS = 20  # also set by the setup cell, which the workers replay


def shell(runs: str, pinned: bool = True) -> Any:
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.run_line_magic("load_ext", "jupyter_automl")
    ip.run_line_magic("config", f"Automl.runs_dir = {runs!r}")
    ip.run_line_magic("config", 'Automl.display = "text"')
    ip.run_cell_magic("automl_setup", "", SETUP.replace("PINNED", PINNED if pinned else ""))
    return ip


def timed(ip: Any, line: str, body: str) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        ip.run_cell_magic("automl", line, body)
    return time.perf_counter() - start


def pin(pid: int, cores: set[int]) -> None:
    """Put every thread of process ``pid`` on ``cores`` (threads it starts later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), cores)


@contextlib.contextmanager
def workers_pinned() -> Iterator[None]:
    """While the block runs, put each new worker kernel (or Ray actor) on a core of its own."""
    import psutil

    done = threading.Event()

    def watch() -> None:
        cores: dict[int, int] = {}
        while not done.wait(0.05):
            for child in psutil.Process().children(recursive=True):
                line = ""
                with contextlib.suppress(psutil.Error):  # a worker kernel, or a Ray actor
                    line = " ".join(child.cmdline())
                if child.pid not in cores and ("ipykernel" in line or "_Shell" in line):
                    cores[child.pid] = len(cores) % (os.cpu_count() or 1)
            for pid, core in cores.items():
                with contextlib.suppress(OSError):
                    pin(pid, {core})

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 Keras and 20 trivial trials")
    parser.add_argument("--pin-cores", action="store_true",
                        help="give each kernel a core of its own (see above)")
    parser.add_argument("--dispatch-only", action="store_true",
                        help="measure the dispatch overhead only (no Keras trials)")
    parser.add_argument("--listen", default="127.0.0.1", metavar="HOST",
                        help="where the study is served to the workers (a non-loopback "
                             "address: TLS)")
    parser.add_argument("--warm", action="store_true",
                        help="also run the --kernels 2 cell again on the warm kernels")
    parser.add_argument("--default-threads", action="store_true",
                        help="leave TensorFlow's thread counts at their defaults")
    parser.add_argument("--ray", action="store_true",
                        help="also run the trials on two Ray actors (--kernels ray*2)")
    args = parser.parse_args(argv)
    keras_n, trivial_n = (6, 20) if args.quick else (16, 40)
    everywhere = set(range(os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as runs:
        ip = shell(runs, pinned=not args.default_threads)
        common = f"--trials {keras_n} --pruner none --sampler random --seed 0"
        workers = f"--kernels 2 --listen {args.listen}"
        one = two = warm = on_ray = 0.0
        first: float | None = None
        if not args.dispatch_only:
            if args.pin_cores:
                pin(os.getpid(), {0})
            one = timed(ip, f"k1 {common}", KERAS)
            pin(os.getpid(), everywhere)
            with workers_pinned() if args.pin_cores else contextlib.nullcontext():
                two = timed(ip, f"k2 {common} {workers}", KERAS)  # no kernel is warm yet
                if args.warm:
                    warm = timed(ip, f"k3 {common} {workers}", KERAS)
                    first = first_trial_after(ip, runs, workers)
                if args.ray:
                    on_ray = timed(ip, f"r2 {common} --kernels ray*2", KERAS)
        here = timed(ip, f"t1 --trials {trivial_n} --sampler random --seed 0", TRIVIAL)
        pool, start_only, per_trial = dispatch(ip, trivial_n, here, workers)
        if args.ray:
            ray_pool, ray_start, ray_per_trial = dispatch(ip, trivial_n, here, "--kernels ray*2",
                                                          "r")
    if not args.dispatch_only:
        report_speedup(one, two, keras_n, args.pin_cores, args.default_threads, warm, first)
        if args.ray:
            verdict = "ok" if one / on_ray >= 1.7 else "MISSED"
            print(f"  --kernels ray*2  {on_ray:7.1f} s (Ray's start-up included), speedup "
                  f"{one / on_ray:.2f}x (goal >= 1.7) {verdict}")
    print(f"dispatch: {trivial_n} trivial trials, the study served on {args.listen}")
    print(f"  this kernel      {here:7.2f} s; --kernels 2: {pool:.2f} s with start-up "
          f"{start_only:.2f} s{' (warm kernels)' if not args.dispatch_only else ''}")
    print(f"  dispatch overhead per trial {max(0.0, per_trial) * 1000:7.1f} ms")
    if args.ray:
        print(f"  --kernels ray*2: {ray_pool:.2f} s with start-up {ray_start:.2f} s (a Ray "
              "started for each run)")
        print(f"  dispatch overhead per trial through Ray {max(0.0, ray_per_trial) * 1000:7.1f}"
              f" ms (--kernels 2: {max(0.0, per_trial) * 1000:.1f} ms)")
    print(f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    return 0


def dispatch(ip: Any, trials: int, here: float, workers: str,
             prefix: str = "t") -> tuple[float, float, float]:
    """``trials`` trivial trials on ``workers``: the run's time, the workers' start-up (a run
    of 2 trials, taken out of the figure) and the time added per trial against ``here``
    seconds in this kernel."""
    start_only = timed(ip, f"{prefix}0 --trials 2 --sampler random --seed 0 {workers}", TRIVIAL)
    pool = timed(ip, f"{prefix}3 --trials {trials + 2} --sampler random --seed 0 {workers}",
                 TRIVIAL)
    return pool, start_only, ((pool - start_only) - here) / trials


def first_trial_after(ip: Any, runs: str, workers: str) -> float:
    """Seconds from the start of a trivial --kernels 2 cell to its first trial's start."""
    stamps = os.path.join(runs, "stamps.txt")
    start = time.time()
    with contextlib.redirect_stdout(io.StringIO()):
        ip.run_cell_magic("automl", f"s1 --trials 2 --sampler random --seed 0 {workers}",
                          STAMPED.replace("STAMPS", repr(stamps)))
    with open(stamps) as f:
        return min(float(line) for line in f) - start


def report_speedup(one: float, two: float, keras_n: int, pinned_cores: bool,
                   default_threads: bool, warm: float, first: float | None) -> None:
    speedup = one / two
    pinned = ", each kernel on a core of its own" if pinned_cores else ""
    threads = "default threads" if default_threads else "1 thread per kernel"
    print(f"keras: {keras_n} trials x {EPOCHS} epochs, TensorFlow on {threads}{pinned}")
    print(f"  this kernel      {one:7.1f} s")
    print(f"  --kernels 2      {two:7.1f} s (worker start-up included)")
    verdict = "ok" if speedup >= 1.6 else "MISSED"
    print(f"  speedup          {speedup:7.2f}x (goal >= 1.6) {verdict}")
    if warm:
        verdict = "ok" if one / warm >= 1.7 else "MISSED"
        print(f"  --kernels 2 warm {warm:7.1f} s (the same cell again, on the warm kernels)")
        print(f"  speedup warm     {one / warm:7.2f}x (goal >= 1.7) {verdict}; cold "
              f"{speedup:.2f}x")
    if first is not None:
        verdict = "ok" if first < 0.5 else "MISSED"
        print(f"  first trial of a warm --kernels 2 cell {first:.2f} s after the cell started "
              f"(goal < 0.5) {verdict}")


if __name__ == "__main__":
    sys.exit(main())
