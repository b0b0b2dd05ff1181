"""optuna-dashboard for one study, served inside the Jupyter server.

``{base_url}jupyter-automl/dashboard/<study path>/`` is the dashboard's page; everything under
it goes to optuna-dashboard's WSGI app on the study's storage, opened read-only (as
``jupyter-automl dashboard`` opens it). Every request passes Jupyter's authentication (the
handler is a ``JupyterHandler``), and the app runs on a thread pool, never on the server's
event loop: a slow dashboard request leaves notebooks and kernels answering.

optuna-dashboard's page asks for ``/static/bundle.js`` and its API at ``/api/...``, from the
root of its own server. Here its page loads the bundle from under the study's path, and a small
script of ours, run before the bundle, sends the bundle's API calls there too and shows the
study's page at the path the bundle's router expects (``/dashboard/studies/<id>``).
"""

from __future__ import annotations

import concurrent.futures
import functools
import html
import threading
from pathlib import Path
from typing import Any

from tornado import web
from tornado.ioloop import IOLoop
from tornado.wsgi import WSGIContainer

from ..results import DashboardTarget, dashboard_app, load_result
from ._studies import Studies

POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                             thread_name_prefix="automl-dashboard")
SHIM = "automl-shim.js"
CSP = ("default-src 'self'; img-src 'self' data: blob:; frame-src 'self'; object-src 'none'; "
       "connect-src 'self'; style-src 'self' data: 'unsafe-inline'; "
       "script-src 'self' 'unsafe-eval'; frame-ancestors 'self'")

SHIM_JS = """\
(function () {
  var script = document.currentScript;
  var prefix = script.dataset.prefix;
  var fetched = window.fetch.bind(window);
  window.fetch = function (input, init) {
    if (typeof input === "string" && input.charAt(0) === "/" && input.indexOf(prefix) !== 0) {
      input = prefix + input;
    }
    return fetched(input, init);
  };
  history.replaceState(history.state, "", script.dataset.start);
})();
"""


class Apps:
    """One optuna-dashboard app per study folder, made on first use."""

    def __init__(self) -> None:
        self._apps: dict[Path, tuple[Any, str]] = {}
        self._lock = threading.Lock()

    def get(self, folder: Path) -> tuple[Any, str]:
        with self._lock:
            if folder not in self._apps:
                result = load_result(folder.name, folder.parent)
                self._apps[folder] = dashboard_app(DashboardTarget(result.url, result.name))
            return self._apps[folder]


async def serve(handler: Any, studies: Studies, apps: Apps, path: str) -> None:
    """Answer ``GET dashboard/<path>`` on ``handler``: the page, our script, or the app's."""
    folder, rest = _split(studies, path)
    prefix = f"{handler.base_url}jupyter-automl/dashboard/{studies.study_id(folder)}"
    if rest == SHIM:
        handler.set_header("Content-Type", "text/javascript; charset=utf-8")
        handler.finish(SHIM_JS)
        return
    loop = IOLoop.current()
    app, page = await loop.run_in_executor(POOL, apps.get, folder)
    if rest in ("", "dashboard") or rest.startswith("dashboard/"):
        handler.set_header("Content-Security-Policy", CSP)
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.finish(_page_html(prefix, page if rest == "" else f"/{rest}"))
        return
    environ = WSGIContainer(app).environ(handler.request)
    environ["PATH_INFO"], environ["SCRIPT_NAME"] = f"/{rest}", prefix
    status, headers, body = await loop.run_in_executor(POOL, _call, app, environ)
    handler.set_status(int(status.split()[0]), status.partition(" ")[2] or None)
    for name, value in headers:
        if name.lower() not in ("content-length", "transfer-encoding", "connection"):
            handler.set_header(name, value)
    handler.finish(body)


def _split(studies: Studies, path: str) -> tuple[Path, str]:
    """The study folder at the start of ``path``, and the rest of it."""
    parts = path.split("/")
    for end in range(1, len(parts) + 1):
        try:
            return studies.folder("/".join(parts[:end])), "/".join(parts[end:])
        except FileNotFoundError:
            continue
    raise web.HTTPError(404, f"no study at {path!r}")


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run the WSGI ``app`` on ``environ`` (on a pool thread): status, headers and body."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return chunks.append

    chunks: list[bytes] = []
    iterable = app(environ, start_response)
    try:
        chunks.extend(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], b"".join(chunks)


@functools.cache
def _index_html() -> str:
    import optuna_dashboard

    return (Path(optuna_dashboard.__file__).parent / "index.html").read_text()


def _page_html(prefix: str, start: str) -> str:
    """optuna-dashboard's page, its bundle loaded from under ``prefix``, our script first."""
    shim = (f'<script src="{html.escape(prefix)}/{SHIM}" data-prefix="{html.escape(prefix)}" '
            f'data-start="{html.escape(start)}"></script>\n    ')
    page = _index_html().replace('src="/static/', f'src="{html.escape(prefix)}/static/')
    return page.replace("<script", shim + "<script", 1)
