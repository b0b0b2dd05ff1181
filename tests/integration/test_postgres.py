"""A study in a real PostgreSQL on 127.0.0.1 (--storage postgresql://...), run by worker
kernels; its password shows in no output and no file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def test_a_study_in_postgresql_run_by_worker_kernels(ip: Any, postgres_url: str,
                                                     tmp_path: Path, capsys: Any,
                                                     monkeypatch: Any) -> None:
    """The password comes from the environment (libpq's PGPASSWORD), and the workers reach the
    database themselves: the driver serves no gRPC proxy."""
    import optuna

    from jupyter_automl.workers.kernels import _proxy as proxy

    password = postgres_url.split(":")[2].split("@")[0]
    url = postgres_url.replace(f":{password}@", "@")
    monkeypatch.setenv("PGPASSWORD", password)
    served: list[Any] = []
    serve = proxy.serve
    monkeypatch.setattr(proxy, "serve", lambda *a: served.append(a) or serve(*a))
    body = 'x = hp.float("x", -5, 5)\n(x - 1) ** 2'
    ip.run_cell_magic("automl", f"pg --trials 6 --kernels 2 --storage {url}", body)
    study = optuna.load_study(study_name="pg", storage=postgres_url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    assert {t.user_attrs["kernel"] for t in study.trials} <= {"local kernel 0",
                                                              "local kernel 1"}
    assert served == []  # straight to PostgreSQL
    assert not (tmp_path / "runs" / "pg" / "study.db").exists()
    out = capsys.readouterr()
    assert password not in out.out + out.err
    for path in (tmp_path / "runs").rglob("*"):
        assert not path.is_file() or password.encode() not in path.read_bytes()


def test_a_password_in_the_url_stays_out_of_outputs_and_files(ip: Any, postgres_url: str,
                                                              tmp_path: Path,
                                                              capsys: Any) -> None:
    body = 'x = hp.float("x", -5, 5)\n(x - 1) ** 2'
    ip.run_cell_magic("automl", f"pgu --trials 2 --kernels 1 --storage {postgres_url}", body)
    password = postgres_url.split(":")[2].split("@")[0]
    out = capsys.readouterr()
    assert "2/2 trials" in out.out
    assert password not in out.out + out.err
    for path in (tmp_path / "runs").rglob("*"):
        assert not path.is_file() or password.encode() not in path.read_bytes()
