"""Warm worker kernels: the local kernels of ``--kernels N`` outlive the run that started them,
idle, so that the next run in this notebook skips their start-up (a kernel, TensorFlow's import,
the setup replay: about 4 s each).

The registry lives in the notebook's kernel (this process), one kernel per slot identity (its
folder and index). A run leases the kernel of each of its slots: it is reused when it is idle
and would start the same (same folder and environment: a changed ``--storage`` URL or secret
means a new kernel, never a stale one), then brought to the run's setup by :func:`plan` (the new
setup cells only, when that is sound; else it restarts). Per-study configuration is sent on
every run. The run gives its kernels back as it ends: an idle one stays warm; one that was busy
when the run was cut short (its state unknown), that died, or whose setup failed is shut down.

Gateway kernels, local kernels in a pool with gateway kernels, ``--strategy multi-worker``
clusters (new TensorFlow ports on every start) and the kernels of a study served beyond loopback
(a TLS certificate made for each run) are not kept: they end with their run, as before.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._utils.duration import format_duration

if TYPE_CHECKING:
    from .kernels import LocalKernel


@dataclass(frozen=True)
class Replay:
    """What a worker runs before its first trial: the extension (and any first steps), the
    setup cells, then the code loading each shipped variable (which names its content's
    digest: a changed value is changed code)."""

    head: tuple[str, ...]
    setup: tuple[str, ...]
    shipped: tuple[tuple[str, str], ...]  # (name, code)

    def steps(self) -> list[str]:
        return [*self.head, *self.setup, *(code for _, code in self.shipped)]


def plan(old: Replay | None, new: Replay) -> list[str] | None:
    """What a kernel that replayed ``old`` must run to be as a new kernel that replayed ``new``;
    None when only a restart can do that.

    Sound only in these cases: setup cells appended after the same ones (and no variable shipped
    before them, which a new kernel would not have yet when they run), and shipped variables
    added or changed (loading one again rebinds its name). A setup cell changed, removed or
    reordered, or a shipped variable dropped (its name would linger), needs a new kernel.
    """
    if old is None or old.head != new.head or new.setup[:len(old.setup)] != old.setup:
        return None
    added = list(new.setup[len(old.setup):])
    before, after = dict(old.shipped), dict(new.shipped)
    if (added and before) or not before.keys() <= after.keys():
        return None
    return added + [code for name, code in new.shipped if before.get(name) != code]


@dataclass
class Warm:
    """A kernel in the registry."""

    kernel: LocalKernel
    study: str = ""  # the last study it ran trials for
    used: float = 0.0  # time.time() when its last run gave it back
    leased: bool = False  # a run has it now
    doomed: bool = False  # stopped while leased: it ends with that run


class WarmKernels:
    """This process's warm worker kernels, at most one per slot identity."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kernels: dict[tuple[str, int], Warm] = {}
        # The study's proxy checks this secret; warm kernels keep it in their environment
        # between runs. It never leaves this process and the kernels it starts.
        self.token = secrets.token_urlsafe(32)

    def lease(self, kernel: LocalKernel, study: str) -> LocalKernel:
        """The kernel a run should use in ``kernel``'s slot: the warm one there, if it is idle
        and would start the same; else ``kernel`` itself (started by the run)."""
        key = (str(kernel.cwd), kernel.index)
        stale = None
        with self._lock:
            warm = self._kernels.get(key)
            if warm is None or warm.leased:  # none yet, or another run of this notebook has it
                if warm is None:
                    self._kernels[key] = Warm(kernel, study, leased=True)
                return kernel
            if warm.kernel.started_as == kernel.fingerprint() and warm.kernel.is_alive():
                warm.leased, warm.study = True, study
                return warm.kernel
            stale = warm.kernel  # dead, or started with another folder or environment
            self._kernels[key] = Warm(kernel, study, leased=True)
        if stale.is_alive():
            print(f"{stale.label}: the run needs another environment (storage, secret or "
                  "devices): starting a new kernel")
        stale.shutdown()
        return kernel

    def release(self, kernel: LocalKernel, clean: bool) -> None:
        """A run gives ``kernel`` back: kept warm if ``clean`` (idle, alive, set up), else shut
        down."""
        key = (str(kernel.cwd), kernel.index)
        with self._lock:
            warm = self._kernels.get(key)
            keep = clean and kernel.is_alive() and kernel.replayed is not None
            if warm is not None and warm.kernel is kernel:
                if keep and not warm.doomed:
                    warm.leased, warm.used = False, time.time()
                    return
                del self._kernels[key]
            elif keep and warm is None:  # its slot's kernel was ended meanwhile: take its place
                self._kernels[key] = Warm(kernel, used=time.time())
                return
        kernel.shutdown()

    def stop(self) -> tuple[list[Warm], list[Warm]]:
        """End the idle kernels now, and those in use when their run ends; return both lists."""
        with self._lock:
            idle = [w for w in self._kernels.values() if not w.leased]
            busy = [w for w in self._kernels.values() if w.leased]
            for warm in idle:
                del self._kernels[(str(warm.kernel.cwd), warm.kernel.index)]
            for warm in busy:
                warm.doomed = True
        for warm in idle:
            with contextlib.suppress(Exception):
                warm.kernel.shutdown()
        return idle, busy

    def __iter__(self) -> Iterator[Warm]:
        with self._lock:
            kernels = list(self._kernels.values())
        return iter(k for k in kernels if k.kernel.pid is not None)


REGISTRY = WarmKernels()


def list_text(registry: WarmKernels = REGISTRY) -> str:
    """``%automl kernels``: one line per warm kernel."""
    rows = list(registry)
    if not rows:
        return ("no warm worker kernels: a study with --kernels N starts them, and they stay "
                "for the next run in this notebook")
    now = time.time()
    lines = [f"{len(rows)} warm worker kernel{'s' * (len(rows) > 1)} (%automl kernels stop "
             "ends them):"]
    for warm in sorted(rows, key=lambda w: (str(w.kernel.cwd), w.kernel.index)):
        kernel = warm.kernel
        rss = kernel.rss_mb()
        state = f"busy: {warm.study}" if warm.leased else "idle"
        last = f", last study {warm.study!r} {format_duration(now - warm.used)} ago" \
            if not warm.leased and warm.study else ""
        lines.append(f"  {kernel.label:<15} pid {kernel.pid:<8} {state:<10} "
                     f"{'?' if rss is None else f'{rss:.0f}':>6} MB  up "
                     f"{format_duration(now - kernel.started)}{last}")
    return "\n".join(lines)


def stop_text(registry: WarmKernels = REGISTRY) -> str:
    """``%automl kernels stop``: end them all; say which."""
    idle, busy = registry.stop()
    if not idle and not busy:
        return "no warm worker kernels to stop"
    lines = []
    if idle:
        lines.append(f"stopped {len(idle)} warm worker kernel{'s' * (len(idle) > 1)}: "
                     + ", ".join(w.kernel.label for w in idle))
    for warm in busy:
        lines.append(f"{warm.kernel.label} runs study {warm.study!r}: it ends when that run "
                     f"does (%automl stop {warm.study} stops a background run)")
    return "\n".join(lines)
