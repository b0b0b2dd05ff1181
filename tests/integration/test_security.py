"""Nobody else gets into a study: the study served to worker kernels refuses callers without
this run's secret, on loopback and (over TLS) beyond it; the secret shows nowhere; the
dashboard asks for its token."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from browser.lab import free_port
from conftest import study_of, wait_for
from fault_study import Hold

from jupyter_automl._utils import failpoints
from jupyter_automl.engine import _background as background

pytestmark = pytest.mark.slow

SLOW = 'import time\ntime.sleep(0.1)\nx = hp.float("x", 0, 1)\nx'


def intruder(port: int, tls_cert: str | None = None, token: str | None = None) -> str:
    """The issue's snippet, run by an unrelated process: reads the studies, writes to one."""
    if tls_cert is None and token is None:
        connect = 'st = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=port)'
    else:
        # the TLS handshake done first (a loaded machine made a call's own handshake miss its
        # deadline: UNAVAILABLE, which says nothing of the secret)
        connect = (f"from jupyter_automl.workers.kernels._proxy import connect\n"
                   f"st = connect('127.0.0.1', port, {token or 'no secret'!r}, {tls_cert!r})\n"
                   f"grpc.channel_ready_future(st._channel).result(timeout=90)")
    code = textwrap.dedent(f"""
        import optuna, grpc
        port = {port}
        {{connect}}
        for what, call in [
                ("read", lambda: [s.study_name for s in st.get_all_studies()]),
                ("write", lambda: st.set_study_user_attr(
                    st.get_study_id_from_name("sec"), "written_by", "another local user"))]:
            try:
                print(what, "ok", call())
            except grpc.RpcError as exc:
                print(what, "refused", exc.code().name)
    """).replace("{connect}", connect)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def serving(name: str, trials: int = 2) -> Any:
    """The runner of a background study, once it serves its study to the workers and they
    have run ``trials``."""
    run = background.get(name)

    def trials_run() -> bool:
        if run.error is not None:
            raise run.error
        served = getattr(run.runner.executor, "served", None)
        return served is not None and run.runner.done >= trials

    wait_for(trials_run, 180, "the workers to run trials")
    return run.runner


def listening(port: int) -> set[str]:
    """The addresses listening on ``port`` (an IPv4 address mapped into IPv6 read as IPv4)."""
    found = set()
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
            address = ipaddress.ip_address(conn.laddr.ip)
            mapped = getattr(address, "ipv4_mapped", None)
            found.add(str(mapped or address))
    return found


def test_a_caller_without_the_secret_is_refused_and_changes_nothing(ip: Any, tmp_path: Path,
                                                                    capsys: Any) -> None:
    ip.run_cell_magic("automl", "sec --trials 40 --kernels 1 --seed 0 --background", SLOW)
    runner = serving("sec")
    port, token = runner.executor.served.port, runner.executor.served.token
    assert listening(port) == {"127.0.0.1"}  # loopback only
    said = intruder(port)
    assert "read refused UNAUTHENTICATED" in said and "write refused UNAUTHENTICATED" in said
    ip.run_line_magic("automl", "wait sec")
    study = study_of(tmp_path / "runs", "sec")
    assert "written_by" not in study.user_attrs  # nothing changed
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 40  # the worker went on
    assert_secret_nowhere(token, capsys, tmp_path)


def test_beyond_loopback_the_study_is_tls_pinned_and_still_needs_the_secret(
        ip: Any, tmp_path: Path, capsys: Any) -> None:
    # the study served while the intruders try it: the run holds before its first trial is
    # told (a loaded machine let the study end, and its server with it, before they spoke)
    hold = Hold(tmp_path / "held")
    failpoints.arm(f"trial.tell=pause:{hold.path}")
    try:
        ip.run_cell_magic("automl", "sec --trials 12 --kernels 1 --seed 0 --background "
                                    "--listen 0.0.0.0", SLOW)
        hold.wait(1, "the study")
        probe_the_tls_study(ip, tmp_path, capsys)
    finally:
        hold.release()
        failpoints.disarm()


def probe_the_tls_study(ip: Any, tmp_path: Path, capsys: Any) -> None:
    runner = serving("sec", trials=0)
    served = runner.executor.served
    (everywhere,) = listening(served.port)
    assert ipaddress.ip_address(everywhere).is_unspecified  # 0.0.0.0, or :: (both stacks)
    assert served.cert and "BEGIN CERTIFICATE" in served.cert
    # plain gRPC (the snippet) cannot even speak to it: the port speaks TLS
    assert intruder(served.port).count("refused UNAVAILABLE") == 2
    # TLS with the right certificate, without the secret: refused all the same
    said = intruder(served.port, tls_cert=served.cert, token="a guess")
    assert said.count("refused UNAUTHENTICATED") == 2
    # what is on the wire is TLS, with this run's certificate
    context = ssl.create_default_context(cadata=served.cert)
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        assert ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True)).strip() == \
            served.cert.strip()
    Hold(tmp_path / "held").release()
    ip.run_line_magic("automl", "wait sec")
    out = capsys.readouterr().out
    assert f"the study is served on 0.0.0.0:{served.port} over TLS" in out
    study = study_of(tmp_path / "runs", "sec")
    assert "written_by" not in study.user_attrs
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 12
    assert_secret_nowhere(served.token, capsys, tmp_path, out)


def assert_secret_nowhere(token: str, capsys: Any, root: Path, shown: str = "") -> None:
    out = capsys.readouterr()
    assert token not in shown + out.out + out.err
    for path in root.rglob("*"):
        assert not path.is_file() or token.encode() not in path.read_bytes(), path


# -- the dashboard -----------------------------------------------------------------------------
def dashboard(runs: Path, env: dict[str, str], host: str = "127.0.0.1") -> Any:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_automl.cli", "dashboard", "quad", "--runs-dir",
         str(runs), "--port", str(port), "--host", host], text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def up() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    wait_for(up, 60, "the dashboard")
    return proc, port


def status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_dashboard_with_a_token_answers_only_with_it(ip: Any, tmp_path: Path) -> None:
    import os

    ip.run_cell_magic("automl", "quad --trials 3", 'hp.float("x", 0, 1)')
    token = "s3cret-" + str(time.time_ns())
    proc, port = dashboard(tmp_path / "runs", {**os.environ,
                                                "JUPYTER_AUTOML_DASHBOARD_TOKEN": token})
    try:
        api = f"http://127.0.0.1:{port}/api/studies"
        assert status(api) == 403
        assert status(api, {"Authorization": "token wrong"}) == 403
        assert status(api, {"Authorization": f"token {token}"}) == 200
        # ?token= once: a cookie, and the address without the token
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(f"http://127.0.0.1:{port}/dashboard?token={token}") as page:
            assert page.status == 200 and "token" not in page.url
        with opener.open(api) as again:
            assert again.status == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert token not in out + err
    assert "every request needs the token in JUPYTER_AUTOML_DASHBOARD_TOKEN" in out


def test_a_dashboard_beyond_loopback_without_a_token_says_what_is_exposed(
        ip: Any, tmp_path: Path) -> None:
    import os

    ip.run_cell_magic("automl", "quad --trials 2", 'hp.float("x", 0, 1)')
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_AUTOML_DASHBOARD_TOKEN"}
    proc, _ = dashboard(tmp_path / "runs", env, host="0.0.0.0")
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert "warning: the dashboard has no login and no encryption: anyone who can reach " \
           "0.0.0.0 can read every trial, parameter, value and attribute of study 'quad'" in err
