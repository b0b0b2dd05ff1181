"""Worker "kernels" on a Ray cluster: each one a Ray actor holding what a trial needs (a CPU, a
share of a GPU), running an IPython shell in its worker process. The pool feeds it as it feeds a
Jupyter kernel (the setup, the study's configuration, one trial after another), so a study runs
on Ray with the same loop, proxy, Stop and retries.

``--kernels ray*N`` starts a Ray for the run on this machine, on loopback only; ``--kernels
ray:ADDRESS*N`` joins a running cluster (``ray:auto``, ``ray:HOST:PORT``, or Ray Client's
``ray:ray://HOST:PORT``). Ray's token authentication reads its token from Ray's own
environment (``RAY_AUTH_TOKEN``, ``~/.ray/auth_token``), never from here. The study's secret
reaches an actor as an argument of its constructor (in Ray's object store, not in a
``runtime_env``, which Ray's dashboard shows) and goes into that actor process's environment.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..._utils.process import THREAD_ENV
from ._base import KernelError, Reply, WorkerDied, WorkerHung, WorkerKernel, plain
from ._proxy import is_loopback

START_TIMEOUT = 300.0  # seconds for an actor to be placed and start its shell
INSTALL = "pip install 'jupyter-automl[ray]'"
# Ray's switch for the rewrite of loopback addresses (see _init); 0: off
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_lock = threading.Lock()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise KernelError(f"--kernels ray needs Ray, which is not installed: {INSTALL}") \
            from None
    return ray


@contextlib.contextmanager
def ray_connected(address: str) -> Iterator[Any]:
    """Ray, connected to ``address`` while the block runs (``local``: a Ray started for the
    run on this machine, on loopback), then disconnected (a local Ray stopped). A Ray this
    process had already joined is used as it is, and left connected."""
    ray = _ray()
    with _lock:
        ours = not ray.is_initialized()
        if ours:
            _init(ray, address)
    try:
        yield ray
    finally:
        if ours:
            with _lock, contextlib.suppress(Exception):
                ray.shutdown()


def _on_loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    return address == "local" or is_loopback(host)


def _answers(address: str, timeout: float = 10.0) -> None:
    """Raise :class:`KernelError` at once when nothing answers at a ``HOST:PORT`` address
    (Ray itself would retry for minutes); ``auto`` and Ray Client addresses are Ray's to
    find."""
    host, _, port = address.rpartition(":")
    if address == "auto" or address.startswith("ray://") or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise KernelError(f"cannot reach the Ray cluster at {address!r}: nothing answers there "
                          f"({exc.strerror or exc}); give the head node's address and port "
                          "(`ray status` on the head prints them)") from None


def _init(ray: Any, address: str) -> None:
    from ray._private import ray_constants

    kwargs: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False,
                              "configure_logging": False}
    if address == "local":
        kwargs.update(include_dashboard=False, _node_ip_address="127.0.0.1")
        # Ray's token authentication, as Ray turns it on by default for a new local Ray (its
        # token made once, in ~/.ray/auth_token), said here rather than in a warning
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    else:
        kwargs["address"] = address
        _answers(address)
    # On Linux Ray rewrites a loopback address to the machine's own (for other machines to
    # reach); a Ray for the run, or a cluster on loopback, must stay there: the rewrite is off
    # while this process joins (and for the processes a local Ray starts meanwhile).
    loopback = _on_loopback(address)
    saved = os.environ.get(_LOOPBACK_ENV), ray_constants.ENABLE_RAY_CLUSTER
    if loopback:
        os.environ[_LOOPBACK_ENV], ray_constants.ENABLE_RAY_CLUSTER = "0", False
    # Ray keeps the token it read first; the environment may name another for this cluster:
    # read it again (a private API of Ray's: where it is absent, there is nothing to do)
    with contextlib.suppress(Exception):
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    try:
        ray.init(**kwargs)
    except Exception as exc:  # noqa: BLE001 - said with the address and what to check
        auth = "authentication" in str(exc).lower() or "token" in str(exc).lower()
        hint = ("; the cluster asks for Ray's token: set RAY_AUTH_TOKEN (or ~/.ray/auth_token) "
                "in the notebook's environment" if auth else "")
        where = "start a Ray on this machine" if address == "local" else \
            f"reach the Ray cluster at {address!r}"
        raise KernelError(f"cannot {where}: {type(exc).__name__}: {exc}{hint}") from None
    finally:
        if loopback:
            if saved[0] is None:
                os.environ.pop(_LOOPBACK_ENV, None)
            else:
                os.environ[_LOOPBACK_ENV] = saved[0]
            ray_constants.ENABLE_RAY_CLUSTER = saved[1]


class _Shell:
    """The actor: an IPython shell in a Ray worker process."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        os.environ.update({"JUPYTER_AUTOML_WORKER": "1", **env})
        threads = os.environ.pop("_AUTOML_THREADS", "1")
        for name in THREAD_ENV:  # TensorFlow on the CPUs this actor holds, not the node's
            os.environ.setdefault(name, threads)
        if os.path.isdir(cwd):  # the notebook's folder, where this node has it
            os.chdir(cwd)
            sys.path.insert(0, cwd)
        from IPython.core.interactiveshell import InteractiveShell

        self.shell = InteractiveShell.instance()

    def ping(self) -> int:
        return os.getpid()

    def run(self, code: str, expressions: dict[str, str]) -> tuple[str, str, str, dict[str, Any]]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            result = self.shell.run_cell(code, store_history=False, silent=False)
        error = ""
        if not result.success:
            exc = result.error_in_exec or result.error_before_exec
            error = plain(f"{type(exc).__name__}: {exc}")
        values = self.shell.user_expressions(expressions) if expressions else {}
        return ("ok" if result.success else "error"), out.getvalue(), error, values

    def setup(self, steps: Sequence[str], names: Sequence[str],
              *shipped: bytes) -> tuple[str, str, str, dict[str, Any]]:
        """The run's setup, as the pool put it in the object store: each step in turn (the
        first failure ends it), then each shipped variable bound to its name."""
        import pickle

        output = ""
        for code in steps:
            status, out, error, _ = self.run(code, {})
            output += out
            if status != "ok":
                return status, output, error, {}
        for name, data in zip(names, shipped, strict=True):
            self.shell.user_ns[name] = pickle.loads(data)  # noqa: S301 - the notebook's own
        return "ok", output, "", {}


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "Error:" in line or "Error " in line]
    return (errors or lines or [type(exc).__name__])[-1]


