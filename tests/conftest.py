"""Fixtures: a real IPython shell with the extension loaded, and real Jupyter kernels."""

from __future__ import annotations

import os
import queue
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# postgres: the postgres_url fixture, a real server on 127.0.0.1; nbval_outputs: the tutorials
# nbval executes kept with their outputs in build/executed/, for the documentation site.
pytest_plugins = ["postgres", "nbval_outputs"]
JUPYTER_SERVER_PLUGIN = "pytest_jupyter.jupyter_server"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/lab runs against a Jupyter server from pytest-jupyter, whose autouse fixtures
    (an event loop closed after every test, a server clean-up) must not reach the other tests:
    ``make lab`` runs it in a pytest of its own, with ``-p pytest_jupyter.jupyter_server``."""
    if collection_path.name == "lab" and collection_path.parent.name == "tests":
        return not config.pluginmanager.has_plugin(JUPYTER_SERVER_PLUGIN)
    return None


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make real`` runs tests/integration and the tutorials (nbval) in one pool
    (``--dist loadscope``): each tutorial's cells stay in one process, in order, and every
    other test is a unit of its own. (xdist's ``loadgroup`` would do it with a mark, but with
    pytest 9.2 its group suffix no longer reaches the node ids: the cells were scattered.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TutorialsTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return path if path.endswith(".ipynb") else nodeid

    return TutorialsTogether(config, log)


def pytest_configure(config: pytest.Config) -> None:
    """The tutorials' kernels (nbval starts them) talk over Unix sockets, as the kernels
    jupyter-automl starts do: a TCP port drawn and let go can be taken before the kernel binds
    it, by another process of the suite (fresh clone fc21: tutorial 03's kernel never
    answered, and its ten cells errored)."""
    try:
        import nbval.kernel
    except ImportError:
        return
    from jupyter_client.manager import KernelManager

    from jupyter_automl._utils.process import local_kernel_transport

    class OnUnixSockets(KernelManager):  # type: ignore[misc]
        def __init__(self, **kw: Any) -> None:
            super().__init__(**{**local_kernel_transport(), **kw})

    nbval.kernel.KernelManager = OnUnixSockets


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest units start first (the fault campaign, then the tutorials), so that no
    process is left alone with one at the end."""
    first = [item for item in items if item.path.name == "test_a_chaos.py"]
    notebooks = [item for item in items if item.path.suffix == ".ipynb"]
    rest = [item for item in items if item not in first and item not in notebooks]
    items[:] = first + notebooks + rest


@pytest.fixture(autouse=True)
def sigint_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """Ctrl-C stays Ctrl-C for the processes later tests start: a child inherits an ignored
    SIGINT, and a script that Python starts with SIGINT ignored never raises
    KeyboardInterrupt (the fault matrix's interrupt test then fails far from the cause). A test
    after which SIGINT is ignored is named in a warning, and the default handler put back."""
    yield
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        warnings.warn(f"{request.node.nodeid} left SIGINT ignored in the test process; "
                      "restored", stacklevel=1)


@pytest.fixture(scope="session")
def shell() -> Any:
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.run_line_magic("load_ext", "jupyter_automl")
    return ip


@pytest.fixture
def ip(shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The shell with its runs folder in ``tmp_path`` and a clean user namespace."""
    monkeypatch.chdir(tmp_path)
    shell.run_line_magic("config", f"Automl.runs_dir = {str(tmp_path / 'runs')!r}")
    saved = dict(shell.user_ns)
    yield shell
    shell.user_ns.clear()
    shell.user_ns.update(saved)
    stop_warm_kernels()


def stop_warm_kernels() -> None:
    """End the worker kernels a test's runs kept warm: the next test starts its own."""
    warm = sys.modules.get("jupyter_automl.workers._warm")
    if warm is not None:
        warm.REGISTRY.stop()


def checkpoint_of(tmp_path: Path, name: str, number: int) -> dict[str, Any] | None:
    """Trial ``number``'s checkpoint arrays in ``tmp_path/automl_runs/name``; None while there
    is none (or it is being replaced)."""
    import numpy as np

    path = tmp_path / "automl_runs" / name / "trials" / str(number) / "checkpoint.npz"
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError):
        return None


