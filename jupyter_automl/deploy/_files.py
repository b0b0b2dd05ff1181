"""What writing model files needs, whatever their format: atomic writes, sizes, TensorFlow's
C++ log kept off stderr, and its errors turned into :class:`~jupyter_automl.errors.AutomlError`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .._utils.tf_startup import quiet_stderr_fd
from ..errors import AutomlError


def write_file(target: Path, write: Callable[[str], object]) -> None:
    """Write ``target`` whole or not at all, readable as any new file of the user's is."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def as_automl_error(what: str) -> Iterator[None]:
    try:
        yield
    except AutomlError:
        raise
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise AutomlError(f"{what}: {type(exc).__name__}: {text[0] if text else ''}") from exc


# TensorFlow's C++ log lines (absl/glog format) and start-up notes, which TF_CPP_MIN_LOG_LEVEL
# does not all silence; the converter writes dozens of them per model.
_TF_NOISE = re.compile(r"^([IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]|"
                       r"WARNING: All log messages before absl::InitializeLog|"
                       r"To enable the following instructions: |"
                       r"INFO: Created TensorFlow Lite XNNPACK delegate|"
                       r"fully_quantize: \d|"
                       r"WARNING:tensorflow:.* triggered tf.function retracing)")


@contextlib.contextmanager
def tf_quiet() -> Iterator[None]:
    """Keep TensorFlow's chatter off stderr: its C++ log lines (other lines pass, and all of
    them on failure) and its Python loggers' notes ("Assets written to", retracing warnings),
    which in a notebook would land in the cell's output."""
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with quiet_stderr_fd(lambda line: _TF_NOISE.match(line) is not None):
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 ** 2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 ** 2:.1f} MiB"
