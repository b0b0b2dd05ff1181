"""``predict.py``, the script a deployment bundle ships: it loads the bundle's model without
jupyter_automl (Keras and SavedModel with TensorFlow, TFLite with LiteRT, ONNX with
onnxruntime alone) and predicts on an ``.npy`` file. It is written from :data:`PREDICT`, with
the file names of the format table (:mod:`._formats`), the bundle's first format as its
default, and the TFLite runtime chosen as the library chooses it (:mod:`._litert`'s function,
copied in).
"""

from __future__ import annotations

from ._formats import EXPORT_FORMATS
from ._litert import source

LOADERS = ("keras", "savedmodel", "onnx", "tflite")  # the formats the script's load() knows


def predict_script(default: str) -> str:
    """The script's text, ``--format`` defaulting to ``default``."""
    files = {name: EXPORT_FORMATS[name].file for name in LOADERS}
    return (PREDICT.replace("__DEFAULT__", default).replace("__FILES__", repr(files))
            .replace("__CHOICES__", "|".join(LOADERS))
            .replace("__TFLITE_INTERPRETER__\n", source()))


PREDICT = '''""\"Predict with this bundle's model on an .npy file.

    python predict.py inputs.npy [--format __CHOICES__] [--output out.npy]

The inputs are one array, samples first, shaped and typed as signature.json says. Each
format needs one runtime: keras and savedmodel TensorFlow; tflite the ai-edge-litert package
(or tflite-runtime, or TensorFlow); onnx the onnxruntime package. Which one ran is said on
stderr.
""\"

import argparse
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes
HERE = os.path.dirname(os.path.abspath(__file__))
FILES = __FILES__
ONNX_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32}


__TFLITE_INTERPRETER__


def tflite(path):
    interpreter, runtime = tflite_interpreter(path)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()

    def predict(x):
        rows = []
        for sample in x:
            value = sample[None].astype(np.float32)
            if inp["dtype"] != np.float32:
                scale, zero = inp["quantization"]
                info = np.iinfo(inp["dtype"])
                value = np.clip(np.round(value / scale + zero), info.min,
                                info.max).astype(inp["dtype"])
            interpreter.set_tensor(inp["index"], value)
            interpreter.invoke()
            result = interpreter.get_tensor(out["index"])[0]
            if out["dtype"] != np.float32:
                scale, zero = out["quantization"]
                result = (result.astype(np.float32) - zero) * scale
            rows.append(result)
        return np.stack(rows)
    return predict, runtime


def onnx(path):
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=ort.get_available_providers())
    (inp,) = session.get_inputs()
    dtype = ONNX_TYPES.get(inp.type, np.float32)
    return (lambda x: session.run(None, {inp.name: x.astype(dtype)})[0],
            f"onnxruntime {ort.__version__}")


def load(fmt):
    path = os.path.join(HERE, FILES[fmt])
    if fmt == "tflite":
        return tflite(path)
    if fmt == "onnx":
        return onnx(path)
    import tensorflow as tf
    if fmt == "savedmodel":
        loaded = tf.saved_model.load(path)  # kept: it owns the weights
        return (lambda x: np.asarray(loaded.serve(tf.constant(x.astype(np.float32)))),
                f"tensorflow {tf.__version__}")
    import keras
    model = keras.models.load_model(path)
    return lambda x: np.asarray(model.predict(x, verbose=0)), f"keras {keras.__version__}"


def main():
    parser = argparse.ArgumentParser(description="Predict with this bundle's model.")
    parser.add_argument("inputs", help="an .npy file of inputs, samples first")
    parser.add_argument("--format", default="__DEFAULT__", choices=tuple(FILES),
                        help="the model file to run (default: __DEFAULT__)")
    parser.add_argument("--output", default=None, help="write the predictions to this .npy")
    args = parser.parse_args()
    held = [f for f, name in FILES.items() if os.path.exists(os.path.join(HERE, name))]
    if args.format not in held:
        sys.exit(f"predict.py: this bundle holds no {FILES[args.format]}; give --format "
                 f"{' or '.join(held)}")
    with open(os.path.join(HERE, "signature.json")) as f:
        expected = json.load(f)["inputs"][0]["shape"][1:]
    x = np.load(args.inputs)
    if list(x.shape[1:]) != [d if d is not None else s for d, s in zip(expected, x.shape[1:])]:
        sys.exit(f"predict.py: inputs of shape {x.shape[1:]}, the model takes {expected}")
    predict, runtime = load(args.format)
    print(f"predict.py: the {args.format} model, run by {runtime}", file=sys.stderr)
    predictions = predict(x)
    if args.output:
        np.save(args.output, predictions)
    else:
        np.set_printoptions(precision=4, suppress=True)
        print(predictions)


if __name__ == "__main__":
    main()
'''
