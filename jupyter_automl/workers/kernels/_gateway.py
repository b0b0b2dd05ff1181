"""Remote worker kernels on a Jupyter Kernel Gateway or Enterprise Gateway (REST + websocket).

The token comes from ``JUPYTER_GATEWAY_AUTH_TOKEN`` or Jupyter's config
(``c.GatewayClient.auth_token``), never from the notebook, and it appears in no message.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from ._base import KernelError, Reply, WorkerDied, WorkerHung, WorkerKernel, plain

TOKEN_ENV = "JUPYTER_GATEWAY_AUTH_TOKEN"
POLL = 0.5


def gateway_token() -> str | None:
    """The gateway token: the environment first, then Jupyter's config files."""
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

    for folder in jupyter_config_path():
        for loader in (JSONFileConfigLoader, PyFileConfigLoader):
            name = "jupyter_server_config." + ("json" if loader is JSONFileConfigLoader
                                               else "py")
            try:
                config = loader(name, path=folder).load_config()
            except Exception:  # absent or unreadable file: look further
                continue
            token = config.get("GatewayClient", {}).get("auth_token")
            if token:
                return str(token)
    return None


def shown(url: str) -> str:
    """``url`` without credentials or query (fit for messages)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class GatewayKernel(WorkerKernel):
    def __init__(self, index: int, url: str, env: dict[str, str] | None = None) -> None:
        self.url = url.rstrip("/")
        self.label = f"gateway kernel {index} ({urllib.parse.urlsplit(url).netloc})"
        self.env = env or {}
        self.kernel_id: str | None = None
        self.ws: Any = None
        self.session = uuid.uuid4().hex

    # -- REST ----------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        headers = {"Content-Type": "application/json"}
        token = gateway_token()
        if token:
            headers["Authorization"] = f"token {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                hint = "set it" if gateway_token() is None else "check it"
                raise KernelError(f"the gateway at {shown(self.url)} refused the token "
                                  f"(HTTP {exc.code}): {hint} in {TOKEN_ENV} or "
                                  "c.GatewayClient.auth_token") from None
            raise KernelError(f"the gateway at {shown(self.url)} answered HTTP {exc.code} to "
                              f"{method} {path}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise KernelError(f"cannot reach the gateway at {shown(self.url)}: {reason}") \
                from None
        return json.loads(text) if text else None

    def preflight(self) -> None:
        self._request("GET", "/api/kernelspecs", timeout=10)

    def start(self) -> None:
        import websocket

        self.shutdown()
        kernel = self._request("POST", "/api/kernels",
                               {"name": "python3", "env": {"JUPYTER_AUTOML_WORKER": "1",
                                                           **self.env}})
        self.kernel_id = kernel["id"]
        ws_url = self.url.replace("http", "ws", 1) + f"/api/kernels/{self.kernel_id}/channels"
        token = gateway_token()
        header = [f"Authorization: token {token}"] if token else []
        try:
            self.ws = websocket.create_connection(ws_url, header=header, timeout=60)
        except Exception as exc:
            raise KernelError(f"cannot open the kernel's websocket at {shown(self.url)}: "
                              f"{exc}") from None
        self._call("kernel_info_request", {}, timeout=120)

    def is_alive(self) -> bool:
        if self.kernel_id is None:
            return False
        try:
            self._request("GET", f"/api/kernels/{self.kernel_id}", timeout=5)
        except KernelError:
            return False
        return True

    def shutdown(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # a dead connection is closed enough
                pass
            self.ws = None
        if self.kernel_id is not None:
            kernel_id, self.kernel_id = self.kernel_id, None
            try:
                self._request("DELETE", f"/api/kernels/{kernel_id}", timeout=10)
            except KernelError:
                pass  # the gateway is gone: so is its kernel

    # -- messages ------------------------------------------------------------------------------
    def execute(self, code: str, expressions: dict[str, str] | None = None,
                timeout: float | None = None) -> Reply:
        content = {"code": code, "silent": False, "store_history": False,
                   "user_expressions": expressions or {}, "allow_stdin": False,
                   "stop_on_error": True}
        return self._call("execute_request", content, timeout)

    def _call(self, msg_type: str, content: dict[str, Any], timeout: float | None) -> Reply:
        import websocket

        if self.ws is None:
            raise WorkerDied(f"{self.label} is not running")
        msg_id = uuid.uuid4().hex
        message = {"header": {"msg_id": msg_id, "username": "jupyter-automl",
                              "session": self.session, "msg_type": msg_type, "version": "5.3",
                              "date": _dt.datetime.now(_dt.timezone.utc).isoformat()},
                   "parent_header": {}, "metadata": {}, "content": content,
                   "channel": "shell", "buffers": []}
        reply = Reply("ok")
        pending = {"reply", "idle"}  # the shell reply, and iopub's idle after the last output
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.ws.send(json.dumps(message))
            while True:
                self.ws.settimeout(POLL)
                try:
                    msg = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    if deadline is not None and time.monotonic() > deadline:
                        raise WorkerHung(f"{self.label} did not answer within {timeout:.0f}s") \
                            from None
                    continue
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                pending.discard(self._absorb(msg, reply))
                if not pending:
                    return reply
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            raise WorkerDied(f"{self.label} was lost: {exc}") from None

    @staticmethod
    def _absorb(msg: dict[str, Any], reply: Reply) -> str:
        """Add ``msg`` to ``reply``; return "reply" or "idle" when it is one of those."""
        kind, content = msg["msg_type"], msg["content"]
        if msg.get("channel") == "shell" and kind.endswith("_reply"):
            reply.status = content.get("status", "ok")
            reply.expressions = content.get("user_expressions", {})
            return "reply"
        if kind == "status" and content.get("execution_state") == "idle":
            return "idle"
        if kind == "stream":
            reply.output += content["text"]
        elif kind == "error":
            reply.error = plain("\n".join(content["traceback"]))
        return ""
