"""A study's best model made ready to ship: exported to other formats, compressed (quantized,
pruned) and measured, written as a deployment bundle. Beside :mod:`jupyter_automl.results`,
never above it: deploy is handed a result (:class:`StudyResult`) and reads no study itself.
Importing it imports neither TensorFlow, Keras nor Plotly; the functions do, when called."""

from ._bundle import BUNDLE_FORMATS, write_bundle
from ._compress import compress
from ._data import load_npz
from ._export import FORMATS, Exported, check_format, export
from ._files import tf_quiet
from ._prune import prune_model, sparsity_of
from ._quantize import QUANTIZATIONS
from ._report import CompressionReport, Variant
from ._source import StudyResult, best_model_file

__all__ = [
    "BUNDLE_FORMATS", "FORMATS", "QUANTIZATIONS", "CompressionReport", "Exported", "StudyResult",
    "Variant", "best_model_file", "check_format", "compress", "export", "load_npz",
    "prune_model", "sparsity_of", "tf_quiet", "write_bundle",
]
