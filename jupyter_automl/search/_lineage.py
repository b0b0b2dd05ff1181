"""What a search strategy records with each trial it draws, and how the trial table reads it."""

from __future__ import annotations

from typing import Any

# user attributes of a trial drawn by --sampler evolution
EVOLVED_FROM = "evolved_from"  # the number of the trial it copied and mutated
MUTATION = "mutation"  # the parameter it changed: "op_3 conv3→skip"


def origin_text(attrs: dict[str, Any]) -> str | None:
    """``mutated from 12: op_3 conv3→skip``: how an evolved trial came to be (None for others).
    A child whose mutated parameter it never drew (a conditional branch it left) reads
    ``copied from 12``."""
    parent = attrs.get(EVOLVED_FROM)
    if parent is None:
        return None
    mutation = attrs.get(MUTATION)
    return f"mutated from {parent}: {mutation}" if mutation else f"copied from {parent}"
