"""The standard error of a headless run's kernel, as ``jupyter-automl run`` relays it."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from jupyter_automl.batch._headless_kernel import _relay

TEARDOWN = ("ERROR:tornado.general:Uncaught exception in ZMQStream callback\n"
            "Traceback (most recent call last):\n"
            "zmq.error.ZMQError: Socket operation on non-socket\n")


def test_what_a_kernel_writes_once_it_is_shutting_down_is_not_relayed(capsys: Any) -> None:
    """ipykernel may log a traceback of its own while it shuts down (fresh clone fc21: after a
    run that had finished well, `jupyter-automl run` printed it)."""
    read, write = os.pipe()
    closing = threading.Event()
    relay = threading.Thread(target=_relay, args=(read, closing))
    relay.start()
    os.write(write, b"a warning of the run's own\n")
    seen, deadline = "", time.monotonic() + 10
    while "a warning" not in seen and time.monotonic() < deadline:  # the relay passed it on
        seen += capsys.readouterr().err
    assert seen == "a warning of the run's own\n"
    closing.set()
    os.write(write, TEARDOWN.encode())
    os.close(write)
    relay.join(10)
    assert not relay.is_alive()
    assert capsys.readouterr().err == ""
