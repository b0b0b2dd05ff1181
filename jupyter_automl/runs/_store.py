"""A checkpoint store every machine reaches (``--checkpoint-store``): the trials' checkpoints
and the best model, kept beside the runs folder in one of Optuna's artifact stores, so that a
trial retried on any machine resumes from its last checkpoint without a shared disk.

``s3://BUCKET[/PREFIX]``: an S3-compatible bucket through boto3 (Optuna's
``Boto3ArtifactStore``); the endpoint and the credentials come from boto3's own environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, a profile), never from
the URL. ``file:///PATH`` or a plain path: a folder (Optuna's ``FileSystemArtifactStore``),
for a disk the machines mount.

A trial's checkpoint goes to two slots in turn (``checkpoint.0.npz``, ``checkpoint.1.npz``):
an upload cut short spoils the slot it was writing, never the one before, and a reader takes
the newest slot it can read.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import OptionError

SLOTS = 2
_S3 = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^?#]*)?$")


class CheckpointStore:
    """One study's files in the store, each named ``<study>.<name>`` (a prefix in a bucket)."""

    def __init__(self, url: str, study: str) -> None:
        self.url = url
        self.study = study
        self._store, self._prefix = _open(url)

    def key(self, name: str) -> str:
        return f"{self._prefix}{self.study}.{name}"

    def put(self, name: str, data: bytes) -> None:
        """Write ``name`` whole (an S3 object is replaced at once; a file is written in
        place: the two checkpoint slots are what keeps a cut-short write harmless)."""
        self._store.write(self.key(name), io.BytesIO(data))

    def get(self, name: str) -> bytes | None:
        """``name``'s bytes; None when the store has no such file."""
        from optuna.artifacts.exceptions import ArtifactNotFound

        try:
            with self._store.open_reader(self.key(name)) as reader:
                return bytes(reader.read())
        except ArtifactNotFound:
            return None

    def __repr__(self) -> str:
        return f"<checkpoint store {self.url} ({self.study})>"


def checkpoint_slot(number: int, slot: int) -> str:
    """The store's name of trial ``number``'s checkpoint in ``slot``."""
    return f"trial-{number}.checkpoint.{slot}.npz"


BEST_MODEL = "best.model.keras"  # the study's best model, as best/model.keras


def check_store_url(url: str) -> str:
    """``url`` if it names a store this machine can open, else an OptionError saying why."""
    _open(url, check_only=True)
    return url


def _open(url: str, check_only: bool = False) -> tuple[Any, str]:
    if url.startswith("s3://"):
        parsed = urlparse(url)
        if parsed.username or parsed.password or "@" in parsed.netloc:
            raise OptionError("--checkpoint-store: credentials never go in the URL (it is "
                              "written to the study's spec and to logs); give them to boto3 "
                              "through its environment: AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY, or a profile (AWS_PROFILE)")
        found = _S3.match(url)
        if found is None:
            raise OptionError(f"--checkpoint-store {url!r}: write s3://BUCKET or "
                              "s3://BUCKET/PREFIX (a bucket name of 3 to 63 lowercase "
                              "letters, digits, dots and dashes)")
        try:
            import boto3
        except ImportError:
            raise OptionError("--checkpoint-store s3://... needs boto3: pip install "
                              "'jupyter-automl[s3]' (or pip install boto3)") from None
        if check_only:
            return None, ""
        from optuna.artifacts import Boto3ArtifactStore

        bucket, prefix = found.group(1), (found.group(2) or "").strip("/")
        # the endpoint (AWS_ENDPOINT_URL) and credentials: boto3's environment
        return Boto3ArtifactStore(bucket, client=boto3.client("s3")), \
            f"{prefix}/" if prefix else ""
    path = Path(url[len("file://"):] if url.startswith("file://") else url).expanduser()
    if "://" in url and not url.startswith("file://"):
        raise OptionError(f"--checkpoint-store {url!r}: use s3://BUCKET[/PREFIX] or a folder "
                          "(file:///PATH or a path)")
    if check_only:
        return None, ""
    from optuna.artifacts import FileSystemArtifactStore

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"--checkpoint-store {url!r}: the folder cannot be made ({exc})") \
            from None
    return FileSystemArtifactStore(path.absolute()), ""
