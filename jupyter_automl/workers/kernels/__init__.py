"""Worker kernels that run trials for a study the notebook's kernel (the driver) owns: local ones
(jupyter_client), remote ones (a Kernel Gateway) and Ray actors, and the study served to them."""

from ._base import KernelError, Reply, SetupError, WorkerDied, WorkerHung, WorkerKernel
from ._gateway import TOKEN_ENV as GATEWAY_TOKEN_ENV
from ._gateway import GatewayKernel
from ._local import LocalKernel
from ._proxy import CERT_ENV, TOKEN_ENV, Served, connect, connect_from_env, is_loopback, serve
from ._ray import RayKernel, ray_connected

__all__ = ["CERT_ENV", "GATEWAY_TOKEN_ENV", "TOKEN_ENV", "GatewayKernel", "KernelError",
           "LocalKernel", "RayKernel", "Reply", "Served", "SetupError", "WorkerDied",
           "WorkerHung", "WorkerKernel", "connect", "connect_from_env", "is_loopback",
           "ray_connected", "serve"]
