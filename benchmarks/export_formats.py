"""How long ``result.export`` takes in each format, and how far the ONNX and TFLite files'
outputs are from the Keras model's.

Run from the repository root::

    .venv/bin/python benchmarks/export_formats.py             # 7 rounds
    .venv/bin/python benchmarks/export_formats.py --rounds 3

A one-trial study of scikit-learn's digits (64 inputs, a hidden Dense layer of 48 units, 10
classes) is trained once. Then every round exports its best model in each format, in turn
(keras, savedmodel, onnx, tflite), into a new folder; each format's first export in the
process (which imports tf2onnx and onnxruntime, or traces the model for the first time) is
printed apart, and the median wall and CPU time of the other rounds. An ONNX export's time
includes its check (onnxruntime against Keras on 8 inputs). Last, the ONNX file (onnxruntime)
and the TFLite file (the runtime deploy chooses) predict the 450 validation samples: the
largest difference from the Keras model's outputs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FORMATS = ("keras", "savedmodel", "onnx", "tflite")
CELL = """\
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(48, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=3, batch_size=64)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import keras
    from digits import split

    from jupyter_automl import run_study
    from jupyter_automl.results import load_result

    data = split()
    with tempfile.TemporaryDirectory() as tmp:
        run_study(CELL, f"digits --trials 1 --seed 0 --runs-dir {tmp}/runs",
                  {**data, "keras": keras}, listeners=[])
        result = load_result("digits", f"{tmp}/runs")
        times: dict[str, list[tuple[float, float]]] = {f: [] for f in FORMATS}
        for n in range(rounds):
            folder = Path(tmp) / f"round{n}"
            folder.mkdir()
            for fmt in FORMATS:
                wall, cpu = time.perf_counter(), time.process_time()
                exported = result.export(fmt, output=folder)  # digits.onnx, ...
                times[fmt].append((time.perf_counter() - wall, time.process_time() - cpu))
                if fmt == "onnx" and n == 0:
                    print(exported.describe())
        print(f"{'format':<11} {'first (ms)':>10} {'median wall (ms)':>17} "
              f"{'median CPU (ms)':>16}")
        for fmt, runs in times.items():
            rest = runs[1:] or runs
            print(f"{fmt:<11} {runs[0][0] * 1000:>10.0f} "
                  f"{statistics.median(r[0] for r in rest) * 1000:>17.0f} "
                  f"{statistics.median(r[1] for r in rest) * 1000:>16.0f}")
        differences(result, Path(tmp) / "round0", data["x_val"])


def differences(result: object, folder: Path, x: object) -> None:
    import keras
    import numpy as np
    import onnxruntime as ort

    from jupyter_automl.deploy._litert import open_tflite
    from jupyter_automl.deploy._tflite import invoke

    x = np.asarray(x, dtype="float32")
    model = keras.models.load_model(result.paths.best_model())  # type: ignore[attr-defined]
    expected = model.predict(x, verbose=0)
    session = ort.InferenceSession(str(folder / "digits.onnx"),
                                   providers=["CPUExecutionProvider"])
    onnx = session.run(None, {session.get_inputs()[0].name: x})[0]
    opened, runtime = open_tflite(folder / "digits.tflite")
    lite = np.stack([invoke(opened, row) for row in x])
    print(f"max abs difference from Keras on {len(x)} validation samples: ONNX "
          f"(onnxruntime {ort.__version__}) {np.max(np.abs(onnx - expected)):.2g}, TFLite "
          f"({runtime}) {np.max(np.abs(lite - expected)):.2g}")


if __name__ == "__main__":
    main()
