"""The Jupyter server extension behind JupyterLab's AutoML sidebar, against a real Jupyter
server (pytest-jupyter's ``jp_fetch``): the listing, one study, Stop of a study running in
another process, export, optuna-dashboard inside the server, and what is refused (no token,
paths out of the root, a POST without its XSRF token)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from digits import CODE as DIGITS
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

QUADRATIC = 'x = hp.float("x", -5, 5)\n(x - 1) ** 2\n'


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_automl": True}}}


def make_study(root: Path, folder: str, name: str, trials: int = 3,
               notebook: str | None = None) -> Path:
    from jupyter_automl import run_study

    runs = root / folder
    old = os.environ.pop("JPY_SESSION_NAME", None)
    if notebook is not None:
        os.environ["JPY_SESSION_NAME"] = str(root / notebook)
    try:
        run_study(QUADRATIC, f"{name} --trials {trials} --seed 0 --runs-dir {runs}", {},
                  listeners=[])
    finally:
        os.environ.pop("JPY_SESSION_NAME", None)
        if old is not None:
            os.environ["JPY_SESSION_NAME"] = old
    return runs / name


async def get_json(jp_fetch: Any, *parts: str) -> Any:
    response = await jp_fetch("jupyter-automl", *parts)
    return json.loads(response.body)


async def test_the_listing_finds_every_study_under_the_root(jp_fetch: Any,
                                                            jp_root_dir: Path) -> None:
    make_study(jp_root_dir, "project/automl_runs", "digits", notebook="project/tune.ipynb")
    make_study(jp_root_dir, "automl_runs", "plain", trials=2)
    (jp_root_dir / "project" / "node_modules" / "automl_runs").mkdir(parents=True)
    listed = await get_json(jp_fetch, "api", "studies")
    studies = {s["id"]: s for s in listed["studies"]}
    assert set(studies) == {"project/automl_runs/digits", "automl_runs/plain"}
    digits = studies["project/automl_runs/digits"]
    assert digits["name"] == "digits" and digits["folder"] == "project/automl_runs"
    assert digits["notebook"] == "project/tune.ipynb"
    assert digits["command"] == "jupyter-automl run project/tune.ipynb"
    assert digits["state"] == "finished" and (digits["done"], digits["total"]) == (3, 3)
    assert digits["complete"] == 3 and digits["failed"] == digits["running"] == 0
    assert digits["best_value"] == min(t["value"] for t in (await get_json(
        jp_fetch, "api", "studies", "project/automl_runs/digits"))["trials"])
    assert set(digits["best_params"]) == {"x"} and digits["updated"]
    assert studies["automl_runs/plain"]["notebook"] is None
    # the sidebar's export choices: deploy's format table, ids and labels
    assert [f["id"] for f in listed["formats"]] == ["keras", "savedmodel", "onnx", "tflite",
                                                    "tflite-quant"]
    labels = [f["label"] for f in listed["formats"]]
    assert all(labels) and len(set(labels)) == len(labels) and "quantized" in labels[-1]


async def test_the_listing_offers_what_the_format_table_holds(jp_fetch: Any,
                                                             monkeypatch: Any) -> None:
    import dataclasses

    from jupyter_automl.deploy import EXPORT_FORMATS

    h5 = dataclasses.replace(EXPORT_FORMATS["keras"], name="h5", label="HDF5 (legacy Keras)")
    monkeypatch.setitem(EXPORT_FORMATS, "h5", h5)
    listed = await get_json(jp_fetch, "api", "studies")
    assert listed["formats"][-1] == {"id": "h5", "label": "HDF5 (legacy Keras)"}


async def test_one_study_has_the_rows_of_its_result(jp_fetch: Any, jp_root_dir: Path) -> None:
    from jupyter_automl import result

    folder = make_study(jp_root_dir, "automl_runs", "rows")
    detail = await get_json(jp_fetch, "api", "studies", "automl_runs/rows")
    expected = list(result("rows", str(folder.parent)).trials)
    assert detail["columns"] == list(expected[0])
    assert [row["params"] for row in detail["trials"]] == [row["params"] for row in expected]
    assert detail["study"]["id"] == "automl_runs/rows"


@pytest.mark.parametrize("path", ["..%2F..%2Fetc", "%2Fetc%2Fpasswd", "automl_runs%2F..%2F..",
                                  "outside"])
async def test_paths_out_of_the_root_are_refused(jp_fetch: Any, jp_root_dir: Path,
                                                  tmp_path: Path, path: str) -> None:
    elsewhere = make_study(tmp_path / "elsewhere", "automl_runs", "secret")
    (jp_root_dir / "outside").symlink_to(elsewhere, target_is_directory=True)
    for route in (("api", "studies"), ("dashboard",)):
        url = "/".join(("jupyter-automl", *route, path))
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(url)
        assert info.value.code in (403, 404), url
    listed = await get_json(jp_fetch, "api", "studies")
    assert listed["studies"] == []  # the link out is not followed either


async def test_every_route_needs_jupyter_s_token(jp_fetch: Any, jp_root_dir: Path,
                                                 jp_base_url: str, jp_http_port: int) -> None:
    make_study(jp_root_dir, "automl_runs", "locked")
    client = AsyncHTTPClient()
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-automl/"
    for path, method in (("api/studies", "GET"), ("api/studies/automl_runs/locked", "GET"),
                         ("dashboard/automl_runs/locked/", "GET"),
                         ("dashboard/automl_runs/locked/api/studies", "GET"),
                         ("api/studies/automl_runs/locked/stop", "POST")):
        response = await client.fetch(base + path, method=method, raise_error=False,
                                      body=b"{}" if method == "POST" else None,
                                      follow_redirects=False)
        assert response.code == 403, (path, response.code)


async def test_a_post_with_the_cookie_but_without_xsrf_is_refused(
        jp_fetch: Any, jp_root_dir: Path, jp_base_url: str, jp_http_port: int,
        jp_serverapp: Any) -> None:
    make_study(jp_root_dir, "automl_runs", "xsrf")
    client = AsyncHTTPClient()
    root = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    token = jp_serverapp.identity_provider.token
    login = await client.fetch(f"{root}?token={token}", follow_redirects=False,
                               raise_error=False)
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert "username-" in cookies
    url = f"{root}jupyter-automl/api/studies/automl_runs/xsrf/stop"
    refused = await client.fetch(url, method="POST", body=b"{}", raise_error=False,
                                 headers={"Cookie": cookies})
    assert refused.code == 403 and b"xsrf" in refused.body.lower()
    xsrf = [c.split("=", 1)[1] for c in cookies.split("; ") if c.startswith("_xsrf=")][0]
    passed = await client.fetch(url, method="POST", body=b"{}", raise_error=False,
                                headers={"Cookie": cookies, "X-XSRFToken": xsrf})
    assert passed.code == 409  # through the check: the study is not running


async def test_the_dashboard_is_served_inside_the_server(jp_fetch: Any,
                                                         jp_root_dir: Path) -> None:
    make_study(jp_root_dir, "nb/automl_runs", "dash")
    response = await jp_fetch("jupyter-automl", "dashboard", "nb/automl_runs/dash", "")
    assert response.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    text = response.body.decode()
    assert "/jupyter-automl/dashboard/nb/automl_runs/dash/static/bundle.js" in text
    assert 'data-start="/dashboard/studies/' in text and "automl-shim.js" in text
    meta = await get_json(jp_fetch, "dashboard", "nb/automl_runs/dash", "api", "meta")
    assert "plotlypy_is_available" in meta
    studies = await get_json(jp_fetch, "dashboard", "nb/automl_runs/dash", "api", "studies")
    assert [s["study_name"] for s in studies["study_summaries"]] == ["dash"]
    bundle = await jp_fetch("jupyter-automl", "dashboard", "nb/automl_runs/dash", "static",
                            "bundle.js")
    assert len(bundle.body) > 1_000_000
    shim = await jp_fetch("jupyter-automl", "dashboard", "nb/automl_runs/dash",
                          "automl-shim.js")
    assert b"window.fetch" in shim.body
    assert shim.headers["Content-Type"].startswith("text/javascript")


async def test_a_slow_dashboard_request_leaves_the_server_answering(
        jp_fetch: Any, jp_root_dir: Path, jp_web_app: Any) -> None:
    folder = make_study(jp_root_dir, "automl_runs", "slow")

    def slow_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        time.sleep(3)  # a dashboard computing a big study, holding its thread
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    apps = jp_web_app.settings["jupyter_automl_dashboards"]
    apps._apps[folder.resolve()] = (slow_app, "/dashboard")
    started = time.monotonic()
    slow = asyncio.ensure_future(jp_fetch("jupyter-automl", "dashboard", "automl_runs/slow",
                                          "api", "studies"))
    await asyncio.sleep(0.2)
    kernels = await jp_fetch("api", "kernels")
    answered = time.monotonic() - started
    assert kernels.code == 200 and not slow.done()
    assert answered < 2.5  # the server answered while the dashboard's thread slept
    assert (await slow).code == 200


KERAS_STUDY = '''
import sys, time
import numpy as np
import keras
from jupyter_automl import run_study
''' + DIGITS + '''class Slow(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(float(sys.argv[3]))
body = """
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(hp.int("units", 8, 16),
                          activation="relu"), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=int(sys.argv[2]), callbacks=[Slow()])
