"""jupyter-automl: a notebook cell as a deep-learning AutoML study.

``%load_ext jupyter_automl`` registers ``%%automl``, ``%%automl_setup`` and ``%automl``. Nothing
here imports tensorflow, keras, plotly or optuna: they load when a study first needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import AutomlError
from .runs import DEFAULT_RUNS_DIR
from .space import hp
from .version import __version__

if TYPE_CHECKING:
    from .results import AutomlResult
    from .ui.space_builder import SpaceBuilder

__all__ = ["AutomlError", "SpaceBuilder", "__version__", "hp", "load_ipython_extension", "result",
           "run_study"]


def __getattr__(name: str) -> Any:
    # The builder imports ipywidgets: load it on first use, never with the package.
    if name == "SpaceBuilder":
        from .ui.space_builder import SpaceBuilder

        return SpaceBuilder
    raise AttributeError(f"module 'jupyter_automl' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension (JupyterLab's AutoML sidebar): :mod:`jupyter_automl.lab`."""
    return [{"module": "jupyter_automl.lab"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-automl"}]


def load_ipython_extension(ipython: Any) -> None:
    # Imported here so that `import jupyter_automl` stays free of IPython's magic machinery.
    from ._magic import register

    register(ipython)


def result(name: str, runs_dir: str = DEFAULT_RUNS_DIR) -> AutomlResult:
    """The study ``name`` in ``runs_dir``: best params and value(s), trials and best model."""
    from .results import AutomlResult

    return AutomlResult.load(name, runs_dir)


def run_study(source: str, options: str = "", namespace: dict[str, Any] | None = None,
              **kwargs: Any) -> AutomlResult | None:
    """Run ``source`` (a cell body) as a study without IPython; ``options`` is the option line.

    Returns the study's result (None with ``--check``, which runs no study).
    """
    from ._api import run_study as _run

    return _run(source, options, namespace, **kwargs)
