"""``predict.py``, the script a deployment bundle ships: it loads the bundle's model with
nothing but TensorFlow (or the tflite-runtime package) and predicts on an ``.npy`` file. It is
written from :data:`PREDICT`, with the file names of the format table (:mod:`._formats`) and
the bundle's first format as its default.
"""

from __future__ import annotations

from ._formats import EXPORT_FORMATS

LOADERS = ("keras", "savedmodel", "tflite")  # the formats the script's load() knows


def predict_script(default: str) -> str:
    """The script's text, ``--format`` defaulting to ``default``."""
    files = {name: EXPORT_FORMATS[name].file for name in LOADERS}
    return (PREDICT.replace("__DEFAULT__", default).replace("__FILES__", repr(files))
            .replace("__CHOICES__", "|".join(LOADERS)))


PREDICT = '''"""Predict with this bundle's model on an .npy file; needs only TensorFlow (or,
for the TFLite file, the tflite-runtime package).

    python predict.py inputs.npy [--format __CHOICES__] [--output out.npy]

The inputs are one array, samples first, shaped and typed as signature.json says.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes
warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
HERE = os.path.dirname(os.path.abspath(__file__))
FILES = __FILES__


def load(fmt):
    if fmt == "tflite":
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf
            Interpreter = tf.lite.Interpreter
        interpreter = Interpreter(model_path=os.path.join(HERE, FILES["tflite"]))
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
        return predict
    import tensorflow as tf
    if fmt == "savedmodel":
        loaded = tf.saved_model.load(os.path.join(HERE, FILES["savedmodel"]))  # kept: it owns the
        return lambda x: np.asarray(loaded.serve(tf.constant(x.astype(np.float32))))  # weights
    import keras
    model = keras.models.load_model(os.path.join(HERE, FILES["keras"]))
    return lambda x: np.asarray(model.predict(x, verbose=0))


def main():
    parser = argparse.ArgumentParser(description="Predict with this bundle's model.")
    parser.add_argument("inputs", help="an .npy file of inputs, samples first")
    parser.add_argument("--format", default="__DEFAULT__",
                        choices=tuple(FILES))
    parser.add_argument("--output", default=None, help="write the predictions to this .npy")
    args = parser.parse_args()
    with open(os.path.join(HERE, "signature.json")) as f:
        expected = json.load(f)["inputs"][0]["shape"][1:]
    x = np.load(args.inputs)
    if list(x.shape[1:]) != [d if d is not None else s for d, s in zip(expected, x.shape[1:])]:
        sys.exit(f"predict.py: inputs of shape {x.shape[1:]}, the model takes {expected}")
    predictions = load(args.format)(x)
    if args.output:
        np.save(args.output, predictions)
    else:
        np.set_printoptions(precision=4, suppress=True)
        print(predictions)


if __name__ == "__main__":
    main()
'''
