"""A real Ray cluster on 127.0.0.1: a head node and worker nodes, each a ``ray start --block``
process of its own (its node's processes in its process group, so ``kill -9`` of the group is
the node lost), with Ray's token authentication on."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from browser.lab import free_port
from browser.require import has_module, require_or_skip
from conftest import wait_for

LAUNCH = str(Path(__file__).with_name("ray_launch.py"))
RAY_NAMES = ("raylet", "gcs_server", "ray::", "default_worker.py", "ray/dashboard",
             "ray.util.client.server", "ray/_private/log_monitor.py", "autoscaler")


def ray_processes() -> set[int]:
    """Every Ray process on this machine (its servers, agents and workers)."""
    found = set()
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        with_args = " ".join(process.info["cmdline"] or [process.info["name"] or ""])
        if any(name in with_args for name in RAY_NAMES):
            found.add(process.info["pid"])
    return found


def listening(pids: set[int]) -> set[str]:
    """The addresses the processes ``pids`` listen on (IPv4 mapped into IPv6 read as IPv4)."""
    import ipaddress

    found = set()
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            address = ipaddress.ip_address(conn.laddr.ip)
            found.add(str(getattr(address, "ipv4_mapped", None) or address))
    return found


class RayCluster:
    """The head (no CPU of its own: trials go to worker nodes) and the workers added."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(32)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # short: Ray's Unix sockets live under it (a socket path has at most 107 bytes)
        self.temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token,
                    "RAY_USAGE_STATS_ENABLED": "0",
                    # a lost node is known in about 3 s rather than 30
                    "RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "1000",
                    "RAY_health_check_failure_threshold": "3"}
        self.env.pop("JUPYTER_AUTOML_FAILPOINTS", None)
        self.nodes: list[subprocess.Popen[str]] = []

    def _start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        node = subprocess.Popen([sys.executable, LAUNCH, "start", "--block", *args,
                                 "--node-ip-address=127.0.0.1", "--disable-usage-stats"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        self.nodes.append(node)
        assert node.stdout is not None
        said = ""
        for line in node.stdout:  # until Ray says the node runs (or the command ends)
            said += line
            if "Ray runtime started" in line:
                return node
        raise RuntimeError(f"ray start failed:\n{said[-3000:]}")

    def start_head(self) -> None:
        self._start(["--head", f"--port={self.port}", "--num-cpus=0",
                     "--dashboard-host=127.0.0.1", f"--temp-dir={self.temp}"], self.env)

    def add_worker(self, cpus: int = 2, env: dict[str, str] | None = None) -> int:
        """A worker node with ``cpus`` CPUs (``env`` added to its processes'); its process
        group."""
        node = self._start([f"--address={self.address}", f"--num-cpus={cpus}"],
                           {**self.env, **(env or {})})
        return node.pid

    def pids(self, groups: set[int] | None = None) -> set[int]:
        """The processes of the cluster's nodes now (of the nodes ``groups``): each node's
        process group, and their children (Ray starts its workers in groups of their own)."""
        groups = {node.pid for node in self.nodes} if groups is None else groups
        found = set()
        for process in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(process.info["pid"]) in groups:
                    found.add(process.info["pid"])
                    found.update(p.pid for p in process.children(recursive=True))
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
        return found

    def kill(self, group: int) -> None:
        """``kill -9`` of every process of a node."""
        for pid in self.pids({group}):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> set[int]:
        """Kill every node; the processes they had."""
        had = self.pids()
        for node in self.nodes:
            self.kill(node.pid)
        for node in self.nodes:
            node.wait(timeout=60)
        shutil.rmtree(self.temp, ignore_errors=True)
        return had

    def left(self, had: set[int]) -> set[int]:
        """Those of ``had`` still running, and any process naming the cluster's folder or
        port."""
        alive = {pid for pid in had if psutil.pid_exists(pid)
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}
        for process in psutil.process_iter(["pid", "cmdline"]):
            with_args = " ".join(process.info["cmdline"] or [])
            if self.temp in with_args or f"127.0.0.1:{self.port}" in with_args:
                alive.add(process.info["pid"])
        return alive


@pytest.fixture
def ray_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[RayCluster]:
    """A head node on 127.0.0.1, no worker yet; this process (the notebook's kernel) holds
    the cluster's token in its environment, as a user's would. No Ray process outlives it."""
    require_or_skip(has_module("ray"), "Ray is not installed (pip install "
                                       "'jupyter-automl[ray]')")
    cluster = RayCluster()
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", cluster.token)
    try:
        cluster.start_head()
        yield cluster
    finally:
        had = cluster.stop()
    wait_for(lambda: not cluster.left(had), 60, "the cluster's processes to end")
