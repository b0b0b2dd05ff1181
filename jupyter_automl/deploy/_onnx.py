"""ONNX, written by Keras 3's own export (``model.export(path, format="onnx")``, through
tf2onnx on the TensorFlow backend) and checked before it is kept: the file is run with
onnxruntime on sample inputs and compared with the Keras model (:mod:`._check`); a file
that differs is not written. Its packages come with ``pip install 'jupyter-automl[onnx]'``.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np

from ..errors import AutomlError
from ._check import Checked, compare, flat, keras_outputs, sample_inputs
from ._files import as_automl_error, write_file
from ._keras import ModelFile

NEEDS = ("onnx", "tf2onnx", "onnxruntime")  # Keras's export runs tf2onnx; the check, onnxruntime
INSTALL = "pip install 'jupyter-automl[onnx]'"


def require_onnx() -> None:
    """Nothing, or an error naming the packages ONNX export needs and how to install them
    (asked before a model is loaded or a study opened)."""
    missing = [name for name in NEEDS if not _installed(name)]
    if missing:
        raise AutomlError(f"the ONNX format needs the packages {', '.join(NEEDS)}; "
                          f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                          f"installed: {INSTALL}")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # an import blocked, or a module without a spec
        return False


def write_onnx(source: ModelFile, target: Path) -> Checked:
    """The ONNX file of ``source``'s model, written only once onnxruntime's outputs on
    sample inputs match the Keras model's; what the check found."""
    require_onnx()
    model = source.model
    inputs = sample_inputs(model)
    expected = keras_outputs(model, inputs)
    found: list[Checked] = []

    def write(tmp: str) -> None:
        with as_automl_error("the ONNX export failed"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
            model.export(tmp, format="onnx", verbose=False)
        checked = compare("onnx", *run_onnx(Path(tmp), inputs), expected)
        if not checked.within:
            raise AutomlError(f"the ONNX file differs from the Keras model: max abs difference "
                              f"{checked.max_diff:.3g} on {checked.samples} random inputs, "
                              f"over the tolerance {checked.tolerance:.3g}; nothing was "
                              "written (the SavedModel or TFLite format may serve instead)")
        found.append(checked)

    write_file(target, write)
    return found[0]


def run_onnx(path: Path, inputs: list[np.ndarray]) -> tuple[str, np.ndarray]:
    """The ONNX file at ``path`` run by onnxruntime (on the CPU) on ``inputs``: the runtime's
    name and the outputs, flattened as :func:`._check.flat` does Keras's."""
    import onnxruntime as ort

    with as_automl_error("onnxruntime cannot run the ONNX file"):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {spec.name: x for spec, x in zip(session.get_inputs(), inputs)}
        return f"onnxruntime {ort.__version__}", flat(session.run(None, feed))