"""
run_study(body, f"keras --trials 2 --seed 0 --maximize val_accuracy --runs-dir {sys.argv[1]}",
          {"keras": keras, "x": x, "y": y, "Slow": Slow, "sys": sys}, listeners=[])
'''


def start_keras_study(runs: Path, epochs: int, pause: float) -> subprocess.Popen[str]:
    script = runs.parent / "keras_study.py"
    runs.mkdir(parents=True, exist_ok=True)
    script.write_text(textwrap.dedent(KERAS_STUDY))
    return subprocess.Popen([sys.executable, str(script), str(runs), str(epochs), str(pause)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


async def test_stop_reaches_a_study_running_in_another_process(jp_fetch: Any,
                                                               jp_root_dir: Path) -> None:
    import optuna

    runs = jp_root_dir / "automl_runs"
    process = start_keras_study(runs, epochs=30, pause=0.3)
    try:
        state = runs / "keras" / "trials" / "0" / "state.json"
        await asyncio.get_running_loop().run_in_executor(
            None, wait_for, state.exists, 120, "the study's first epoch")
        listed = await get_json(jp_fetch, "api", "studies")
        assert [s["state"] for s in listed["studies"]] == ["running"]
        stopped = await jp_fetch("jupyter-automl", "api", "studies", "automl_runs/keras",
                                 "stop", method="POST", body=b"{}")
        assert stopped.code == 202
        output, _ = await asyncio.get_running_loop().run_in_executor(
            None, lambda: process.communicate(timeout=60))
    finally:
        process.kill()
    assert "stopped" in output, output
    study = optuna.load_study(study_name="keras", storage=f"sqlite:///{runs}/keras/study.db")
    first = study.trials[0]
    # checkpointed at its epoch end and queued, as the panel's Stop does
    assert first.state.name == "FAIL" and first.user_attrs["failed_because"] == "stopped"
    assert [t.state.name for t in study.trials[1:]] == ["WAITING"]
    listed = await get_json(jp_fetch, "api", "studies")
    assert [s["state"] for s in listed["studies"]] == ["stopped"]
    with pytest.raises(HTTPClientError) as info:  # nothing to stop any more
        await jp_fetch("jupyter-automl", "api", "studies", "automl_runs/keras", "stop",
                       method="POST", body=b"{}")
    assert info.value.code == 409


async def test_export_writes_the_best_model_in_each_format(jp_fetch: Any,
                                                           jp_root_dir: Path) -> None:
    runs = jp_root_dir / "automl_runs"
    process = start_keras_study(runs, epochs=2, pause=0.0)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    for fmt, file_name in (("keras", "model.keras"), ("onnx", "model.onnx"),
                           ("tflite-quant", "model-quant.tflite")):
        response = await jp_fetch("jupyter-automl", "api", "studies", "automl_runs/keras",
                                  "export", method="POST", body=json.dumps({"format": fmt}),
                                  request_timeout=300)
        answer = json.loads(response.body)
        assert answer["path"] == f"automl_runs/keras/export/{file_name}"
        assert (jp_root_dir / answer["path"]).stat().st_size > 1000
        if fmt == "onnx":  # run with onnxruntime against Keras before it was written
            assert "checked against Keras with onnxruntime" in answer["said"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-automl", "api", "studies", "automl_runs/keras", "export",
                       method="POST", body=json.dumps({"format": "h5"}))
    assert info.value.code == 400


def test_the_listing_read_from_sqlite_agrees_with_optuna(tmp_path: Path, monkeypatch: Any) -> None:
    from jupyter_automl import _optuna, run_study
    from jupyter_automl.lab import Studies

    body = ('kind = hp.choice("kind", ["a", "b", "c"])\nn = hp.int("n", 1, 9)\n'
            'for step in range(3):\n    trial.report(n + step + ("abc".index(kind)))\n'
            'if n == 5:\n    raise ValueError("five")\n')
    runs = tmp_path / "automl_runs"
    try:
        run_study(body, f"mixed --trials 6 --seed 3 --pruner median --runs-dir {runs}", {},
                  listeners=[])
    except Exception:  # noqa: BLE001 - three failures in a row end it: its state is "failed"
        pass
    fast = Studies(tmp_path).list()
    monkeypatch.setattr(_optuna, "read_study", lambda *a, **k: (_ for _ in ()).throw(ValueError))
    slow = Studies(tmp_path).list()
    assert fast == slow and fast[0]["done"] > 0 and fast[0]["best_params"]["kind"] in "abc"


def test_the_listing_leaves_warm_start_observations_out(tmp_path: Path, monkeypatch: Any) -> None:
    from jupyter_automl import _optuna
    from jupyter_automl.lab import Studies

    runs = tmp_path / "automl_runs"
    make_study(tmp_path, "automl_runs", "small", trials=5)
    from jupyter_automl import run_study

    run_study(QUADRATIC, f"big --trials 2 --seed 1 --warm-start small --runs-dir {runs}", {},
              listeners=[])
    fast = {s["name"]: s for s in Studies(tmp_path).list()}
    monkeypatch.setattr(_optuna, "read_study", lambda *a, **k: (_ for _ in ()).throw(ValueError))
    slow = {s["name"]: s for s in Studies(tmp_path).list()}
    assert fast == slow
    assert (fast["big"]["done"], fast["big"]["complete"], fast["big"]["state"]) == (2, 2,
                                                                                   "finished")
