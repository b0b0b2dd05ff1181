"""Inside a local worker kernel: end this process once the notebook's kernel that started it is
gone, however it went (``kill -9`` included), so that no worker outlives its notebook.

The driver ends its workers itself when it exits normally (an ``atexit`` hook in
:mod:`._local`); a process killed outright runs no hook, so each worker watches for it. Not
``PR_SET_PDEATHSIG``: that signal follows the *thread* that started the child, and kernels are
started from the study's slot threads, which end with every run. ipykernel's own parent poller
does the same only from ipykernel 7 (earlier ones wait for the parent to become pid 1, which a
container's sub-reaper never is).
"""

from __future__ import annotations

import os
import threading
import time

PARENT_ENV = "JUPYTER_AUTOML_PARENT_PID"  # the notebook kernel's pid, set by LocalKernel.start
EVERY = 1.0  # seconds between two looks: a worker outlives its notebook by about this much


def watch(parent: int | None = None, every: float = EVERY) -> bool:
    """Start the watch (once per process); False when there is no parent to watch."""
    parent = parent or int(os.environ.get(PARENT_ENV) or 0)
    if not parent or any(t.name == "automl-parent-watch" for t in threading.enumerate()):
        return False
    first = os.getppid()  # the parent may be a launcher in between: any change means it died

    def look() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != first or not alive(parent):
                os._exit(1)  # noqa: SLF001 - no clean-up can be owed to a notebook that is gone

    threading.Thread(target=look, name="automl-parent-watch", daemon=True).start()
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process took the number: ours is gone
        return False
    return True
