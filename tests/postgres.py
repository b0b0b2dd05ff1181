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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    bindir = _bindir()
    require_or_skip(bindir is not None and has_module("psycopg"),
                    "PostgreSQL (apt-get install postgresql) or psycopg is missing")
    assert bindir is not None
    # Not under tmp_path: pytest's folders are private to root, the server runs as postgres.
    home = Path(tempfile.mkdtemp(prefix="automl-pg-"))
    data, password = home / "data", secrets.token_hex(12)
    data.mkdir()
    pwfile = home / "pgpass"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        for path in (home, data, pwfile):
            shutil.chown(path, "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "automl",
                                 "--auth=scram-sha-256", f"--pwfile={pwfile}"]),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                                 str(data / "log"), "-o",
                                 f"-p {port} -c listen_addresses=127.0.0.1 -k {data}",
                                 "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://automl:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                     "stop"]), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
