"""Worker kernels that run trials for a study the notebook's kernel (the driver) owns."""

from ._base import KernelError, SetupError, WorkerDied, WorkerKernel

__all__ = ["KernelError", "SetupError", "WorkerDied", "WorkerKernel"]
