"""One exception family for everything a user can get wrong.

Every class derives from IPython's ``UsageError`` and renders itself as its message alone (IPython
shows a bare message only for ``UsageError`` itself, so subclasses say so through
``_render_traceback_``): no internal traceback. Messages name the bad value and the fix.
"""

from __future__ import annotations

try:  # IPython is a dependency, but the library API also works where it is absent.
    from IPython.core.error import UsageError as _Base
except ImportError:  # pragma: no cover - exercised only without IPython
    _Base = Exception  # type: ignore[misc,assignment]


class AutomlError(_Base):  # type: ignore[misc,valid-type]
    """Base class of every error jupyter-automl raises for bad input or a bad state."""

    def _render_traceback_(self) -> list[str]:
        return f"{type(self).__name__}: {self}".splitlines()


class OptionError(AutomlError):
    """A magic option that is unknown or malformed."""


class SpaceError(AutomlError):
    """A search-space definition that cannot be sampled."""


class MetricError(AutomlError):
    """An objective metric that the trial's logs or return value do not have."""


class TrialValueError(AutomlError):
    """A trial produced a value that is not a finite number."""


class StorageError(AutomlError):
    """The study's storage cannot be opened or written."""


class StudyConflictError(AutomlError):
    """The cell asks for a study that contradicts the stored one (directions, metrics)."""


class PbtError(AutomlError):
    """A cell population-based training cannot run (no mutable parameter, no Keras fit)."""


class TooManyFailuresError(AutomlError):
    """Several trials in a row failed: the cell is probably broken for every parameter set."""


class StudyInterrupted(AutomlError):
    """The user interrupted the study; finished trials are kept and a rerun resumes."""


class StudyNotFoundError(AutomlError):
    """No study of that name exists in the runs folder."""


class ExportError(AutomlError):
    """The study's best model could not be written (disk full, permissions)."""
