"""Did-you-mean suggestions for unknown names."""
from __future__ import annotations

from difflib import get_close_matches


def suggest(name: str, known: list[str]) -> str | None:
    close = get_close_matches(name.lower(), known, n=3, cutoff=0.5)
    return f"did you mean {', '.join(close)}?" if close else None
