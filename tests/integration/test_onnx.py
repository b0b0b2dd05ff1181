"""ONNX export and the TFLite runtime, with the real tools: Keras's ONNX export checked by
onnxruntime against the Keras model (and a file that computes something else refused), a
bundle's ``predict.py`` running its ONNX and TFLite files in a fresh process that cannot
import TensorFlow, and LiteRT's interpreter measuring the compression report, with
TensorFlow's as the fallback in a process that cannot import ai-edge-litert."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from digits import split

from jupyter_automl import run_study
from jupyter_automl.errors import AutomlError
from jupyter_automl.results import load_result

CELL = '''
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(hp.int("units", 16, 32), activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=2, batch_size=64)
'''


@pytest.fixture(scope="module")
def digits(tmp_path_factory: Any) -> dict[str, Any]:
    """A trained digits study (one trial), the data, and the best model's outputs."""
    import keras

    data = split()
    runs = tmp_path_factory.mktemp("onnx")
    keras.utils.set_random_seed(0)
    run_study(CELL, f"digits --trials 1 --seed 0 --maximize val_accuracy --runs-dir {runs}",
              {**data, "keras": keras}, listeners=[])
    x = data["x_val"][:40]
    best = keras.models.load_model(load_result("digits", runs).paths.best_model())
    return {"runs": runs, **data, "sample": x, "expected": best.predict(x, verbose=0)}


def without(tmp_path: Path, *modules: str) -> dict[str, str]:
    """The environment of a Python that cannot import ``modules``: its sitecustomize sets
    them to None in ``sys.modules``, as import does for a module that is not installed."""
    folder = tmp_path / ("without-" + "-".join(modules))
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        f"import sys\nfor name in {modules!r}:\n    sys.modules[name] = None\n")
    paths = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def test_an_onnx_export_is_checked_against_keras(digits: dict[str, Any],
                                                 tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    result = load_result("digits", digits["runs"])
    exported = result.export("onnx", output=tmp_path)
    assert exported.path == tmp_path / "digits.onnx" and exported.format == "onnx"
    checked = exported.checked
    assert checked is not None and checked.runtime == f"onnxruntime {ort.__version__}"
    assert checked.samples == 8 and checked.max_diff <= checked.tolerance == pytest.approx(1e-4)
    assert checked.text() in exported.describe()
    assert "max abs difference" in exported.describe()
    # read back by the real tools: a valid graph, and on real data what Keras computes
    onnx.checker.check_model(str(exported.path))
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: digits["sample"]})[0]
    assert np.max(np.abs(got - digits["expected"])) <= 1e-5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.onnx"]


