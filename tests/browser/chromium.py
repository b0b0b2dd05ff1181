"""Debian's Chromium driven by Playwright (Playwright's own browser download is not used)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright: Any, executable: str, user_data_dir: Path,
           viewport: tuple[int, int] = (1280, 1900)) -> Any:
    """A headless browser context with a fresh profile in ``user_data_dir``; closing the
    context ends the browser."""
    user_data_dir.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=executable, headless=True, args=ARGS,
        viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1,
        timeout=60_000)
