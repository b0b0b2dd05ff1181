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
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from ..errors import OptionError
from ._pool import SETUP_TIMEOUT, KernelPool, ship_path
from .kernels import RayKernel, WorkerDied, WorkerKernel, is_loopback, ray_connected

if TYPE_CHECKING:
    from .kernels import Served


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
        """Say now what would leave every trial waiting: nodes that cannot reach the study, no
        GPU for ``--gpus-per-trial``."""
        beyond = sorted({n["NodeManagerAddress"] for n in ray.nodes()
                         if n.get("Alive") and not is_loopback(n["NodeManagerAddress"])})
        if beyond and is_loopback(self.host):
            raise OptionError(f"the Ray cluster has nodes beyond this machine ({', '.join(beyond)}"
                              f"), and the study is served on {self.host} only: add --listen "
                              "0.0.0.0 (the study is then served over TLS, to callers with the "
                              "run's secret only)")
        first = cast(RayKernel, self.kernels[0])
        resources = ray.cluster_resources()
        cpus, needed = resources.get("CPU", 0), first.cpus * self.slots
        if cpus < needed:
            if self.address == "local":
                raise OptionError(f"--kernels ray*{self.slots}: the Ray for this run has "
                                  f"{cpus:g} CPUs, and each actor holds {first.cpus:g}: give "
                                  f"ray*{max(1, int(cpus // first.cpus))} at most")
            print(f"the Ray cluster has {cpus:g} CPUs now, and the {self.slots} actors need "
                  f"{needed:g}: some wait until Ray places them (an autoscaler adds nodes)")
        gpus, have = first.gpus, resources.get("GPU", 0)
        if gpus and have < gpus:
            if self.address == "local":
                raise OptionError(f"--gpus-per-trial {gpus:g}: this machine has no GPU Ray can "
                                  "use; drop --gpus-per-trial to train on the CPU")
            print(f"the Ray cluster has {have:g} GPU now and each trial needs {gpus:g}: the "
                  "trials wait until a node with one joins (Stop to give up)")

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
