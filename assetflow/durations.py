"""Durations as users write them in settings: `"7d"`, `"24h"`, `"30m"`, `"1h30m"`, `"0"`.

One grammar for every setting that takes a span of time (`catchup` on a schedule, `max_age` and
`timeout` on an asset), so they read and fail alike. A `Duration` keeps the text as written, so
messages say `older than 24h`, not `older than 1 day, 0:00:00`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

UNITS = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1),
         "d": timedelta(days=1), "w": timedelta(weeks=1)}
_PART = re.compile(r"(\d+)([smhdw])", re.ASCII)
_WHOLE = re.compile(r"(?:\d+[smhdw])+", re.ASCII)
EXAMPLES = '"30m", "12h", "7d", "1h30m"'


@dataclass(frozen=True, slots=True)
class Duration:
    """A span of time and the text it was written as."""

    text: str
    delta: timedelta

    def __str__(self) -> str:
        return self.text


def parse_duration(text: str) -> Duration | None:
    """The duration `text` spells, or None when it is not one (the caller names the setting).

    >>> parse_duration("1h30m").delta
    datetime.timedelta(seconds=5400)
    >>> parse_duration("0").delta
    datetime.timedelta(0)
    >>> parse_duration("7 days") is None
    True
    """
    cleaned = text.strip().lower()
    if cleaned == "0":
        return Duration(text.strip(), timedelta(0))
    if not _WHOLE.fullmatch(cleaned):
        return None
    try:
        total = sum((int(n) * UNITS[unit] for n, unit in _PART.findall(cleaned)), timedelta(0))
    except OverflowError:          # past timedelta's ~2.7 million years: not a span anyone means
        return None
    return Duration(text.strip(), total)
