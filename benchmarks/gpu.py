"""The GPU checks, ready for the first machine with a GPU: one run of a few minutes that prints
one table and exits non-zero on any failure.

    .venv/bin/python benchmarks/gpu.py              # on a machine with a GPU
    .venv/bin/python benchmarks/gpu.py --dry-run    # here: every check's study on the CPU

No GPU has been lent to this project yet, so nothing here has run on one (the docs say so:
docs/guide/workers.md, GPUs). Each check runs a real study (``jupyter_automl.run_study``, the
engine of the cell) in a fresh process, on generated images (no download):

- ``gpu-vs-cpu``: one trial of a small CNN on the GPU and the same trial on the CPU
  (``CUDA_VISIBLE_DEVICES=""``): both complete, the GPU's held memory is recorded on the trial
  (``gpu_peak_mb`` > 0: it ran there), and the speed-up is printed;
- ``shared-gpu``: ``--kernels 4 --gpus-per-trial 0.25``, four worker kernels sharing one GPU
  with memory growth on: four trials complete, none out of memory, each with its
  ``gpu_peak_mb``;
- ``strategy-auto``: ``--strategy auto`` runs the trial under OneDeviceStrategy on one GPU and
  MirroredStrategy on several;
- ``ray-fractional``: the same as ``shared-gpu`` through Ray's fractional GPUs: ``--kernels
  ray*4 --gpus-per-trial 0.25``, four Ray actors holding a quarter of the GPU each.

``--dry-run`` runs every study on the CPU (``CUDA_VISIBLE_DEVICES=""``), with the checks that
need a GPU reported as such: it shows the script works before a GPU is at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SETUP = '''\
import numpy as np
rng = np.random.default_rng(0)
x = rng.normal(size=(SAMPLES, 32, 32, 3)).astype("float32")
y = (x[:, :16, :16, 0].mean(axis=(1, 2)) > 0).astype("int64")
'''
CELL = '''\
import keras
import tensorflow as tf
model = keras.Sequential([keras.Input((32, 32, 3)),
    keras.layers.Conv2D(hp.choice("filters", [32, 64]), 3, activation="relu"),
    keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
    keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
open("strategy.txt", "w").write(type(tf.distribute.get_strategy()).__name__)
model.fit(x, y, validation_split=0.2, epochs=EPOCHS, batch_size=128)
'''
STUDY = '''\
import json, sys
import jupyter_automl
ns = {{}}
exec({setup!r}, ns)
result = jupyter_automl.run_study({cell!r}, {options!r}, ns, setup_cells=[{setup!r}],
                                  display="text")
rows = [dict(r) for r in result.trials]
print("RESULT " + json.dumps({{"rows": rows}}, default=str))
'''


def study(options: str, folder: Path, samples: int, epochs: int,
          env: dict[str, str]) -> tuple[list[dict[str, Any]], float, str]:
    """Run a study in a fresh process: its trial rows, its seconds, and its output."""
    setup = SETUP.replace("SAMPLES", str(samples))
    cell = CELL.replace("EPOCHS", str(epochs))
    code = STUDY.format(setup=setup, cell=cell, options=f"{options} --runs-dir {folder}/runs")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **env})
    seconds = time.monotonic() - start
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"the study failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-1500:]}")
    return json.loads(line[len("RESULT "):])["rows"], seconds, done.stdout + done.stderr


def gpus() -> int:
    done = subprocess.run([sys.executable, "-c", "import tensorflow as tf; print(len("
                           "tf.config.list_physical_devices('GPU')))"],
                          capture_output=True, text=True, timeout=300)
    return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else 0


class Checks:
    def __init__(self, dry_run: bool, samples: int, epochs: int) -> None:
        self.dry_run = dry_run
        self.samples, self.epochs = samples, epochs
        self.rows: list[tuple[str, str, str]] = []
        self.cpu = {"CUDA_VISIBLE_DEVICES": ""}
        self.gpu = self.cpu if dry_run else {}

    def record(self, name: str, ok: bool | None, said: str) -> None:
        status = "pass" if ok else ("FAIL" if ok is False else "not run")
        self.rows.append((name, status, said))

    def run(self, name: str, check: Any) -> None:
        with tempfile.TemporaryDirectory(prefix=f"automl-gpu-{name}-") as tmp:
            try:
                ok, said = check(Path(tmp))
            except Exception as exc:  # noqa: BLE001 - the table says what failed
                ok, said = False, f"{type(exc).__name__}: {exc}"
        self.record(name, ok, said)

    def gpu_vs_cpu(self, tmp: Path) -> tuple[bool | None, str]:
        options = "one --trials 1 --seed 0 --pruner none --maximize val_accuracy"
        (tmp / "cpu").mkdir()
        (tmp / "gpu").mkdir()
        cpu_rows, cpu_s, _ = study(options, tmp / "cpu", self.samples, self.epochs, self.cpu)
        gpu_rows, gpu_s, _ = study(options, tmp / "gpu", self.samples, self.epochs, self.gpu)
        states = [r["state"] for r in cpu_rows + gpu_rows]
        if states != ["COMPLETE", "COMPLETE"]:
            return False, f"trial states {states}"
        peak = gpu_rows[0].get("gpu_peak_mb")
        said = f"CPU {cpu_s:.1f} s, GPU {gpu_s:.1f} s ({cpu_s / gpu_s:.2f}x); " \
               f"gpu_peak_mb {peak}"
        if self.dry_run:
            return None, said + " (dry run: both on the CPU)"
        return bool(peak and peak > 0), said

    def four_sharing(self, tmp: Path, name: str, kernels: str,
                     dry: str) -> tuple[bool | None, str]:
        """Four trials on ``kernels``, a quarter of the GPU each: all complete, none out of
        memory, each with its GPU peak."""
        options = (f"{name} --trials 4 --seed 0 --pruner none --maximize val_accuracy "
                   f"--kernels {kernels}" + ("" if self.dry_run else " --gpus-per-trial 0.25"))
        rows, seconds, output = study(options, tmp, self.samples, self.epochs, self.gpu)
        states = [r["state"] for r in rows]
        oom = "ResourceExhausted" in output or "out of memory" in output.lower()
        peaks = [r.get("gpu_peak_mb") for r in rows]
        said = f"{states.count('COMPLETE')}/4 complete in {seconds:.1f} s; gpu_peak_mb {peaks}"
        if self.dry_run:
            return None, f"{said} (dry run: {dry})"
        ok = states == ["COMPLETE"] * 4 and not oom and all(p and p > 0 for p in peaks)
        return ok, said + ("; out of memory" if oom else "")

    def shared_gpu(self, tmp: Path) -> tuple[bool | None, str]:
        return self.four_sharing(tmp, "shared", "4", "4 kernels on the CPU")

    def strategy_auto(self, tmp: Path) -> tuple[bool | None, str]:
        options = "auto --trials 1 --seed 0 --pruner none --maximize val_accuracy --strategy auto"
        rows, _, _ = study(options, tmp, self.samples, self.epochs, self.gpu)
        used = (tmp / "strategy.txt").read_text().strip()
        count = 0 if self.dry_run else gpus()
        expected = {0: "_DefaultDistributionStrategy", 1: "OneDeviceStrategy"}.get(
            count, "MirroredStrategy")
        said = f"{count} GPU(s): {used} (expected {expected}); trial {rows[0]['state']}"
        return used == expected and rows[0]["state"] == "COMPLETE", said

    def ray_fractional(self, tmp: Path) -> tuple[bool | None, str]:
        # a dry run: as many actors as this machine's CPUs allow (one each), and the check
        # that the four trials complete
        ok, said = self.four_sharing(tmp, "rayfrac", "ray*2" if self.dry_run else "ray*4",
                                     "2 Ray actors on the CPU")
        return (said.startswith("4/4 complete") if self.dry_run else ok), said


CHECKS = ("gpu-vs-cpu", "shared-gpu", "strategy-auto", "ray-fractional")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true",
                   help="every check's study on the CPU, the GPU assertions left out")
    p.add_argument("--samples", type=int, default=4096, help="generated 32x32x3 images")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--checks", nargs="*", default=list(CHECKS), choices=CHECKS)
    args = p.parse_args(argv)
    if not args.dry_run and gpus() == 0:
        print("no GPU visible to TensorFlow here: run this on a machine with one, or pass "
              "--dry-run to run the studies on the CPU")
        return 2
    checks = Checks(args.dry_run, args.samples, args.epochs)
    for name in args.checks:
        checks.run(name, getattr(checks, name.replace("-", "_")))
        print(f"  {name}: {checks.rows[-1][1]}", flush=True)
    width = max(len(n) for n, _, _ in checks.rows)
    print(f"\n{'check':{width}s}  result   figures")
    for name, status, said in checks.rows:
        print(f"{name:{width}s}  {status:7s}  {said}")
    return 1 if any(status == "FAIL" for _, status, _ in checks.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
