"""Trials on other kernels: a pool of worker kernels (local, on a Kernel Gateway, or Ray actors
on a Ray cluster), each running trials of the driver's study, or a cluster of them running each
trial together under MultiWorkerMirroredStrategy. All are executors of the engine's one loop."""

from . import _warm as warm_kernels
from ._cluster import KernelCluster
from ._pool import KernelPool
from ._ray import RayPool
from .kernels import (
    GatewayKernel,
    KernelError,
    LocalKernel,
    RayKernel,
    SetupError,
    WorkerDied,
)

__all__ = ["GatewayKernel", "KernelCluster", "KernelError", "KernelPool", "LocalKernel",
           "RayKernel", "RayPool", "SetupError", "WorkerDied", "warm_kernels"]
