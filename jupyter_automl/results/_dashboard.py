"""``jupyter-automl dashboard``: optuna-dashboard for a study, served on 127.0.0.1.

With ``JUPYTER_AUTOML_DASHBOARD_TOKEN`` set, every request must carry that token (the dashboard
of a study on a shared machine: loopback is open to every account there); a dashboard served
beyond loopback without one says what anyone who reaches it can do.

The target is a study name in the runs folder (its storage is the one its spec records), an
SQLite ``.db`` file, or a storage URL. SQLite and PostgreSQL storages are opened read-only,
SQLite with a busy timeout (see :func:`.open_storage`), so a study running meanwhile is
neither blocked nor changed; the dashboard's editing features (notes, deleting studies) then
answer with an error.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import http.cookies
import os
import signal
import sys
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..errors import AutomlError
from ..runs import (
    DEFAULT_RUNS_DIR,
    open_storage,
    opens_read_only,
    redact,
    storage_errors,
    storage_url,
)

if TYPE_CHECKING:
    import optuna

DEFAULT_PORT = 8080
TOKEN_ENV = "JUPYTER_AUTOML_DASHBOARD_TOKEN"  # set: every request must carry this token
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class Target:
    """What to serve: a storage URL, and the study to point at (None: the storage's list)."""

    url: str
    study: str | None = None

    @property
    def shown(self) -> str:
        """The storage as it may be printed: no password."""
        return redact(self.url)


def resolve(target: str, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Target:
    """Read ``target`` as a storage URL, an SQLite file, or a study name under ``runs_dir``."""
    if "://" in target:
        return Target(target)
    if target.endswith(_SQLITE_SUFFIXES) or Path(target).expanduser().is_file():
        path = Path(target).expanduser().absolute()
        if not path.is_file():
            raise AutomlError(f"no SQLite file {path}; give a study name, a .db file or a "
                              "storage URL")
        return Target(storage_url(str(path), path))
    from ._catalog import load_result

    result = load_result(target, runs_dir)  # names the studies there if there is none
    return Target(result.url, result.name)


def open_app(target: Target) -> tuple[Any, str]:
    """optuna-dashboard's WSGI app on the target's storage, and the path of the page to open."""
    from optuna_dashboard import wsgi

    storage = open_storage(target.url, read_only=True)
    return wsgi(storage), _page(storage, target)


def _page(storage: optuna.storages.RDBStorage, target: Target) -> str:
    if target.study is None:
        return "/dashboard"
    with storage_errors(target.url):
        try:
            return f"/dashboard/studies/{storage.get_study_id_from_name(target.study)}"
        except KeyError:
            raise AutomlError(f"study {target.study!r} is not in its storage {target.shown} "
                              "(yet): has it started?") from None


def bind(app: Any, host: str, port: int | None) -> WSGIServer:
    """A server for ``app`` on ``host``: ``port``, or 8080 falling back to a free port if None."""
    if port is None:
        try:
            return make_server(host, DEFAULT_PORT, app, handler_class=_QuietHandler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise _bind_error(host, DEFAULT_PORT, exc) from None
            port = 0
    try:
        return make_server(host, port, app, handler_class=_QuietHandler)
    except OSError as exc:
        raise _bind_error(host, port, exc) from None


def _bind_error(host: str, port: int, exc: OSError) -> AutomlError:
    return AutomlError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another "
                       "--port, or --port 0 for any free one")


class _QuietHandler(WSGIRequestHandler):
    """Logs failed requests only: the dashboard polls every few seconds."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            super().log_request(code, size)


def serve(target: str, runs_dir: str | Path = DEFAULT_RUNS_DIR, host: str = "127.0.0.1",
          port: int | None = None) -> None:
    """Serve optuna-dashboard for ``target`` until Ctrl-C (or SIGTERM); print where it is."""
    resolved = resolve(target, runs_dir)
    app, page = open_app(resolved)
    token = os.environ.get(TOKEN_ENV)
    if token:
        app = TokenGate(app, token)
    server = bind(app, host, port)
    what = f"study {resolved.study!r}" if resolved.study else "the studies"
    read_only = opens_read_only(resolved.url)
    print(f"optuna-dashboard for {what} in {resolved.shown}{', read-only' if read_only else ''}",
          flush=True)
    if token:
        print(f"every request needs the token in {TOKEN_ENV} (open the page once with "
              "?token=..., or send 'Authorization: token ...')", flush=True)
    elif host not in ("127.0.0.1", "localhost", "::1"):
        can = "read every trial, parameter, value and attribute of" if read_only else \
            "read, annotate and delete"
        print(f"warning: the dashboard has no login and no encryption: anyone who can reach "
              f"{host} can {can} {what}. Set {TOKEN_ENV} to require a token, or serve on "
              "127.0.0.1 and reach it through an SSH tunnel", file=sys.stderr, flush=True)
    print(f"serving at http://{host}:{server.server_port}{page} (Ctrl-C stops it)", flush=True)
    _run_until_stopped(server)
    print("dashboard stopped", flush=True)


class TokenGate:
    """WSGI middleware: a request passes with the token, as ``Authorization: token T``, as
    ``?token=T`` (which sets an HttpOnly cookie and redirects to the page without it), or with
    that cookie; any other gets 403 and reaches nothing."""

    COOKIE = "jupyter_automl_dashboard"

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._token = token.encode()
        self._cookie = hashlib.sha256(b"jupyter-automl dashboard " + self._token).hexdigest()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        given = query.get("token", [""])[0]
        if given and hmac.compare_digest(given.encode(), self._token):
            rest = urllib.parse.urlencode({k: v for k, v in query.items() if k != "token"},
                                          doseq=True)
            start_response("302 Found", [
                ("Location", environ.get("PATH_INFO", "/") + (f"?{rest}" if rest else "")),
                ("Set-Cookie", f"{self.COOKIE}={self._cookie}; HttpOnly; SameSite=Strict; "
                               "Path=/")])
            return [b""]
        header = environ.get("HTTP_AUTHORIZATION", "")
        cookies = http.cookies.SimpleCookie(environ.get("HTTP_COOKIE", ""))
        cookie = cookies[self.COOKIE].value if self.COOKIE in cookies else ""
        if hmac.compare_digest(header.encode(), b"token " + self._token) or \
                hmac.compare_digest(cookie.encode(), self._cookie.encode()):
            return self.app(environ, start_response)
        start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
        return [f"This dashboard needs its token (the {TOKEN_ENV} it was started with): open "
                "this page once with ?token=... added to its address.\n".encode()]


def _run_until_stopped(server: WSGIServer) -> None:
    """Serve in a thread until SIGINT or SIGTERM, then let the request in hand finish.

    The signal is not turned into an exception: raised in the middle of a request, wsgiref
    would take it for an error of that request and serve on."""
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="dashboard", daemon=True)
    thread.start()
    try:
        while thread.is_alive() and not stop.wait(0.5):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.shutdown()
        server.server_close()
