"""TensorFlow's C++ start-up lines, kept out of a notebook when ``%load_ext`` ran first.

``import tensorflow`` (and so ``import keras``) prints absl's "All log messages before
absl::InitializeLog()" banner, oneDNN, CUDA-probe and CPU-feature notes from C++ straight to
file descriptor 2: ``TF_CPP_MIN_LOG_LEVEL`` does not reach them (they come before absl reads
it), and in a kernel ipykernel forwards that descriptor to the cell as red stderr. So
:func:`install` puts a finder on ``sys.meta_path`` that, on TensorFlow's first import only,
runs the real loader (and TensorFlow's device probe) with descriptor 2 sent to a temporary
file, then writes back every line that is not known noise (:mod:`.noise`): real errors still
show, only later. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

from .noise import is_noise

PACKAGE = "tensorflow"


@contextlib.contextmanager
def quiet_stderr_fd(noise: Callable[[str], bool] = is_noise) -> Iterator[None]:
    """Descriptor 2 into a temporary file for the block; afterwards the lines that are not
    ``noise`` go to ``sys.stderr`` (all of them when the block raised), so that in a notebook
    they land under the cell that ran the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines()
            kept = lines if failed else [line for line in lines if not noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


class QuietFirstImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: on the first import of :data:`PACKAGE` it leaves ``sys.meta_path``
    and, while ``enabled()`` says so, wraps the real loader in :func:`quiet_stderr_fd`."""

    def __init__(self, enabled: Callable[[], bool]) -> None:
        self.enabled = enabled

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != PACKAGE:
            return None
        uninstall()  # first import only; it also keeps find_spec below from finding us
        if not self.enabled():
            return None
        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        real = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            try:
                with quiet_stderr_fd():
                    real(module)
                    _probe_devices(module)
            finally:
                # the loader's own method again: a reload is as loud as TensorFlow makes it
                vars(loader).pop("exec_module", None)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _probe_devices(tensorflow: ModuleType) -> None:
    """Let TensorFlow look for its devices now, inside the quiet block: on a machine without a
    GPU its CUDA probe says "failed call to cuInit" (an E0000 line) at the first use of a
    device, under whichever cell trains first. Listing the physical devices initializes no
    device (memory growth and visible devices can still be set after, as TensorFlow's own
    guide does) and costs about 10 ms."""
    with contextlib.suppress(Exception):  # a TensorFlow without tf.config: nothing to probe
        tensorflow.config.list_physical_devices()


def install(enabled: Callable[[], bool]) -> None:
    """Quiet TensorFlow's first import while ``enabled()`` (asked at that import); nothing to
    do once TensorFlow is imported. Installing again replaces the earlier finder."""
    uninstall()
    if PACKAGE not in sys.modules:
        sys.meta_path.insert(0, QuietFirstImport(enabled))


def uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, QuietFirstImport)]


def installed() -> bool:
    return any(isinstance(finder, QuietFirstImport) for finder in sys.meta_path)
