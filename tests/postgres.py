"""A real PostgreSQL server on 127.0.0.1, for the tests that share a study through one."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.lab import free_port
from browser.require import has_module, require_or_skip


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: CI runs as root, so the server runs as `postgres`.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Postgres:
    """A server of its own, in a temporary folder, that a test may stop and start again."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # Not under tmp_path: pytest's folders are private to root, the server runs as postgres.
        self.home = Path(tempfile.mkdtemp(prefix="automl-pg-"))
        self.data, password = self.home / "data", secrets.token_hex(12)
        self.data.mkdir()
        pwfile = self.home / "pgpass"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            for path in (self.home, self.data, pwfile):
                shutil.chown(path, "postgres")
        self.port = free_port()
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(self.data), "-U",
                                     "automl", "--auth=scram-sha-256", f"--pwfile={pwfile}"]),
                       check=True, capture_output=True)
        self.url = f"postgresql://automl:{password}@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]),
                       check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("-w", "-l", str(self.data / "log"), "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}", "start")

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as a restarted server cuts them."""
        self._ctl("-w", "-m", "fast", "stop")

    def close(self) -> None:
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                                     "fast", "stop"]), capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    bindir = _bindir()
    require_or_skip(bindir is not None and has_module("psycopg"),
                    "PostgreSQL (apt-get install postgresql) or psycopg is missing")
    assert bindir is not None
    server = Postgres(bindir)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres: Postgres) -> str:
    return postgres.url
