"""A study's best model made ready to ship: exported to other formats, compressed (quantized,
pruned) and measured, written as a deployment bundle; ONNX files checked with onnxruntime, TFLite
files run by LiteRT where it is installed. The layer right below
:mod:`jupyter_automl.results`: deploy is handed a result (:class:`StudyResult`) and reads no
study itself.
Importing it imports neither TensorFlow, Keras nor Plotly; the functions do, when called."""

from ._bundle import write_bundle
from ._check import Checked
from ._compress import compress
from ._costs import COSTS, deployment_costs
from ._data import load_npz
from ._export import FORMATS, Exported, export
from ._files import tf_quiet
from ._formats import (
    EXPORT_FORMATS,
    Format,
    base_formats,
    bundle_files,
    export_format,
    format_choices,
    quantizable,
)
from ._litert import tflite_interpreter
from ._prune import prune_model, sparsity_of
from ._quantize import QUANTIZATIONS
from ._report import CompressionReport, Variant
from ._source import StudyResult, best_model_file

BUNDLE_FORMATS = FORMATS  # a bundle holds any of the formats --format names

__all__ = [
    "BUNDLE_FORMATS", "COSTS", "EXPORT_FORMATS", "FORMATS", "QUANTIZATIONS", "Checked",
    "CompressionReport", "Exported", "Format", "StudyResult", "Variant", "base_formats",
    "best_model_file", "bundle_files", "compress", "deployment_costs", "export", "export_format",
    "format_choices", "load_npz", "prune_model", "quantizable", "sparsity_of", "tf_quiet",
    "tflite_interpreter", "write_bundle",
]
