"""The export formats are one table (``jupyter_automl.deploy.EXPORT_FORMATS``): the CLI's
``export --format`` (help, choices, errors), the server's listing of the sidebar's choices, the
bundle's files and ``predict.py`` all follow a row added to it. Nothing here imports
TensorFlow."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_automl.cli import main
from jupyter_automl.deploy import (
    EXPORT_FORMATS,
    Format,
    bundle_files,
    export_format,
    format_choices,
)
from jupyter_automl.deploy._export import output_path
from jupyter_automl.deploy._predict import predict_script
from jupyter_automl.errors import AutomlError


def never(source: Any, target: Path) -> None:
    raise AssertionError("nothing is written here")


ONNX = Format("onnx", "ONNX", "an ONNX file", "model.onnx", ".onnx", never)


@pytest.fixture
def onnx(monkeypatch: pytest.MonkeyPatch) -> Format:
    """The table with one more row, as a new format would add it."""
    monkeypatch.setitem(EXPORT_FORMATS, "onnx", ONNX)
    return ONNX


def cli(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    try:
        code = main(list(words))
    except SystemExit as exc:  # --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_takes_its_formats_from_the_table(onnx: Format, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "export", "--help")
    assert code == 0
    assert "--format keras|savedmodel|tflite|onnx" in out
    assert "onnx: an ONNX file" in " ".join(out.split())
    assert "tflite only: dynamic-range quantization" in " ".join(out.split())
    code, _, err = cli(capsys, "export", "quad", "--format", "bogus", "--runs-dir",
                       str(tmp_path))
    assert code == 2
    assert "--format: give one of keras, savedmodel, tflite, onnx (not 'bogus')" in err


def test_the_servers_listing_offers_every_row_with_its_label(onnx: Format) -> None:
    listed = format_choices()
    assert [c["id"] for c in listed] == ["keras", "savedmodel", "tflite", "tflite-quant",
                                         "onnx"]
    assert listed[-1] == {"id": "onnx", "label": "ONNX"}
    assert all(c["label"] for c in listed)


def test_the_bundle_names_its_files_from_the_table(onnx: Format,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    files = bundle_files(None, quantize=False)
    assert list(files) == ["model.keras", "savedmodel", "model.tflite", "model.onnx"]
    assert files["model.onnx"] is onnx
    # quantized, the TFLite file keeps its name (predict.py reads it) and its writer changes
    quantized = bundle_files(["tflite", "keras"], quantize=True)
    assert list(quantized) == ["model.tflite", "model.keras"]
    assert quantized["model.tflite"] is EXPORT_FORMATS["tflite-quant"]
    with pytest.raises(AutomlError, match=r"unknown bundle format 'h5'; use keras, savedmodel, "
                                          r"tflite, onnx \(comma-separated\)"):
        bundle_files(["keras", "h5"], quantize=False)
    with pytest.raises(AutomlError, match="--quantize applies to the tflite format: add "
                                          "tflite to --format"):
        bundle_files(["keras", "onnx"], quantize=True)
    keras = EXPORT_FORMATS["keras"]
    monkeypatch.setitem(EXPORT_FORMATS, "keras", dataclasses.replace(keras, file="n.keras"))
    script = predict_script("tflite")
    assert "'keras': 'n.keras'" in script and 'default="tflite"' in script
    compile(script, "predict.py", "exec")


def test_a_row_says_where_export_writes_and_what_quantize_picks(tmp_path: Path) -> None:
    assert export_format("tflite", quantize=True) is EXPORT_FORMATS["tflite-quant"]
    assert export_format("tflite-quant") is EXPORT_FORMATS["tflite-quant"]
    with pytest.raises(AutomlError, match="--quantize applies to --format tflite only, not "
                                          "'keras'"):
        export_format("keras", quantize=True)
    with pytest.raises(AutomlError, match="unknown export format 'onnx'; use one of keras, "
                                          "savedmodel, tflite, tflite-quant"):
        export_format("onnx")
    names = {row.name: output_path(tmp_path, "digits", row, trial=3).name
             for row in EXPORT_FORMATS.values()}
    assert names == {"keras": "digits-trial3.keras", "savedmodel": "digits-trial3_savedmodel",
                     "tflite": "digits-trial3.tflite",
                     "tflite-quant": "digits-trial3-quant.tflite"}
    with pytest.raises(AutomlError, match="must end in .keras"):
        output_path(tmp_path / "model.h5", "digits", EXPORT_FORMATS["keras"])


def test_importing_deploy_imports_no_heavy_module() -> None:
    code = ("import sys\nimport jupyter_automl.deploy, jupyter_automl.results\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'plotly') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
