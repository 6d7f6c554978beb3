"""How an answer read from a snapshot says so (a writer held the database; `run/reads.py`)."""
from __future__ import annotations

from typing import Any


def snapshot_json(notice: Any) -> dict[str, Any] | None:
    """The `snapshot` key of status, runs, runs show and dry-run JSON: null when the answer was
    read from the database itself."""
    return None if notice is None else notice.as_json()


def snapshot_text(notice: Any) -> str | None:
    """The line printed above a text answer read from a snapshot."""
    return None if notice is None else f"Note: {notice.message}."