def study_of(runs: Path, name: str) -> Any:
    import optuna

    return optuna.load_study(study_name=name, storage=f"sqlite:///{runs / name / 'study.db'}")


# ---------------------------------------------------------------------------------------------
# Real kernels


@dataclass
class Reply:
    status: str
    stdout: str = ""
    stderr: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr + "\n".join(self.errors)


class Kernel:
    """A real IPython kernel started with jupyter_client in a working directory."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        from jupyter_client import KernelManager

        # Started again (up to 3 times, on new ports) if it does not answer: two processes
        # starting kernels at once can draw the same free port, and the kernel that cannot
        # bind it dies or hangs; a failed one is shut down, never left to later tests.
        for attempt in range(3):
            self.km = KernelManager(kernel_name="python3")
            self.km.start_kernel(cwd=str(cwd),
                                 env=env or {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            self.kc = self.km.client()
            self.kc.start_channels()
            try:
                self.kc.wait_for_ready(timeout=60)
                break
            except RuntimeError:
                self.kc.stop_channels()
                self.km.shutdown_kernel(now=True)
                if attempt == 2:
                    raise
        self._replies: dict[str, Reply] = {}  # by msg_id, while the kernel is busy with it
        self._done: dict[str, Reply] = {}  # by msg_id, once the kernel was idle after it

    @property
    def pid(self) -> int:
        return int(self.km.provisioner.process.pid)  # type: ignore[union-attr]

    def execute(self, code: str, timeout: float = 300) -> Reply:
        return self.collect(self.kc.execute(code), timeout)

    def submit(self, code: str) -> str:
        return str(self.kc.execute(code))

    def collect(self, msg_id: str, timeout: float = 300) -> Reply:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.poll(msg_id, timeout=1)
            if reply is not None:
                return reply
        got = self._replies.get(msg_id, Reply("ok"))
        raise TimeoutError(f"no idle status within {timeout}s; got so far: {got.text[-2000:]}")

    def poll(self, msg_id: str, timeout: float = 0.1) -> Reply | None:
        """The reply to ``msg_id`` once the kernel is idle after it, else None (what came so
        far is kept for the next call; a finished reply is returned again on every call)."""
        if msg_id in self._done:
            return self._done[msg_id]
        reply = self._replies.setdefault(msg_id, Reply("ok"))
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                setattr(reply, content["name"],
                        getattr(reply, content["name"]) + content["text"])
            elif kind == "error":
                reply.status = "error"
                reply.errors.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                self._done[msg_id] = self._replies.pop(msg_id)
                return self._done[msg_id]

    def shutdown(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)
        else:
            self.km.cleanup_resources()


@pytest.fixture
def kernels(tmp_path: Path) -> Iterator[Any]:
    started: list[Kernel] = []

    def start() -> Kernel:
        kernel = Kernel(tmp_path)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.shutdown()


def both_kernels(cell: str, ready: Path) -> str:
    """``cell`` whose first trial on each of two worker kernels waits until the other kernel
    has started one (each marks ``ready`` with a file): however slowly a kernel starts, both
    take trials."""
    ready.mkdir()
    return ("import os, time\n"
            f"open(os.path.join({str(ready)!r}, str(os.getpid())), 'w').close()\n"
            f"while len(os.listdir({str(ready)!r})) < 2:\n    time.sleep(0.05)\n" + cell)


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def kernels_alive() -> list[int]:
    """The ipykernel processes this test process has started and not shut down."""
    import psutil

    return [p.pid for p in psutil.Process().children(recursive=True)
            if "ipykernel" in " ".join(p.cmdline())]


def warm_pids() -> set[int]:
    """The worker kernels kept warm for the next run (jupyter_automl.workers._warm)."""
    warm = sys.modules.get("jupyter_automl.workers._warm")
    return set() if warm is None else {w.kernel.pid for w in warm.REGISTRY}


def orphan_kernels() -> list[int]:
    """:func:`kernels_alive` but the warm worker kernels: those a run left behind unawares."""
    return [pid for pid in kernels_alive() if pid not in warm_pids()]
