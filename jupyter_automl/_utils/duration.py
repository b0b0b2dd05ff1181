"""Parsing of human durations such as ``90s``, ``30m``, ``1.5h`` or ``2h30m``."""

from __future__ import annotations

import re

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str) -> float:
    """Return ``text`` in seconds; a bare number is seconds.

    >>> parse_duration("2h30m")
    9000.0
    """
    text = text.strip().lower()
    if text.startswith("-"):
        raise ValueError(f"duration {text!r} must be positive, like 90s, 30m or 1.5h")
    try:
        seconds = float(text)
    except ValueError:
        parts = _PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(
                f"cannot read {text!r} as a duration; write it like 90s, 30m, 1.5h or 2h30m"
            ) from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be positive, like 90s, 30m or 1.5h")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form: ``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def eta(elapsed: float, finished_here: int, remaining: int) -> float | None:
    """Seconds left, at the pace of the trials finished in this run (None before the first)."""
    if not finished_here:
        return None
    return elapsed / finished_here * max(0, remaining)
