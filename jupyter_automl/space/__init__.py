"""The search space: ``hp`` (bound to the running trial), a parameter's range
(:class:`ParamSpec`) and its checks, the space read from a cell's source before any trial runs,
the cell's ``hp`` calls rewritten by the space builder, and spaces saved by name."""

from ._hp import (
    KINDS,
    HyperParameters,
    ParamSpec,
    StaticSpace,
    TrialSpace,
    check_consistent,
    check_space,
    hp,
    read_space,
    validate,
)
from ._hp import bind as bind_space
from ._hp import unbind as unbind_space
from ._saved import load as load_space
from ._saved import names as saved_spaces
from ._saved import save as save_space
from ._source import read as read_cell_space
from ._source import render as render_space
from ._source import rewrite as rewrite_cell
from ._source import split_magic, unmatched, value_source

__all__ = [
    "KINDS", "HyperParameters", "ParamSpec", "StaticSpace", "TrialSpace", "bind_space",
    "check_consistent", "check_space", "hp", "load_space", "read_cell_space", "read_space",
    "render_space", "rewrite_cell", "save_space", "saved_spaces", "split_magic",
    "unbind_space", "unmatched", "validate", "value_source",
]