class RayKernel(WorkerKernel):
    """One slot of the pool: a Ray actor, replaced by a new one when it (or its node) dies."""

    def __init__(self, index: int, address: str, cwd: Path, gpus: float | None = None,
                 cpus: float = 1.0) -> None:
        self.index = index
        self.address = address
        self.cwd = cwd
        self.cpus, self.gpus = cpus, gpus
        self.label = f"Ray worker {index}"
        self.env: dict[str, str] = {}
        self.actor: Any = None
        self.ended = False  # shut down: by the run, as it ends

    def needs(self) -> str:
        """The resources one actor holds, in words."""
        return f"{self.cpus:g} CPU" + (f" and {self.gpus:g} GPU" if self.gpus else "")

    def start(self) -> None:
        """Start an actor, and wait until its shell answers. One that dies as it starts (placed
        on a node that is being lost) is started again until :data:`START_TIMEOUT`; one whose
        start fails (the package missing on its node) is not, nor one shut down meanwhile (the
        run ends)."""
        ray = _ray()
        self.shutdown()
        self.ended = False
        deadline = time.monotonic() + START_TIMEOUT
        pause = 0.5
        while True:
            self._create(ray)
            try:
                ray.get(self.actor.ping.remote(), timeout=max(1.0, deadline - time.monotonic()))
                return
            except ray.exceptions.GetTimeoutError:
                self._kill()
                raise WorkerDied(f"{self.label} was not placed within {START_TIMEOUT:.0f}s: "
                                 f"no node of the cluster has {self.needs()} free") from None
            except ray.exceptions.RayError as exc:
                self._kill()
                if "creation task" in str(exc):  # its constructor raised: the same anywhere
                    raise KernelError(f"{self.label} cannot start on the cluster: "
                                      f"{_first_line(exc)}; every node needs jupyter-automl "
                                      "and the notebook's packages installed") from None
                if self.ended or time.monotonic() + pause > deadline:
                    raise WorkerDied(f"{self.label} did not start ({type(exc).__name__})") \
                        from None
            time.sleep(pause)  # the cluster learns of a lost node in seconds
            pause = min(2 * pause, 10.0)

    def _create(self, ray: Any) -> None:
        options: dict[str, Any] = {"num_cpus": self.cpus, "max_restarts": 0}
        if self.gpus:
            options["num_gpus"] = self.gpus
        env = {"_AUTOML_THREADS": str(max(1, round(self.cpus))), **self.env}
        if self.gpus:  # a share of a GPU: TensorFlow must not take all its memory
            env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        self.actor = ray.remote(_Shell).options(**options).remote(env, str(self.cwd))

    def execute(self, code: str, expressions: dict[str, str] | None = None,
                timeout: float | None = None) -> Reply:
        return self._call("run", (code, expressions or {}), timeout)

    def setup(self, steps: Any, names: Sequence[str], shipped: Sequence[Any],
              timeout: float) -> Reply:
        """Replay the run's setup (object references: Ray hands the actor their values)."""
        return self._call("setup", (steps, list(names), *shipped), timeout)

    def _call(self, method: str, args: tuple[Any, ...], timeout: float | None) -> Reply:
        ray = _ray()
        actor = self.actor
        if actor is None:
            raise WorkerDied(f"{self.label} is not running")
        try:
            status, output, error, values = ray.get(getattr(actor, method).remote(*args),
                                                    timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            self._kill()
            raise WorkerHung(f"{self.label} did not answer within {timeout:.0f}s") from None
        except ray.exceptions.RayError as exc:  # the actor, its process or its node died
            self.actor = None
            raise WorkerDied(f"{self.label} was lost ({type(exc).__name__})") from None
        return Reply(status, output, error, values)

    def is_alive(self) -> bool:
        if self.actor is None:
            return False
        try:
            _ray().get(self.actor.ping.remote(), timeout=30)
        except Exception:  # noqa: BLE001 - gone, whatever the reason
            return False
        return True

    def shutdown(self) -> None:
        self.ended = True  # an actor being started is not started again
        self._kill()

    def _kill(self) -> None:
        actor, self.actor = self.actor, None
        if actor is not None:
            with contextlib.suppress(Exception):
                _ray().kill(actor, no_restart=True)
