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


OPENVINO = Format("openvino", "OpenVINO", "an OpenVINO IR file", "model.xml", ".xml", never)


@pytest.fixture
def openvino(monkeypatch: pytest.MonkeyPatch) -> Format:
    """The table with one more row, as a new format would add it."""
    monkeypatch.setitem(EXPORT_FORMATS, "openvino", OPENVINO)
    return OPENVINO


def cli(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    try:
        code = main(list(words))
    except SystemExit as exc:  # --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_takes_its_formats_from_the_table(openvino: Format, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "export", "--help")
    assert code == 0
    assert "--format keras|savedmodel|onnx|tflite|openvino" in out
    words = " ".join(out.split())
    assert "openvino: an OpenVINO IR file" in words
    assert "onnx: an ONNX file (Keras's export; checked by running it with onnxruntime" in words
    assert "tflite only: dynamic-range quantization" in words
    code, _, err = cli(capsys, "export", "quad", "--format", "bogus", "--runs-dir",
                       str(tmp_path))
    assert code == 2
    assert "--format: give one of keras, savedmodel, onnx, tflite, openvino (not 'bogus')" in err


def test_the_servers_listing_offers_every_row_with_its_label(openvino: Format) -> None:
    listed = format_choices()
    assert [c["id"] for c in listed] == ["keras", "savedmodel", "onnx", "tflite",
                                         "tflite-quant", "openvino"]
    assert listed[-1] == {"id": "openvino", "label": "OpenVINO"}
    assert all(c["label"] for c in listed)


def test_the_bundle_names_its_files_from_the_table(openvino: Format,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    files = bundle_files(None, quantize=False)
    # ONNX needs packages of its own (the onnx extra): a bundle holds it when it is named
    assert list(files) == ["model.keras", "savedmodel", "model.tflite", "model.xml"]
    assert files["model.xml"] is openvino
    assert list(bundle_files(["onnx", "keras"], quantize=False)) == ["model.onnx",
                                                                    "model.keras"]
    # quantized, the TFLite file keeps its name (predict.py reads it) and its writer changes
    quantized = bundle_files(["tflite", "keras"], quantize=True)
    assert list(quantized) == ["model.tflite", "model.keras"]
    assert quantized["model.tflite"] is EXPORT_FORMATS["tflite-quant"]
    with pytest.raises(AutomlError, match=r"unknown bundle format 'h5'; use keras, savedmodel, "
                                          r"onnx, tflite, openvino \(comma-separated\)"):
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
    with pytest.raises(AutomlError, match="unknown export format 'h5'; use one of keras, "
                                          "savedmodel, onnx, tflite, tflite-quant"):
        export_format("h5")
    names = {row.name: output_path(tmp_path, "digits", row, trial=3).name
             for row in EXPORT_FORMATS.values()}
    assert names == {"keras": "digits-trial3.keras", "savedmodel": "digits-trial3_savedmodel",
                     "onnx": "digits-trial3.onnx", "tflite": "digits-trial3.tflite",
                     "tflite-quant": "digits-trial3-quant.tflite"}
    with pytest.raises(AutomlError, match="must end in .keras"):
        output_path(tmp_path / "model.h5", "digits", EXPORT_FORMATS["keras"])


def test_importing_deploy_imports_no_heavy_module() -> None:
    code = ("import sys\nimport jupyter_automl.deploy, jupyter_automl.results\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'plotly', 'onnx', 'tf2onnx',\n"
            "                     'onnxruntime', 'ai_edge_litert') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("blocked", [("onnxruntime",), ("onnx", "tf2onnx")])
def test_onnx_without_its_packages_says_how_to_install_them(
        blocked: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Said before a study is opened or a model loaded: by export, the bundle and the CLI."""
    for name in blocked:  # what Python's import does for a module that is not there
        monkeypatch.setitem(sys.modules, name, None)
    said = (f"the ONNX format needs the packages onnx, tf2onnx, onnxruntime; "
            f"{', '.join(blocked)} {'is' if len(blocked) == 1 else 'are'} not installed: "
            "pip install 'jupyter-automl[onnx]'")
    with pytest.raises(AutomlError) as info:
        export_format("onnx")
    assert str(info.value) == said
    with pytest.raises(AutomlError, match=r"the ONNX format needs"):
        bundle_files(["keras", "onnx"], quantize=False)
    assert list(bundle_files(None, quantize=False)) == ["model.keras", "savedmodel",
                                                        "model.tflite"]
    code, _, err = cli(capsys, "export", "quad", "--format", "onnx", "--runs-dir",
                       str(tmp_path))
    assert code != 0 and said in err


def test_predict_py_carries_the_libraries_choice_of_tflite_runtime() -> None:
    """One home for the choice: predict.py defines the very function the library calls."""
    import inspect

    from jupyter_automl.deploy._litert import tflite_interpreter

    script = predict_script("onnx")
    assert inspect.getsource(tflite_interpreter) in script
    assert 'default="onnx"' in script and "'onnx': 'model.onnx'" in script
    compile(script, "predict.py", "exec")
