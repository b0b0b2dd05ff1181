"""One exception family for everything a user can get wrong.

Every class derives from IPython's ``UsageError`` so that a notebook shows the message alone,
without an internal traceback. Messages name the offending value and say how to fix it.
"""

from __future__ import annotations

try:  # IPython is a dependency, but the library API also works where it is absent.
    from IPython.core.error import UsageError as _Base
except ImportError:  # pragma: no cover - exercised only without IPython
    _Base = Exception  # type: ignore[misc,assignment]


class AutomlError(_Base):  # type: ignore[misc,valid-type]
    """Base class of every error jupyter-automl raises for bad input or a bad state."""


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


class TooManyFailuresError(AutomlError):
    """Several trials in a row failed: the cell is probably broken for every parameter set."""


class StudyInterrupted(AutomlError):
    """The user interrupted the study; finished trials are kept and a rerun resumes."""


class StudyNotFoundError(AutomlError):
    """No study of that name exists in the runs folder."""
