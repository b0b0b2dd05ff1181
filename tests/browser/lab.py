"""A throwaway JupyterLab server for the browser test.

Everything it reads or writes (config, settings, workspaces, runtime files, IPython profile)
lives in one temporary folder, so neither the user's setup nor a previous run changes what the
browser sees. The token is random, reaches the server through ``JUPYTER_TOKEN`` (never the
command line, so ``ps`` does not show it) and is masked in the log this module hands back.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

# JupyterLab settings (JUPYTERLAB_SETTINGS_DIR): no news or update checks (there is no
# internet, and their toasts cover the page), and every cell rendered (no windowing), so the
# output under the last cell is laid out whatever the scroll position.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# A page script: the open notebook has its kernel idle and its ``cells`` rendered
# (``window.jupyterapp``: the server runs with LabApp.expose_app_in_browser).
NOTEBOOK_READY = """(cells) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const ctx = panel && panel.sessionContext;
  const kernel = ctx && ctx.session && ctx.session.kernel;
  return !!(kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected'
            && panel.content && panel.content.widgets.length === cells);
}"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of code cells, with the python3 kernelspec (so Lab asks no question)."""
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [{"cell_type": "code", "id": f"cell-{i}", "metadata": {},
                   "execution_count": None, "outputs": [], "source": source}
                  for i, source in enumerate(cells)],
    }
    path.write_text(json.dumps(notebook, indent=1))


class LabServer:
    """``python -m jupyterlab`` on 127.0.0.1 with a random token; ``stop`` ends it and its
    kernels (kernels run in sessions of their own, so they are tracked by pid, not group)."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root, self.home = root, home
        self.token = secrets.token_urlsafe(24)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"
        self._known: dict[int, psutil.Process] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        for attempt in range(3):  # the free port can be taken between the probe and the bind
            self.port = free_port()
            self._spawn()
            try:
                self._wait_ready(timeout)
                return
            except RuntimeError:
                if attempt == 2 or "already in use" not in self.log():
                    raise
                self.stop()

    def _spawn(self) -> None:
        for sub in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        for name, value in SETTINGS.items():
            path = self.home / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        # The kernel sees what a person's kernel sees: no PYTEST_CURRENT_TEST (with it,
        # ipykernel leaves the process's own stderr out of the notebook), no headless flag.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PYTEST_")
               and k not in ("JUPYTER_AUTOML_HEADLESS", "JUPYTER_TOKEN", "JPY_PARENT_PID")}
        env.update({
            "JUPYTER_TOKEN": self.token,
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_DATA_DIR": str(self.home / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
            "IPYTHONDIR": str(self.home / "ipython"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        })
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
               "--ServerApp.port_retries=0", f"--ServerApp.root_dir={self.root}",
               "--LabApp.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly"]
        if os.geteuid() == 0:  # CI containers run as root
            cmd.append("--ServerApp.allow_root=True")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n"
                                   f"{self.log()[-3000:]}")
            try:
                self.api("status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.25)
        raise RuntimeError(f"jupyter lab did not answer in {timeout}s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        """Shut the kernels down through the API, then the server; kill what is left."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        self.track()
        if proc.poll() is None:
            try:
                for kernel in self.api("kernels"):
                    self.api(f"kernels/{kernel['id']}", method="DELETE", timeout=10)
            except Exception:  # the server may be unusable; the signals below still apply
                pass
            proc.send_signal(signal.SIGTERM)  # jupyter_server stops its kernels on SIGTERM
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        leftovers = [p for p in self._known.values() if p.is_running()]
        for p in leftovers:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(leftovers, timeout=10)

    def track(self) -> None:
        """Remember the server's descendants (kernels), to kill any that outlive it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self._known.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass

    def descendants(self) -> list[psutil.Process]:
        return [p for p in self._known.values() if p.is_running()]

    # -- access ------------------------------------------------------------------------------
    def api(self, path: str, method: str = "GET", timeout: float = 5, under: str = "api") -> Any:
        """``path`` of the server's REST API (``under`` another route: ``jupyter-automl/api``)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/{under}/{path}",
                                         method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, path: str) -> str:
        """The browser's address of ``path`` (with the token: keep it out of messages)."""
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def redact(self, text: str) -> str:
        return text.replace(self.token, "<token>")

    def log(self) -> str:
        try:
            return self.redact(self.log_path.read_text(errors="replace"))
        except OSError:
            return ""


def in_lab(tmp_path: Path, notebook: str, cells: list[str], check: Any, failure: Path,
           viewport: tuple[int, int] | None = None) -> tuple[Any, list[str]]:
    """Open ``cells`` as ``notebook`` in a throwaway JupyterLab in headless Chromium and return
    what ``check(page, server, t0)`` returns (``t0``: before the server started), with the
    page's errors (``pageerror: ...``, ``console: ...``). A failing check screenshots the page
    to ``failure`` and says the page's errors and the server's log. The server's processes
    (its kernels included) must not outlive it."""
    from playwright.sync_api import sync_playwright

    from .chromium import launch
    from .require import chromium_path, has_module, require_or_skip

    require_or_skip(has_module("playwright"),
                    "the playwright package is missing (pip install -e '.[test]')")
    chromium = chromium_path()
    require_or_skip(chromium, "chromium is missing (apt-get install chromium)")
    assert chromium is not None
    root, home = tmp_path / "lab", tmp_path / "home"
    root.mkdir()
    write_notebook(root / notebook, cells)
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.unlink(missing_ok=True)
    server = LabServer(root, home)
    problems: list[str] = []
    t0 = time.monotonic()
    try:
        server.start()
        with sync_playwright() as pw:
            context = launch(pw, chromium, home / "chromium")
            try:
                page = context.new_page()
                if viewport is not None:
                    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
                page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
                page.on("console", lambda msg: problems.append(f"console: {msg.text}")
                        if msg.type == "error" else None)
                try:
                    result = check(page, server, t0)
                except Exception as exc:
                    try:
                        page.screenshot(path=str(failure), full_page=True)
                    except Exception as shot:  # a crashed page: the first error matters
                        problems.append(f"no failure screenshot: {shot}")
                    log = "\n".join(server.redact(p) for p in problems[-20:])
                    raise AssertionError(
                        f"{server.redact(str(exc))}\n-- page errors --\n{log}\n"
                        f"-- server log --\n{server.log()[-3000:]}\n"
                        f"(page screenshot: {failure})") from None
                finally:
                    server.track()
            finally:
                context.close()
    finally:
        server.stop()
    assert not server.descendants(), "the server's processes outlived it"
    return result, problems
