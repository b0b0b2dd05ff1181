"""Worker kernels on a real Jupyter Kernel Gateway on 127.0.0.1 with a token."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser.lab import free_port
from browser.require import has_module, require_or_skip
from conftest import study_of, wait_for

from jupyter_automl.workers.kernels import KernelError
from jupyter_automl.workers.kernels._gateway import TOKEN_ENV

pytestmark = pytest.mark.slow


class Gateway:
    def __init__(self, root: Path, token: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KG_AUTH_TOKEN": token}  # not on the command line
        env.pop("PYTEST_CURRENT_TEST", None)
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("jupyter-kernelgateway")),
             "--KernelGatewayApp.ip=127.0.0.1",
             f"--KernelGatewayApp.port={self.port}"], cwd=root, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._up, 180, "the kernel gateway")  # slow when the tests load every core

    def _up(self) -> bool:
        try:
            urllib.request.urlopen(self.url + "/api", timeout=2)
        except urllib.error.HTTPError:
            return True  # it answers (the token is checked later)
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    require_or_skip(has_module("kernel_gateway") and has_module("websocket"),
                    "jupyter_kernel_gateway and websocket-client are not installed")
    token = secrets.token_hex(16)
    monkeypatch.setenv(TOKEN_ENV, token)
    gw = Gateway(tmp_path, token)
    yield gw
    gw.stop()


def test_a_study_on_local_and_gateway_kernels(ip: Any, gateway: Gateway, tmp_path: Path,
                                              capsys: Any) -> None:
    # a kernel's first trial waits until the other kernel runs one too: however slowly one
    # starts (a loaded machine), both take trials (the gateway's kernels share this disk)
    ready = tmp_path / "ready"
    ready.mkdir()
    body = ('x = hp.float("x", -5, 5)\nimport os, time\n'
            f'open(os.path.join({str(ready)!r}, str(os.getpid())), "w").close()\n'
            'deadline = time.time() + 120\n'
            f'while len(os.listdir({str(ready)!r})) < 2 and time.time() < deadline:\n'
            '    time.sleep(0.1)\n'
            'time.sleep(0.5)\n(x - 1) ** 2 + offset')
    ip.run_cell_magic("automl_setup", "", "offset = 1")
    try:
        ip.run_cell_magic("automl", f"gw --trials 6 --kernels 1,gateway:{gateway.url}", body)
    finally:
        ip.magics_manager.registry["Automl"].setup_cells.clear()
    trials = study_of(tmp_path / "runs", "gw").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 6
    labels = {t.user_attrs["kernel"] for t in trials}
    assert labels == {"local kernel 0", f"gateway kernel 1 (127.0.0.1:{gateway.port})"}
    token = os.environ[TOKEN_ENV]
    assert token not in capsys.readouterr().out
    for path in (tmp_path / "runs").rglob("*"):
        assert not path.is_file() or token.encode() not in path.read_bytes()


def test_a_wrong_token_is_a_clear_error_before_any_trial(ip: Any, gateway: Gateway,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    with pytest.raises(KernelError, match=r"refused the token \(HTTP 40[13]\): check it in "
                                          r"JUPYTER_GATEWAY_AUTH_TOKEN"):
        ip.run_cell_magic("automl", f"tok --trials 3 --kernels gateway:{gateway.url}",
                          'hp.float("x", 0, 1)')
    assert study_of(tmp_path / "runs", "tok").trials == []


def test_an_unreachable_gateway_is_a_clear_error_before_any_trial(ip: Any,
                                                                 tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(KernelError, match=f"cannot reach the gateway at {url}"):
        ip.run_cell_magic("automl", f"off --trials 3 --kernels 1,gateway:{url}",
                          'hp.float("x", 0, 1)')
    assert study_of(tmp_path / "runs", "off").trials == []


def test_a_gateway_that_stops_mid_study_leaves_its_trials_to_the_others(
        ip: Any, gateway: Gateway, tmp_path: Path, capsys: Any) -> None:
    from jupyter_automl.engine import _background as background

    body = 'x = hp.float("x", -5, 5)\nimport time\ntime.sleep(1.0)\n(x - 1) ** 2'
    ip.run_cell_magic("automl", f"stopgw --trials 8 --kernels 1,gateway:{gateway.url} "
                                "--background", body)
    run = background.get("stopgw")
    wait_for(lambda: any(label.startswith("gateway") for label in run.runner.executor.running),
             120, "a trial on the gateway")
    gateway.stop()
    run.wait(300)
    trials = study_of(tmp_path / "runs", "stopgw").trials
    assert sum(t.state.name == "COMPLETE" for t in trials) == 8
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert failed and all("its kernel died" in t.user_attrs["failed_because"] for t in failed)
    assert "cannot be replaced" in capsys.readouterr().out
