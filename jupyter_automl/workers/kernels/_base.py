"""What the pool needs of a worker kernel, whatever starts it (jupyter_client, a gateway)."""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from typing import Any

from ...errors import AutomlError


class KernelError(AutomlError):
    """A worker kernel could not be started or reached."""


class SetupError(KernelError):
    """A setup cell (or ``--ship``) failed on a worker: the same for every trial, so no retry."""


class WorkerDied(Exception):
    """The kernel died (or stopped answering) while it ran something: retry elsewhere."""


class WorkerHung(WorkerDied):
    """The kernel did not answer within the time given (``--trial-timeout``): shut down, and
    its trial retried; a cell that hangs every time stops the study (see the runner)."""


@dataclass
class Reply:
    """The end of one execution on a worker: its status, output and user expressions."""

    status: str
    output: str = ""
    error: str = ""
    expressions: dict[str, Any] = field(default_factory=dict)


def plain(traceback: str) -> str:
    """A kernel's traceback without its terminal colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", traceback)


class WorkerKernel(abc.ABC):
    """One kernel of the pool: started, fed code, watched, restarted, shut down."""

    label: str
    env: dict[str, str]  # added to the kernel's environment when it starts
    replayed: Any = None  # what the pool replayed in it since it started (workers._warm.Replay)

    def preflight(self) -> None:  # noqa: B027 - most kernels have nothing to check
        """Raise :class:`KernelError` now if this kernel cannot be had (before any trial)."""

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def execute(self, code: str, expressions: dict[str, str] | None = None,
                timeout: float | None = None) -> Reply:
        """Run ``code``; raise :class:`WorkerDied` if the kernel dies or times out meanwhile."""

    @abc.abstractmethod
    def is_alive(self) -> bool: ...

    @abc.abstractmethod
    def shutdown(self) -> None: ...