def test_an_onnx_file_that_computes_something_else_is_not_written(tmp_path: Path) -> None:
    """A layer that adds 1 when run eagerly and nothing in a traced graph: Keras's export
    traces it, so the file is a real ONNX file that disagrees with the Keras model."""
    import keras
    import tensorflow as tf

    from jupyter_automl.deploy._keras import ModelFile
    from jupyter_automl.deploy._onnx import write_onnx

    @keras.saving.register_keras_serializable("test_onnx")
    class EagerOnly(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return x + 1.0 if tf.executing_eagerly() else x

    keras.Sequential([keras.Input((4,)), EagerOnly()]).save(tmp_path / "model.keras")
    with pytest.raises(AutomlError) as info:
        write_onnx(ModelFile(tmp_path / "model.keras"), tmp_path / "model.onnx")
    # the tolerance is 1e-4 times the outputs' range (the random inputs', here)
    assert re.fullmatch(
        r"the ONNX file differs from the Keras model: max abs difference 1 on 8 random "
        r"inputs, over the tolerance 0\.000\d+; nothing was written \(the SavedModel or "
        r"TFLite format may serve instead\)", str(info.value)), str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def predict(folder: Path, inputs: Path, env: dict[str, str],
            *words: str) -> tuple[np.ndarray, str]:
    """``predict.py`` run in a fresh process, in another folder: its predictions and stderr."""
    out = inputs.parent / "out.npy"
    out.unlink(missing_ok=True)
    run = subprocess.run([sys.executable, str(folder / "predict.py"), str(inputs), *words,
                          "--output", str(out)], capture_output=True, text=True, timeout=300,
                         cwd=inputs.parent, env=env)
    assert run.returncode == 0, (words, run.stderr)
    return np.load(out), run.stderr


def test_a_bundles_onnx_and_tflite_files_predict_without_tensorflow(digits: dict[str, Any],
                                                                    tmp_path: Path) -> None:
    import onnxruntime as ort
    from ai_edge_litert import __version__ as litert

    folder = load_result("digits", digits["runs"]).bundle(tmp_path / "bundle",
                                                          formats=["onnx", "tflite"])
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.onnx", "model.tflite", "model_card.md", "predict.py", "signature.json"]
    signature = json.loads((folder / "signature.json").read_text())
    checked = signature["checked"]["model.onnx"]
    assert checked["runtime"] == f"onnxruntime {ort.__version__}"
    assert checked["max_diff"] <= checked["tolerance"]
    assert signature["tflite"]["runtime"] == f"ai-edge-litert {litert}"
    card = (folder / "model_card.md").read_text()
    assert "`model.onnx` was checked against Keras with onnxruntime" in card
    assert "the ONNX file on `onnxruntime` alone" in card
    assert f"(read by ai-edge-litert {litert})" in card
    assert "--format tflite   # this bundle holds onnx, tflite" in card
    inputs = tmp_path / "inputs.npy"
    np.save(inputs, digits["sample"])
    no_tf = without(tmp_path, "tensorflow", "keras")
    for words, said, tolerance in (((), f"the onnx model, run by onnxruntime {ort.__version__}",
                                    1e-5),  # the bundle's first format
                                   (("--format", "tflite"),
                                    f"the tflite model, run by ai-edge-litert {litert}", 1e-4)):
        got, stderr = predict(folder, inputs, no_tf, *words)
        assert said in stderr and "deprecated" not in stderr, stderr
        assert np.max(np.abs(got - digits["expected"])) <= tolerance, words
    # TensorFlow's interpreter where LiteRT cannot be imported, its deprecation notice left out
    no_litert = without(tmp_path, "ai_edge_litert", "tflite_runtime")
    got, stderr = predict(folder, inputs, no_litert, "--format", "tflite")
    assert "the tflite model, run by tensorflow " in stderr and "deprecated" not in stderr
    assert np.max(np.abs(got - digits["expected"])) <= 1e-4
    run = subprocess.run([sys.executable, str(folder / "predict.py"), str(inputs), "--format",
                          "keras"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "this bundle holds no model.keras; give --format onnx or tflite" in run.stderr


def test_litert_measures_the_compression_report_and_tensorflow_stands_in(
        digits: dict[str, Any], tmp_path: Path) -> None:
    import keras
    from ai_edge_litert import __version__ as litert

    result = load_result("digits", digits["runs"])
    report = result.compress(digits["x_val"], digits["y_val"], quantize=["dynamic"],
                             output=tmp_path / "litert")
    assert [v.runtime for v in report.variants] == [f"keras {keras.__version__}",
                                                    f"ai-edge-litert {litert}"]
    assert report.text().endswith(f"Keras models run by keras {keras.__version__}; TFLite "
                                  f"files by ai-edge-litert {litert}")
    saved = json.loads((tmp_path / "litert" / "report.json").read_text())
    assert saved["variants"][1]["runtime"] == f"ai-edge-litert {litert}"
    # a process that cannot import LiteRT measures with TensorFlow's interpreter
    np.savez(tmp_path / "eval.npz", x=digits["x_val"], y=digits["y_val"])
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_automl.cli", "compress", "digits", "--data",
         str(tmp_path / "eval.npz"), "--quantize", "dynamic", "--runs-dir",
         str(digits["runs"]), "--output", str(tmp_path / "tf")], capture_output=True,
        text=True, timeout=300, env=without(tmp_path, "ai_edge_litert", "tflite_runtime"))
    assert done.returncode == 0, done.stderr
    fallback = json.loads((tmp_path / "tf" / "report.json").read_text())["variants"][1]
    assert fallback["runtime"].startswith("tensorflow ") and fallback["within"]
    assert "TFLite files by tensorflow " in done.stdout and "deprecated" not in done.stderr
