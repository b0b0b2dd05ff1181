"""Showing a study: the live panel (widgets and Plotly charts), the static report of a saved
notebook, the progress line of a terminal, and where each applies (:func:`display_mode`); and
the space builder. The first three are listeners of the engine's loop.

Widgets and Plotly load with the first panel or chart, never with the package: the names
below that need them are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._display import AUTO, DISPLAYS, Display, display_mode
from ._progress import ProgressLine
from ._where import HEADLESS_ENV, in_kernel

if TYPE_CHECKING:
    from ._model import StudyModel
    from ._panel import StudyPanel
    from ._static import StaticReport
    from ._static import show as show_static

_LAZY = {"StudyModel": "_model", "StudyPanel": "_panel", "StaticReport": "_static",
         "show_static": "_static"}

__all__ = ["AUTO", "DISPLAYS", "HEADLESS_ENV", "Display", "ProgressLine", "StaticReport",
           "StudyModel", "StudyPanel", "display_mode", "in_kernel", "show_static"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
    return getattr(module, "show" if name == "show_static" else name)
