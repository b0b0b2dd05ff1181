"""Compression of a study's best model with real TensorFlow: TFLite quantization (dynamic,
float16, full integer), magnitude pruning with fine-tuning, the report, the CLI verb, and bad
input that writes nothing; the deployment bundle and ``result.export``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from digits import split

from jupyter_automl import run_study
from jupyter_automl.deploy import sparsity_of
from jupyter_automl.errors import AutomlError
from jupyter_automl.results import load_result

CELL = '''
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(hp.int("units", 32, 64), activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=4, batch_size=64)
'''


@pytest.fixture(scope="module")
def digits(tmp_path_factory: Any) -> dict[str, Any]:
    """A trained digits study, and the data it was trained and evaluated on."""
    import keras

    data = split()
    runs = tmp_path_factory.mktemp("compress")
    keras.utils.set_random_seed(0)
    run_study(CELL, f"digits --trials 2 --seed 0 --maximize val_accuracy --runs-dir {runs}",
              {**data, "keras": keras}, listeners=[])
    return {"runs": runs, **data}


def test_three_quantizations_measured_and_checked(digits: dict[str, Any]) -> None:
    from ai_edge_litert.interpreter import Interpreter  # TensorFlow's is deprecated

    result = load_result("digits", digits["runs"])
    report = result.compress(digits["x_val"], digits["y_val"], calibration=digits["x"][:300])
    names = [v.name for v in report.variants]
    assert names == ["keras (float32)", "tflite dynamic", "tflite float16", "tflite int8"]
    base = report.baseline
    assert base.score == pytest.approx(result.best_value, abs=1e-6)  # the same data, model
    for variant in report.variants:
        assert Path(variant.path).exists() and variant.size > 0 and variant.latency_ms > 0
        assert variant.within, (variant.name, variant.max_diff, variant.tolerance)
        assert variant.agreement >= 0.95 and abs(variant.score - base.score) <= 0.03
    sizes = {v.name: v.size for v in report.variants}
    assert sizes["tflite dynamic"] < sizes["tflite float16"] < sizes["keras (float32)"]
    assert sizes["tflite int8"] < sizes["tflite float16"]
    interpreter = Interpreter(model_path=report.variants[3].path)
    assert interpreter.get_input_details()[0]["dtype"] == np.float32  # int8_io="float"
    saved = json.loads((Path(report.folder) / "report.json").read_text())
    assert [v["name"] for v in saved["variants"]] == names
    assert "tflite int8" in report.text() and report.figure().data[0].x is not None
    # int8 at the edges too
    edges = result.compress(digits["x_val"], digits["y_val"], quantize=["int8"],
                            calibration=digits["x"][:300], int8_io="int8",
                            output=digits["runs"] / "int8io")
    lite = edges.variants[1]
    interpreter = Interpreter(model_path=lite.path)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert lite.within and lite.agreement >= 0.95


def test_pruning_reaches_the_sparsity_and_keeps_it(digits: dict[str, Any]) -> None:
    import keras

    result = load_result("digits", digits["runs"])
    report = result.compress(digits["x_val"], digits["y_val"], quantize=[], prune=0.8,
                             train=(digits["x"], digits["y"]), epochs=2,
                             output=digits["runs"] / "pruned")
    base, pruned, lite = report.variants
    assert (pruned.name, lite.name) == ("pruned 80%", "pruned 80% tflite")
    model = keras.models.load_model(pruned.path)  # counted in the saved weights
    for layer in model.layers:
        kernel = np.asarray(layer.kernel)
        assert np.sum(kernel == 0) >= int(0.8 * kernel.size)
    assert sparsity_of(model) >= 0.8 and pruned.zeros >= 0.8 * (pruned.params - 64 - 10) * 0.99
    assert base.score - pruned.score <= 0.05  # fine-tuning kept most of the accuracy
    assert pruned.gzipped < 0.6 * base.gzipped  # the zeros compress
    # its TFLite file computes what the pruned model does (its agreement with the float
    # model is the pruned model's)
    assert lite.within and lite.score == pytest.approx(pruned.score, abs=0.01)
    assert lite.agreement == pytest.approx(pruned.agreement, abs=0.01)


def test_each_kernel_has_at_least_the_share_of_zeros_asked() -> None:
    """Kernels whose size the sparsity does not divide (64 x 37 at 80% is 1894.4 weights):
    each gets the share asked or one more zero, never one fewer (a search's best model of 37
    units was pruned to 79.98% by a floor)."""
    import keras

    from jupyter_automl.deploy import prune_model, sparsity_of

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(37, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(64, 64)).astype("float32")
    y = np.arange(64) % 10
    pruned = prune_model(model, 0.8, x, y, epochs=1)
    for layer in pruned.layers:
        kernel = np.asarray(layer.kernel)
        assert np.sum(kernel == 0) == int(np.ceil(0.8 * kernel.size)), layer.name
    assert sparsity_of(pruned) >= 0.8


def test_bad_input_is_a_clear_error_and_writes_nothing(digits: dict[str, Any]) -> None:
    result = load_result("digits", digits["runs"])
    out = digits["runs"] / "never"
    x, y = digits["x_val"], digits["y_val"]
    cases = [
        ({"quantize": ["int8"]}, "needs calibration data"),
        ({"prune": 1.5, "train": (x, y)}, "strictly between 0 and 1"),
        ({"prune": 0.0, "train": (x, y)}, "strictly between 0 and 1"),
        ({"prune": 0.5}, "give the training data"),
        ({"quantize": ["int4"]}, "unknown quantization 'int4'"),
    ]
    for options, message in cases:
        with pytest.raises(AutomlError, match=message):
            result.compress(x, y, output=out, **options)
    with pytest.raises(AutomlError, match="x has 450 samples and y 3"):
        result.compress(x, y[:3], output=out)
    with pytest.raises(AutomlError, match="samples of shape"):
        result.compress(x[:, :10], y, output=out)
    assert not out.exists()
    assert not list(digits["runs"].glob(".never*"))  # no staging folder left either


def test_a_study_without_a_model_and_a_front_without_trial(digits: dict[str, Any],
                                                          tmp_path: Path) -> None:
    import keras

    run_study('(hp.float("x", 0, 1) - 0.5) ** 2', f"plain --trials 2 --runs-dir {tmp_path}", {},
              listeners=[])
    x, y = digits["x_val"], digits["y_val"]
    with pytest.raises(AutomlError, match="trained no Keras model"):
        load_result("plain", tmp_path).compress(x, y)
    run_study(CELL.replace("epochs=4", "epochs=1"), f"two --trials 2 --maximize val_accuracy "
              f"--minimize val_loss --runs-dir {tmp_path}", {**digits, "keras": keras},
              listeners=[])
    two = load_result("two", tmp_path)
    with pytest.raises(AutomlError, match="--trial N"):
        two.compress(x, y)
    front = sorted(two.paths.front_models())
    report = two.compress(x, y, quantize=["dynamic"], trial=front[0])
    assert report.trial == front[0] and report.variants[1].within


def test_the_cli_verb(digits: dict[str, Any], tmp_path: Path) -> None:
    np.savez(tmp_path / "eval.npz", x=digits["x_val"], y=digits["y_val"])
    np.savez(tmp_path / "calib.npz", x=digits["x"][:200])
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_automl.cli", "compress", "digits", "--data",
         str(tmp_path / "eval.npz"), "--calibration", str(tmp_path / "calib.npz"),
         "--runs-dir", str(digits["runs"]), "--output", str(out)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "tflite int8" in done.stdout and "ms/sample" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["dynamic.tflite", "float16.tflite",
                                                     "int8.tflite", "report.json"]
    again = subprocess.run(  # a second run replaces the first one's folder whole
        [sys.executable, "-m", "jupyter_automl.cli", "compress", "digits", "--data",
         str(tmp_path / "eval.npz"), "--quantize", "float16", "--runs-dir",
         str(digits["runs"]), "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["float16.tflite", "report.json"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(AutomlError, match="holds no earlier compression report"):
        load_result("digits", digits["runs"]).compress(digits["x_val"], digits["y_val"],
                                                       output=mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    bad = subprocess.run(
        [sys.executable, "-m", "jupyter_automl.cli", "compress", "digits", "--data",
         str(tmp_path / "calib.npz"), "--runs-dir", str(digits["runs"])],
        capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "has no array y" in bad.stderr


def test_a_deployment_bundle_predicts_in_a_fresh_process(digits: dict[str, Any],
                                                         tmp_path: Path) -> None:
    import keras

    result = load_result("digits", digits["runs"])
    result.compress(digits["x_val"], digits["y_val"], quantize=["dynamic"])  # for the card
    folder = tmp_path / "bundle"
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_automl.cli", "export", "digits", "--bundle",
         str(folder), "--runs-dir", str(digits["runs"])], capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.keras", "model.tflite", "model_card.md", "predict.py", "savedmodel",
        "signature.json"]
    signature = json.loads((folder / "signature.json").read_text())
    assert signature["inputs"][0]["shape"] == [None, 64]
    assert signature["outputs"][0]["shape"] == [None, 10]
    assert signature["tflite"]["inputs"][0]["dtype"] == "float32"
    card = (folder / "model_card.md").read_text()
    best = result.best_trial
    for text in (f"trial {best.number}", f"`units` | {best.params['units']}", "(batch, 64)",
                 "## Compression", "tflite dynamic", "python predict.py inputs.npy"):
        assert text in card, text
    x = digits["x_val"][:20]
    np.save(tmp_path / "inputs.npy", x)
    expected = keras.models.load_model(result.paths.best_model()).predict(x, verbose=0)
    for fmt, tolerance in (("keras", 1e-6), ("savedmodel", 1e-5), ("tflite", 1e-4)):
        out = tmp_path / f"{fmt}.npy"
        run = subprocess.run(  # a fresh process, in another folder: the bundle alone
            [sys.executable, str(folder / "predict.py"), str(tmp_path / "inputs.npy"),
             "--format", fmt, "--output", str(out)], capture_output=True, text=True,
            timeout=300, cwd=tmp_path)
        assert run.returncode == 0, (fmt, run.stderr)
        assert np.max(np.abs(np.load(out) - expected)) <= tolerance, fmt
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, x[:, :10])
    run = subprocess.run([sys.executable, str(folder / "predict.py"), str(wrong)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "the model takes [64]" in run.stderr
    # a folder that is not a bundle is never replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(AutomlError, match="is not a bundle"):
        result.bundle(mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_result_export_writes_the_model_it_describes(digits: dict[str, Any],
                                                     tmp_path: Path) -> None:
    import keras
    from ai_edge_litert.interpreter import Interpreter

    result = load_result("digits", digits["runs"])
    x = digits["x_val"][:40]
    expected = keras.models.load_model(result.paths.best_model()).predict(x, verbose=0)
    plain = result.export(output=tmp_path)  # keras, the default name inside a folder
    assert plain.path == tmp_path / "digits.keras" and plain.format == "keras"
    assert not plain.quantized and plain.size == plain.path.stat().st_size
    assert plain.trial == result.best_trial.number
    loaded = keras.models.load_model(plain.path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)

    quantized = result.export("tflite-quant", output=tmp_path)
    assert quantized.path == tmp_path / "digits-quant.tflite"
    assert (quantized.format, quantized.quantized) == ("tflite", True)
    assert "as tflite (dynamic-range quantized)" in quantized.describe()
    assert quantized.size < 0.5 * plain.size
    interpreter = Interpreter(model_path=str(quantized.path))
    source, = interpreter.get_input_details()
    interpreter.resize_tensor_input(source["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], x)
    interpreter.invoke()
    predicted = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(predicted, expected, atol=0.05)
    assert (predicted.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.9
    # tflite with quantize=True is the same row
    again = result.export("tflite", quantize=True, output=tmp_path / "again.tflite")
    assert again.path.read_bytes() == quantized.path.read_bytes()

    with pytest.raises(AutomlError, match="unknown export format 'h5'; use one of keras"):
        result.export("h5", output=tmp_path)
    with pytest.raises(AutomlError, match="--quantize applies to --format tflite only"):
        result.export("keras", quantize=True, output=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.tflite", "digits-quant.tflite",
                                                          "digits.keras"]


def test_structured_pruning_removes_units_and_keeps_the_rest_exact(digits: dict[str, Any]
                                                                   ) -> None:
    """Removing filters and units that carry nothing (zero weights) leaves the outputs as
    they were: the slicing through Conv2D, pooling, Flatten and Dense is right. Then a real
    structured pruning of the study's model: half the hidden units, fine-tuned."""
    import keras

    from jupyter_automl.deploy._prune import _without_units

    keras.utils.set_random_seed(1)
    cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                            keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                            keras.layers.Dense(6, activation="relu"),
                            keras.layers.Dense(10, activation="softmax")])
    conv, _, _, dense, _ = cnn.layers
    kernel, bias = conv.get_weights()
    kernel[..., 4:] = 0.0  # filters 4..7 carry nothing
    bias[4:] = 0.0
    kernel[..., :4] += 1.0  # and 0..3 have the larger norms
    conv.set_weights([kernel, bias])
    w, b = dense.get_weights()
    w[:, 3:], b[3:] = 0.0, 0.0  # units 3..5 too
    w[:, :3] += 1.0
    dense.set_weights([w, b])
    x = digits["x_val"][:50].reshape(-1, 8, 8, 1)
    smaller = _without_units(cnn, 0.5)
    assert smaller.layers[0].filters == 4 and smaller.layers[3].units == 3
    assert smaller.count_params() < cnn.count_params() / 2
    assert np.allclose(smaller.predict(x, verbose=0), cnn.predict(x, verbose=0), atol=1e-6)

    result = load_result("digits", digits["runs"])
    report = result.compress(digits["x_val"], digits["y_val"], quantize=[], prune=0.5,
                             structured=True, train=(digits["x"], digits["y"]), epochs=3,
                             output=digits["runs"] / "structured")
    base, small, lite = report.variants
    assert small.name == "structured 50%" and lite.name == "structured 50% tflite"
    units = result.best_trial.params["units"]
    assert keras.models.load_model(small.path).layers[0].units == -(-units // 2)
    assert small.params < 0.6 * base.params and small.size < base.size
    assert base.score - small.score <= 0.05 and lite.within


@pytest.mark.parametrize("verb", [["export", "--format", "keras", "--output"],
                                  ["export", "--bundle"], ["compress", "--output"]])
def test_a_path_that_cannot_be_written_is_a_message_naming_it(digits: dict[str, Any],
                                                              tmp_path: Path,
                                                              verb: list[str]) -> None:
    """Under a file (tests run as root in CI, so no permission can be refused): the CLI names
    the path and what to do, with no traceback, and writes nothing."""
    np.savez(tmp_path / "eval.npz", x=digits["x_val"], y=digits["y_val"])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / ("model.keras" if verb[-1] == "--output" and verb[0] == "export"
                        else "out")
    extra = ["--data", str(tmp_path / "eval.npz")] if verb[0] == "compress" else []
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_automl.cli", verb[0], "digits", *verb[1:], str(target),
         *extra, "--runs-dir", str(digits["runs"])],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is a file, not a folder" in done.stderr
    assert str(blocker) in done.stderr and "Traceback" not in done.stderr
    assert blocker.read_text() == "not a folder"
