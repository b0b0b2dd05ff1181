"""The driver's storage served to worker kernels through Optuna's gRPC storage proxy."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from ..errors import OptionError


@contextlib.contextmanager
def serve(storage: Any, host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """Serve ``storage`` on ``host`` (loopback unless told otherwise) while the block runs."""
    try:
        from optuna.storages._grpc.server import make_server
    except ImportError as exc:  # grpcio is a dependency; a broken install says so here
        raise OptionError(f"worker kernels need grpcio: pip install grpcio protobuf ({exc})") \
            from None
    port = _free_port(host)
    server = make_server(storage, host, port)
    server.start()
    try:
        yield host, port
    finally:
        server.stop(grace=1)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
