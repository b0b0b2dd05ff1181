"""The project's rule for a component a test needs but cannot find (a browser, a package).

Locally such a test is skipped, with the reason. Under ``CI=true`` it fails instead: CI installs
everything (``.ci/run``), so a missing component there is a broken setup, not a reason to
quietly pass.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_or_skip(condition: object, reason: str) -> None:
    """Skip the calling test with ``reason`` unless ``condition``; under ``CI=true``, fail."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing component is a failure, not a skip)",
                    pytrace=False)
    pytest.skip(reason)


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def chromium_path() -> str | None:
    """Debian's chromium (``apt-get install chromium``); Playwright's download is not used."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")
