"""``--kernels ray*N`` / ``ray:ADDRESS*N``: the trials on a Ray cluster, one Ray actor per slot.

One more executor of the one trial loop: a :class:`KernelPool` whose kernels are Ray actors
(:class:`~.kernels.RayKernel`). Ray places each actor on a node with the CPU and GPU share a
trial needs; the study stays in the notebook's kernel, served to the actors through the
authenticated proxy as to any worker kernel, so the live panel, Stop, ``--trial-timeout`` and
the failure rule are the pool's. A node or an actor lost mid-trial loses that trial: it is
retried from its checkpoint (``--checkpoint-store`` when the nodes share no disk) on a new
actor wherever Ray places it.

The run's setup (the ``%%automl_setup`` cells and the ``--ship`` variables) goes into Ray's
object store once per run; every actor the run starts, first or replacement, reads it there.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from ..errors import OptionError
from ._pool import SETUP_TIMEOUT, KernelPool, ship_path
from .kernels import RayKernel, WorkerDied, WorkerKernel, is_loopback, ray_connected

if TYPE_CHECKING:
    from .kernels import Served


def fitting(resources: dict[str, float], cpus: float, gpus: float | None) -> int:
    """How many actors of ``cpus`` CPUs (and ``gpus`` of a GPU) ``resources`` hold at once."""
    fit = math.floor(resources.get("CPU", 0) / cpus + 1e-9) if cpus else sys.maxsize
    if gpus:
        fit = min(fit, math.floor(resources.get("GPU", 0) / gpus + 1e-9))
    return fit


class RayPool(KernelPool):
    """Each slot a Ray actor on the cluster at ``address`` (``local``: a Ray for the run)."""

    restart_text = "starting a new Ray actor"
    keeps_warm = False  # actors end with the run (a local Ray too)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.address = cast(RayKernel, self.kernels[0]).address
        self.label = f"{self.slots} Ray worker{'s' * (self.slots > 1)}"
        self._put_lock = threading.Lock()
        self._setup: tuple[Any, list[str], list[Any]] | None = None  # refs in the object store

    @contextlib.contextmanager
    def session(self, run: Any) -> Iterator[None]:
        with ray_connected(self.address) as ray:
            self._check_cluster(ray)
            self._setup = None
            try:
                with super().session(run):
                    yield
            finally:
                self._setup = None  # the references go; Ray frees what they held

    def _check_cluster(self, ray: Any) -> None:
        """Say now what would leave trials waiting: nodes that cannot reach the study, fewer
        CPUs or GPUs than the actors hold (refused for a Ray for the run, which will never have
        more; a notice for a cluster, which may grow)."""
        beyond = sorted({n["NodeManagerAddress"] for n in ray.nodes()
                         if n.get("Alive") and not is_loopback(n["NodeManagerAddress"])})
        if beyond and is_loopback(self.host):
            raise OptionError(f"the Ray cluster has nodes beyond this machine ({', '.join(beyond)}"
                              f"), and the study is served on {self.host} only: add --listen "
                              "0.0.0.0 (the study is then served over TLS, to callers with the "
                              "run's secret only)")
        first = cast(RayKernel, self.kernels[0])
        resources = ray.cluster_resources()
        fit = fitting(resources, first.cpus, first.gpus)
        if fit >= self.slots:
            return
        has = f"{resources.get('CPU', 0):g} CPU" + \
            (f" and {resources.get('GPU', 0):g} GPU" if first.gpus else "")
        if self.address != "local":
            print(f"the Ray cluster has {has} now, and each of the {self.slots} actors holds "
                  f"{first.needs()}: {fit} fit, the others wait until Ray can place them (an "
                  "autoscaler adds nodes; Stop to give up)")
        elif first.gpus and not resources.get("GPU"):
            raise OptionError(f"--gpus-per-trial {first.gpus:g}: this machine has no GPU Ray "
                              "can use; drop --gpus-per-trial to train on the CPU")
        else:
            raise OptionError(f"--kernels ray*{self.slots}: the Ray for this run has {has}, and "
                              f"each actor holds {first.needs()}: give ray*{max(1, fit)} at most")

    def _payload(self) -> tuple[Any, list[str], list[Any]]:
        """The run's setup in Ray's object store, put there once: the steps (the extension,
        the setup cells), and each shipped variable's pickle."""
        import ray

        with self._put_lock:
            if self._setup is None:
                steps = ["%load_ext jupyter_automl", *self.first_steps(), *self.setup_cells]
                names = [name for name, _ in self.shipped]
                self._setup = (ray.put(steps), names,
                               [ray.put(ship_path(self.prepared, n).read_bytes()) for n in names])
            return self._setup

    def _prepare_worker(self, kernel: WorkerKernel, index: int) -> None:
        """Start the actor (the study's secret in its environment) and replay the run's setup
        from the object store in it."""
        actor = cast(RayKernel, kernel)
        if self._closing:
            raise WorkerDied(f"{actor.label}: the run is ending")
        served = cast("Served", self.served)  # a pool of remote workers is always proxied
        actor.env = {**actor.env, **served.env()}
        actor.start()
        steps, names, shipped = self._payload()
        self._check_setup(actor, actor.setup(steps, names, shipped, timeout=SETUP_TIMEOUT))
        self._configure(actor, index)
