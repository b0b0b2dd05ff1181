"""Where a study is shown: live widgets, static figures (saved notebooks) or plain text.

``auto`` picks widgets in a live Jupyter kernel, static figures when the kernel runs headless
(papermill, nbclient, nbconvert, ``jupyter-automl run``: no one sees widgets there, and saved
widget state would be stale), and text outside a kernel.
"""

from __future__ import annotations

import os
from typing import Any, Literal

Mode = Literal["widgets", "static", "text"]
MODES = ("auto", "widgets", "static", "text")
HEADLESS_ENV = "JUPYTER_AUTOML_HEADLESS"
_HEADLESS_PARENTS = ("papermill", "nbclient", "nbconvert", "jupyter-automl", "nbval", "pytest")


def display_mode(setting: str = "auto") -> Mode:
    if setting in ("widgets", "static", "text"):
        return setting  # type: ignore[return-value]
    if not _in_kernel():
        return "text"
    return "static" if headless() else "widgets"


def headless() -> bool:
    """True when this kernel is driven by a program rather than a person's front end."""
    if os.environ.get(HEADLESS_ENV, "") not in ("", "0"):
        return True
    try:
        import psutil

        parent = " ".join(psutil.Process().parent().cmdline())  # type: ignore[union-attr]
    except Exception:  # no parent to read: assume a person is watching
        return False
    return any(name in parent for name in _HEADLESS_PARENTS)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell: Any = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
