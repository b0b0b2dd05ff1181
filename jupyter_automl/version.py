"""The package's version, in a module of its own: inner modules import it from here, never
from the package root (which would make every module depend on the whole package)."""

__version__ = "0.1.0"
