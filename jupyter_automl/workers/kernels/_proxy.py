"""The driver's study, served to its worker kernels through Optuna's gRPC storage proxy, and
to nobody else.

Optuna's proxy has no authentication of its own: anyone who can reach its port could read and
write the study. Here every call must carry a secret (``authorization:
Bearer ...`` metadata), checked by a server interceptor before the call reaches the storage;
a call without it is refused with ``UNAUTHENTICATED`` and changes nothing. On loopback that
is the whole protection (the port is open to this machine only). On any other address the
channel is also TLS, with a certificate made for this run that the workers pin (their only
trusted root), so the secret and the study never cross the network in the clear.

The secret and the certificate reach the workers in their environment (:data:`TOKEN_ENV`,
:data:`CERT_ENV`), as the kernel's own key does: never in the code they run, never in an
output. ``KERNEL_*`` names, because a Kernel Gateway passes only those to its kernels. The
secret is made for the run, except for warm local kernels (:mod:`.._warm`), which keep theirs
from run to run: one made for the notebook's kernel, known to it and its workers alone (a new
secret each run would mean a new environment, so new kernels). Beyond loopback no kernel is
kept warm: the certificate is made for each run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import grpc  # only workers and drivers of worker kernels import this module

from ...errors import OptionError

TOKEN_ENV = "KERNEL_AUTOML_STUDY_TOKEN"
CERT_ENV = "KERNEL_AUTOML_STUDY_CERT"
SERVER_NAME = "jupyter-automl-study"  # the name in the certificate, which workers check
_MESSAGES = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


@dataclass(frozen=True)
class Served:
    """Where the study is served, and what a worker needs to reach it."""

    host: str  # the address listened on
    port: int
    token: str
    cert: str | None  # PEM, when the channel is TLS

    def env(self) -> dict[str, str]:
        """The worker kernels' environment entries for this study."""
        return {TOKEN_ENV: self.token, **({CERT_ENV: self.cert} if self.cert else {})}

    def address(self, remote: bool) -> str:
        """The host a worker connects to: a wildcard listen address means this machine, by
        loopback for a local kernel and by name for a remote one."""
        if self.host not in ("0.0.0.0", "::", ""):
            return self.host
        return socket.getfqdn() if remote else "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def serve(storage: Any, host: str = "127.0.0.1",
          token: str | None = None) -> Iterator[Served]:
    """Serve ``storage`` on ``host`` (loopback unless told otherwise) while the block runs,
    to callers with ``token`` (default: a new secret)."""
    from ..._optuna import add_storage_service

    token = token or secrets.token_urlsafe(32)
    server = grpc.server(ThreadPoolExecutor(max_workers=10), interceptors=[_Check(token)],
                         options=_MESSAGES)
    add_storage_service(server, storage)
    where = f"[{host}]:0" if ":" in host else f"{host}:0"
    cert = None
    try:
        if is_loopback(host):
            port = server.add_insecure_port(where)
        else:
            cert, key = _certificate()
            port = server.add_secure_port(where, grpc.ssl_server_credentials([(key, cert)]))
    except RuntimeError as exc:  # grpc's "Failed to bind": an address not of this machine
        raise OptionError(f"--listen {host}: cannot serve the study there ({exc}); give an "
                          "address of this machine, or 0.0.0.0 for all of them") from None
    server.start()
    try:
        yield Served(host, port, token, None if cert is None else cert.decode())
    finally:
        server.stop(grace=1)


def connect(host: str, port: int, token: str, cert: str | None = None) -> Any:
    """A worker's storage: Optuna's proxy client on a channel that carries ``token`` on every
    call (and, with ``cert``, is TLS trusting that certificate alone)."""
    if cert is None:
        channel = grpc.insecure_channel(f"{host}:{port}", options=_MESSAGES)
    else:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.encode())
        channel = grpc.secure_channel(f"{host}:{port}", credentials, options=[
            *_MESSAGES, ("grpc.ssl_target_name_override", SERVER_NAME)])
    from ..._optuna import storage_client

    return storage_client(grpc.intercept_channel(channel, _Token(token)), host, port)


def connect_from_env(host: str, port: int) -> Any:
    """:func:`connect` with the secret (and certificate) the driver put in this worker's
    environment."""
    import os

    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise OptionError(f"this worker kernel did not get the study's secret ({TOKEN_ENV} is "
                          "not in its environment). A Kernel Gateway passes its kernels only "
                          "KERNEL_* variables: check that it passes this one")
    return connect(host, port, token, os.environ.get(CERT_ENV))


# -- the two ends of the secret ----------------------------------------------------------------
class _Check(grpc.ServerInterceptor):  # type: ignore[misc]
    """Server side: every call carries the run's secret, or is refused before it is handled."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()
        self._refused = grpc.unary_unary_rpc_method_handler(self._refuse)

    @staticmethod
    def _refuse(request: Any, context: Any) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED,
                      "this study is served to its worker kernels only")

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        given = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(str(given).encode(), self._expected):
            return continuation(details)
        return self._refused


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _Call(_CallDetails, grpc.ClientCallDetails):  # type: ignore[misc]
    pass


class _Token(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Client side: adds the run's secret to every call."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        call = _Call(details.method, details.timeout, [*(details.metadata or []), self._header],
                     details.credentials, details.wait_for_ready, details.compression)
        return continuation(call, request)


def _certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) and its private key, made for this run: the key never
    leaves this process's memory; the certificate is the workers' only trusted root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem_key
