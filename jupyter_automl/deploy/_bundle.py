"""A deployment bundle: a study's best model in the formats asked, with what the person who
deploys it needs: ``model_card.md`` (the study, the trial's parameters and metrics, the
compression report when there is one, the input and output signature, the preprocessing the
setup cells applied), ``signature.json`` (which also records how each file was checked and
which TFLite runtime read it), and ``predict.py``, which loads the model without
jupyter_automl (TensorFlow; LiteRT for TFLite; onnxruntime alone for ONNX) and predicts on an
``.npy`` file. The model files and their names come from the format table (:mod:`._formats`).

The bundle is written whole or not at all: staged next to its folder, then moved in.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import AutomlError
from ..version import __version__
from ._check import Checked
from ._files import size_of, size_text, tf_quiet
from ._formats import EXPORT_FORMATS, bundle_files
from ._keras import ModelFile
from ._litert import open_tflite
from ._predict import LOADERS, predict_script
from ._quantize import calibration_data
from ._source import StudyResult, best_model_file
from ._tflite import convert

MARKER = "signature.json"  # a folder with this file is a bundle, and may be replaced


def write_bundle(result: StudyResult, folder: str | Path, formats: list[str] | None = None,
                 quantize: bool | str = False, trial: int | None = None,
                 calibration: Any = None) -> Path:
    """Write the bundle of ``result``'s best model (or Pareto-front ``trial``) into
    ``folder``; an earlier bundle there is replaced, any other non-empty folder refused.

    ``quantize``: the TFLite file's quantization, ``True`` (or ``"dynamic"``: weights in 8
    bits) or ``"int8"`` (full integer with float inputs and outputs, its activations' ranges
    measured on ``calibration``, a few hundred typical inputs)."""
    if quantize not in (False, True, "dynamic", "int8"):
        raise AutomlError(f"quantize={quantize!r}: a bundle's TFLite file is quantized True "
                          "(or 'dynamic': weights in 8 bits) or 'int8' (full integer, with "
                          "calibration=x_sample)")
    if quantize == "int8" and calibration is None:
        raise AutomlError("quantize='int8' measures the activations' ranges on calibration "
                          "data: give calibration=x_sample, a few hundred typical inputs")
    rows = bundle_files(formats, bool(quantize))
    target = Path(folder).expanduser().absolute()
    if target.exists() and (not target.is_dir() or (any(target.iterdir())
                                                    and not (target / MARKER).exists())):
        raise AutomlError(f"--bundle {target} exists and is not a bundle: give a new or empty "
                          "folder (an earlier bundle there is replaced)")
    source, number = best_model_file(result, trial)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tf_quiet(), tempfile.TemporaryDirectory(dir=target.parent,
                                                 prefix=f".{target.name}.") as tmp:
        staged = Path(tmp) / "bundle"
        staged.mkdir()
        model = ModelFile(source)
        files, checks = {}, {}
        for name, row in rows.items():
            if quantize == "int8" and row.base == "tflite":
                data = convert(model.model, "int8", calibration_data(calibration, model.model))
                (staged / name).write_bytes(data)
            elif checked := row.write(model, staged / name):
                checks[name] = checked
            files[name] = size_of(staged / name)
        lite = next((staged / name for name, row in rows.items() if row.base == "tflite"), None)
        signature = _signature(model.model, lite, checks)
        (staged / MARKER).write_text(json.dumps(signature, indent=1))
        (staged / "predict.py").write_text(predict_script(next(iter(rows.values())).base))
        (staged / "model_card.md").write_text(_card(result, number, signature, files,
                                                     _QUANTIZED.get("dynamic" if quantize is True
                                                                    else str(quantize))))
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target


def _signature(model: Any, tflite: Path | None,
               checks: dict[str, Checked]) -> dict[str, Any]:
    """Inputs and outputs, with shapes (``null``: any size) and dtypes, for Keras and, when
    there is one, for the TFLite file (its dtypes may differ; read by the runtime named);
    and how the files that were checked against Keras were (``checked``)."""

    def tensors(items: Any) -> list[dict[str, Any]]:
        return [{"name": getattr(t, "name", f"tensor_{i}").split(":")[0],
                 "shape": [None if d is None else int(d) for d in t.shape],
                 "dtype": str(getattr(t, "dtype", "float32")).replace("<dtype: '", "")
                 .rstrip("'>")} for i, t in enumerate(items)]

    signature: dict[str, Any] = {"inputs": tensors(model.inputs),
                                 "outputs": tensors(model.outputs)}
    if tflite is not None:
        opened, runtime = open_tflite(tflite)
        signature["tflite"] = {
            side: [{"name": d["name"], "shape": [int(s) for s in d["shape_signature"]],
                    "dtype": d["dtype"].__name__} for d in details]
            for side, details in (("inputs", opened.get_input_details()),
                                  ("outputs", opened.get_output_details()))}
        signature["tflite"]["runtime"] = runtime
    if checks:
        signature["checked"] = {name: asdict(c) for name, c in checks.items()}
    return signature


_QUANTIZED = {"dynamic": "dynamic range (weights in 8 bits)",
              "int8": "full integer (weights and activations in 8 bits; float inputs and "
                      "outputs)"}


def _card(result: StudyResult, number: int, signature: dict[str, Any],
          files: dict[str, int], quantized: str | None = None) -> str:
    spec = result.spec
    trial = next((t for t in result.study.get_trials(deepcopy=False) if t.number == number),
                 None)
    objectives = ", ".join(f"{o.get('direction')} {o.get('metric') or 'the value'}"
                           for o in spec.get("objectives", []))
    lines = [f"# Model card: study `{result.name}`, trial {number}", "",
             f"Written by jupyter-automl {__version__} on "
             f"{_dt.datetime.now():%Y-%m-%d %H:%M}.", "", "## The study", "",
             f"- objective: {objectives or 'minimize the value'}",
             f"- trials: {result.done} of {result.total}; sampler {spec.get('sampler')}, "
             f"pruner {spec.get('pruner')}"
             + (f", scheduler {spec['scheduler']['name']}" if spec.get("scheduler") else ""),
             f"- notebook: {spec.get('notebook') or 'unknown'}",
             f"- runs folder: `{result.paths.root}`", ""]
    if trial is not None:
        lines += ["## The model's trial", "", "| | |", "|---|---|"]
        values = list(trial.values or [])
        metrics = [o.get("metric") or "value" for o in spec.get("objectives", [])] or ["value"]
        lines += [f"| {m} | {v:.6g} |" for m, v in zip(metrics, values)]
        lines += [f"| `{k}` | {v!r} |" for k, v in trial.params.items()]
        lines.append("")
    lines += ["## Input and output", "", "| tensor | shape | dtype |", "|---|---|---|"]
    for side in ("inputs", "outputs"):
        for t in signature[side]:
            shape = "(" + ", ".join("batch" if d is None else str(d) for d in t["shape"]) + ")"
            lines.append(f"| {side[:-1]} `{t['name']}` | {shape} | {t['dtype']} |")
    if "tflite" in signature:
        lite = signature["tflite"]
        lines += ["", "The TFLite file takes "
                  + ", ".join(f"{t['dtype']} {tuple(t['shape'])}" for t in lite["inputs"])
                  + " and returns "
                  + ", ".join(f"{t['dtype']} {tuple(t['shape'])}" for t in lite["outputs"])
                  + f" (read by {lite['runtime']})."
                  + (f" It is quantized: {quantized}." if quantized else "")]
    lines += ["", "## Files", "", "| file | size |", "|---|---|"]
    lines += [f"| `{name}` | {size_text(size)} |" for name, size in files.items()]
    lines += ["| `predict.py` | predicts on an `.npy` file: `python predict.py inputs.npy` |",
              "| `signature.json` | the input and output tensors, as above |", ""]
    lines += [f"`{name}` was {Checked(**c).text()}." for name, c in
              signature.get("checked", {}).items()]
    lines += [""] if signature.get("checked") else []
    lines += _preprocessing(result)
    lines += _compression(result)
    held = [n for n in LOADERS if EXPORT_FORMATS[n].file in files]
    lines += ["## Use", "", "```bash",
              "python predict.py inputs.npy                   # the first format of this "
              "bundle", *([f"python predict.py inputs.npy --format {held[-1]}   # this bundle "
                           f"holds {', '.join(held)}"] if len(held) > 1 else []),
              "python predict.py inputs.npy --output predictions.npy", "```", "",
              "`predict.py` needs TensorFlow for the Keras and SavedModel files; the TFLite "
              "file runs on `ai-edge-litert` (or `tflite-runtime`, or TensorFlow), the ONNX "
              "file on `onnxruntime` alone.", ""]
    return "\n".join(lines)


def _preprocessing(result: StudyResult) -> list[str]:
    cells = sorted(result.paths.setup.glob("*.py")) if result.paths.setup.exists() else []
    lines = ["## Preprocessing", ""]
    if not cells:
        return [*lines, "The study recorded no setup cell (`%%automl_setup`): the model takes "
                "the data as the notebook gave it to `fit`.", ""]
    lines += ["The model takes its inputs as they were after the study's setup cells "
              "(`%%automl_setup`, recorded in the study's `setup/`); apply the same "
              "preprocessing to new data:", ""]
    for cell in cells:
        lines += ["```python", cell.read_text().rstrip(), "```", ""]
    return lines


def _compression(result: StudyResult) -> list[str]:
    report = result.paths.root / "compressed" / "report.json"
    if not report.exists():
        return []
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return []
    metric = data.get("metric", "score")
    runtimes = ", ".join(dict.fromkeys(v["runtime"] for v in data.get("variants", [])
                                       if v.get("runtime")))
    lines = ["## Compression", "", f"From `jupyter-automl compress` ({metric} on its "
             "evaluation data; latency per sample on the machine that measured it"
             + (f", run by {runtimes}" if runtimes else "") + "):", "",
             f"| variant | size | {metric} | ms/sample | same class as Keras |",
             "|---|---|---|---|---|"]
    for v in data.get("variants", []):
        lines.append(f"| {v['name']} | {size_text(v['size'])} | {v['score']:.4f} | "
                     f"{v['latency_ms']:.3f} | {v['agreement']:.1%} |")
    return [*lines, ""]
