"""Where this code runs: in a Jupyter kernel a person watches, in one a program drives
(papermill, nbclient, nbconvert, ``jupyter-automl run``, pytest), or outside any kernel."""

from __future__ import annotations

import os
from typing import Any

HEADLESS_ENV = "JUPYTER_AUTOML_HEADLESS"
# Programs (or `python -m` modules) whose kernels no person watches.
_HEADLESS_PARENTS = {"papermill", "nbclient", "nbconvert", "jupyter-nbconvert", "jupyter-automl",
                     "jupyter_automl.cli", "pytest", "py.test"}


def headless() -> bool:
    """True when this kernel is driven by a program rather than a person's front end."""
    if os.environ.get(HEADLESS_ENV, "") not in ("", "0"):
        return True
    try:
        import psutil

        argv = psutil.Process().parent().cmdline()  # type: ignore[union-attr]
    except Exception:  # no parent to read: assume a person is watching
        return False
    # Only the program and its module count: its arguments may hold any word (a folder
    # named pytest-of-root/ under a JupyterLab server must not make its kernels headless).
    program = [os.path.basename(a) for a in argv[:3] if a != "-m"]
    return any(name in _HEADLESS_PARENTS for name in program[:2])


def in_kernel() -> bool:
    """True in a Jupyter kernel (a front end may show widgets), False in a terminal or script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell: Any = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
