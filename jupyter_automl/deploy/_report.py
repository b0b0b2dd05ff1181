"""What compression reports: every variant of a model measured on the evaluation data, and
the float Keras model it came from.

For each: file size (and gzipped, which shows what zeros save), parameters and how many are
zero, the study's metric on the evaluation data (accuracy for class labels, else mean squared
error), latency per sample on this CPU (one thread for TFLite, the median of many runs), the
largest difference from the Keras model's outputs with the tolerance it must stay within, and
the share of samples where both predict the same class, and what ran it (Keras, or the TFLite
runtime :mod:`._litert` chooses: LiteRT's where installed). Every file is loaded back to be
measured.
"""

from __future__ import annotations

import gzip
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._files import size_text
from ._litert import open_tflite
from ._prune import zeros_of
from ._tflite import invoke

# the largest difference from the Keras model's outputs each variant (and each exported ONNX
# file) must stay within, for outputs between 0 and 1 (probabilities); scaled by the outputs'
# range otherwise
TOLERANCE = {"keras": 1e-5, "float32": 1e-4, "float16": 0.02, "dynamic": 0.1, "int8": 0.2,
             "onnx": 1e-4}
LATENCY_RUNS = 200  # timed single-sample predictions per variant, at least


@dataclass
class Variant:
    """One model of the report, measured on the evaluation data."""

    name: str
    kind: str  # keras, float32, dynamic, float16, int8 (what its tolerance is)
    path: str
    size: int  # bytes
    gzipped: int  # bytes, gzip level 9
    params: int
    zeros: int  # weights of Dense and convolution kernels that are exactly zero
    score: float  # the metric on the evaluation data
    latency_ms: float  # per sample, median
    max_diff: float  # largest |output - the Keras model's output|
    tolerance: float
    agreement: float  # share of samples whose predicted class is the Keras model's
    runtime: str = ""  # what ran it: "keras 3.15.1", "ai-edge-litert 2.3.0", ...

    @property
    def within(self) -> bool:
        return self.max_diff <= self.tolerance


