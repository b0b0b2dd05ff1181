"""``jupyter-automl show|export|dashboard``: one study from the command line."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to the ``jupyter-automl`` parser's ``sub``."""
    del sub  # filled in by the study commands


def _unused(args: argparse.Namespace) -> int:
    return 0
