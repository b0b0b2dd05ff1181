"""Where a study is shown: live widgets, static figures (saved notebooks) or plain text, one
row of :data:`DISPLAYS` each: what listens to a run, and how a stored study is drawn again
(``%automl show``, ``jupyter-automl show``). The magic's ``display`` setting, the library API
and the ``show`` verb all read that table.

``auto`` picks widgets in a live Jupyter kernel, static figures when the kernel runs headless
(papermill, nbclient, nbconvert, ``jupyter-automl run``: no one sees widgets there, and saved
widget state would be stale), and text outside a kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OptionError
from ._where import headless, in_kernel

if TYPE_CHECKING:
    from ..engine import Listener


@dataclass(frozen=True)
class Display:
    """One way to show a study."""

    listeners: Callable[[], list[Listener]]  # what a run in the cell tells (one whose
    # ``controls`` is true takes a background run's Stop/Resume)
    show: Callable[[str, str | Path, str | None], Any]  # a stored study drawn again: its
    # name, runs folder and storage URL (None: the spec's); returns the panel, if any


def _panel() -> list[Listener]:
    from ._panel import StudyPanel

    return [StudyPanel()]


def _static() -> list[Listener]:
    from ._progress import ProgressLine
    from ._static import StaticReport

    return [ProgressLine(), StaticReport()]


def _text() -> list[Listener]:
    from ._progress import ProgressLine

    return [ProgressLine()]


def _show_panel(name: str, runs_dir: str | Path, storage: str | None) -> Any:
    from ._model import StudyModel
    from ._panel import StudyPanel

    result = _loaded(name, runs_dir, storage)
    panel = StudyPanel()
    panel.attach(StudyModel.from_result(result), result.study)
    return panel


def _show_static(name: str, runs_dir: str | Path, storage: str | None) -> None:
    from ._model import StudyModel
    from ._static import show

    result = _loaded(name, runs_dir, storage)
    show(StudyModel.from_result(result), result.study)


def _show_text(name: str, runs_dir: str | Path, storage: str | None) -> None:
    from ..results import show_text

    print(show_text(name, runs_dir, storage))


def _loaded(name: str, runs_dir: str | Path, storage: str | None) -> Any:
    """The study read back, its summary printed above its charts."""
    from ..results import load_result

    result = load_result(name, runs_dir, storage)
    print(result.summary())
    return result


# The ways a study is shown, by the names the magic's ``display`` setting takes. A new way is
# a listener module in ui/ and a row here.
DISPLAYS: dict[str, Display] = {
    "widgets": Display(_panel, _show_panel),
    "static": Display(_static, _show_static),
    "text": Display(_text, _show_text),
}
AUTO = "auto"  # picked by where the study runs (display_mode)


def display_mode(setting: str = AUTO) -> str:
    """The row of :data:`DISPLAYS` that ``setting`` (a row's name, or ``auto``) means here."""
    if setting in DISPLAYS:
        return setting
    if setting != AUTO:
        raise OptionError(f"display {setting!r}: use one of {AUTO}, {', '.join(DISPLAYS)}")
    if not in_kernel():
        return "text"
    return "static" if headless() else "widgets"