@dataclass
class CompressionReport:
    """What :func:`~._compress.compress` made: the variants, the float Keras model first."""

    study: str
    trial: int
    metric: str  # "accuracy" (classes) or "mse"
    folder: str
    variants: list[Variant] = field(default_factory=list)

    @property
    def baseline(self) -> Variant:
        return self.variants[0]

    def rows(self) -> list[dict[str, Any]]:
        """Each variant with its deltas against the float Keras model."""
        base = self.baseline
        return [{**asdict(v), "within": v.within,
                 "size_ratio": v.size / base.size if base.size else math.nan,
                 "score_delta": v.score - base.score,
                 "latency_ratio": v.latency_ms / base.latency_ms if base.latency_ms else math.nan}
                for v in self.variants]

    def text(self) -> str:
        head = (f"compressed study {self.study!r} trial {self.trial} ({self.metric} on the "
                f"evaluation data; files in {self.folder})")
        columns = ("variant", "size", "gzipped", "params", "zeros", self.metric,
                   f"d {self.metric}", "ms/sample", "max diff", "same class")
        table = [columns]
        for row in self.rows():
            table.append((row["name"], size_text(row["size"]), size_text(row["gzipped"]),
                          f"{row['params']:,}", f"{row['zeros'] / max(1, row['params']):.0%}",
                          f"{row['score']:.4f}", f"{row['score_delta']:+.4f}",
                          f"{row['latency_ms']:.3f}",
                          f"{row['max_diff']:.2g}" + ("" if row["within"] else " (!)"),
                          f"{row['agreement']:.1%}"))
        widths = [max(len(str(r[i])) for r in table) for i in range(len(columns))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
        off = [v.name for v in self.variants if not v.within]
        note = ([f"(!) outside its tolerance: {', '.join(off)}"] if off else [])
        return "\n".join([head, *lines, *note, self.runtimes()])

    def runtimes(self) -> str:
        """What ran the variants: ``Keras models run by keras 3.15.1; TFLite files by
        ai-edge-litert 2.3.0``."""
        keras = dict.fromkeys(v.runtime for v in self.variants if v.kind == "keras")
        lite = dict.fromkeys(v.runtime for v in self.variants if v.kind != "keras")
        return "; ".join([*([f"Keras models run by {', '.join(keras)}"] if keras else []),
                          *([f"TFLite files by {', '.join(lite)}"] if lite else [])])

    def to_json(self) -> str:
        return json.dumps({"study": self.study, "trial": self.trial, "metric": self.metric,
                           "folder": self.folder, "variants": self.rows()}, indent=1)

    def figure(self) -> Any:
        """Size against the metric, a point per variant (Plotly)."""
        import plotly.graph_objects as go

        fig = go.Figure(layout={"title": {"text": f"Compression of {self.study!r}"},
                                "xaxis": {"title": {"text": "file size (KiB)"}},
                                "yaxis": {"title": {"text": self.metric}},
                                "template": "plotly_white", "height": 360})
        fig.add_scatter(x=[v.size / 1024 for v in self.variants],
                        y=[v.score for v in self.variants], mode="markers+text",
                        text=[v.name for v in self.variants], textposition="top center",
                        marker={"size": 11, "color": "#1f77b4"},
                        hovertemplate="%{text}: %{x:.1f} KiB, %{y:.4f}<extra></extra>")
        return fig

    def __repr__(self) -> str:
        return self.text()

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(HTML(f"<pre>{_escape(self.text())}</pre>"))
        fig = self.figure()
        display({"application/vnd.plotly.v1+json": fig.to_plotly_json(),
                 "text/plain": "<size vs accuracy chart>"}, raw=True)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


@dataclass(frozen=True)
class Evaluation:
    """The evaluation data and the float Keras model's outputs on it (``reference``): what
    every variant is measured against."""

    x: np.ndarray
    y: np.ndarray
    reference: np.ndarray
    metric: str  # "accuracy" (classes) or "mse"

    @classmethod
    def of(cls, model: Any, x: np.ndarray, y: np.ndarray) -> Evaluation:
        reference = predict(model, x)
        return cls(x, y, reference, "accuracy" if _is_classifier(reference, y) else "mse")

    def keras(self, name: str, path: Path, own: np.ndarray | None = None) -> Variant:
        """The Keras model saved at ``path``, loaded back. A model made from the float one
        (pruned) gives the ``own`` outputs it was saved with: its tolerance is against those,
        its agreement against the float model's."""
        from .._utils.process import import_keras

        keras = import_keras()
        loaded = keras.saving.load_model(path)
        again = predict(loaded, self.x)
        times = median_ms(lambda sample: loaded(sample[None], training=False), self.x)
        outputs = self.reference if own is None else own
        return Variant(name, "keras", str(path), _file_size(path), _gzipped(path),
                       *_counts(loaded), _score(again, self.y, self.metric), times,
                       float(np.max(np.abs(again - outputs))), tolerance("keras", outputs),
                       float(np.mean(_classes(again) == _classes(self.reference))),
                       f"keras {keras.__version__}")

    def tflite(self, name: str, path: Path, model: Any, kind: str,
               own: np.ndarray | None = None) -> Variant:
        """The TFLite file at ``path``, run by the interpreter on one thread; compared with the
        Keras ``model`` it was converted from (its ``own`` outputs, when that is not the
        float model). The runtime is the one :mod:`._litert` chooses."""
        opened, runtime = open_tflite(path, threads=1)
        outputs = np.stack([invoke(opened, sample) for sample in self.x])
        outputs = outputs.reshape((len(self.x), *self.reference.shape[1:]))
        times = median_ms(lambda sample: invoke(opened, sample), self.x)
        source = self.reference if own is None else own
        return Variant(name, kind, str(path), _file_size(path), _gzipped(path),
                       *_counts(model), _score(outputs, self.y, self.metric), times,
                       float(np.max(np.abs(outputs - source))), tolerance(kind, source),
                       float(np.mean(_classes(outputs) == _classes(self.reference))), runtime)


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0, batch_size=256))


def _is_classifier(outputs: np.ndarray, y: np.ndarray) -> bool:
    """Labels (whole numbers, one per sample) and class scores: accuracy is the metric."""
    whole = y.ndim == 1 and bool(np.all(np.mod(y, 1) == 0))
    return whole and (np.issubdtype(y.dtype, np.integer) or outputs.ndim == 2)


def _classes(outputs: np.ndarray) -> np.ndarray:
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return np.argmax(outputs, axis=-1)
    return (outputs.reshape(len(outputs), -1)[:, 0] > 0.5).astype(int)


def _score(outputs: np.ndarray, y: np.ndarray, metric: str) -> float:
    if metric == "accuracy":
        return float(np.mean(_classes(outputs) == y.astype(int)))
    return float(np.mean((outputs.reshape(len(y), -1) - y.reshape(len(y), -1)) ** 2))


def _counts(model: Any) -> tuple[int, int]:
    """Parameters, and the zero weights of its Dense and convolution kernels."""
    return int(sum(np.prod(w.shape) for w in model.weights)), zeros_of(model)


def tolerance(kind: str, reference: np.ndarray) -> float:
    """The largest difference from ``reference`` (the Keras model's outputs) a ``kind`` of
    model may show: :data:`TOLERANCE`, scaled by the outputs' range when it is over 1."""
    spread = float(np.max(reference) - np.min(reference)) if reference.size else 1.0
    return TOLERANCE[kind] * max(1.0, spread)


def median_ms(run: Callable[[np.ndarray], object], x: np.ndarray) -> float:
    """The median milliseconds of ``run`` on one sample, over ``LATENCY_RUNS`` runs (after a
    few to warm up)."""
    for i in range(5):
        run(x[i % len(x)])
    times = []
    for i in range(LATENCY_RUNS):
        sample = x[i % len(x)]
        start = time.perf_counter()
        run(sample)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _file_size(path: Path) -> int:
    return path.stat().st_size


def _gzipped(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))
