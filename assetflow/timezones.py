"""Local calendars for time partitions: naive local wall-clock times <-> naive UTC instants.

Partition maths keeps naive datetimes (local for keys and calendar steps, UTC for windows); this
module is the one crossing between them. A local midnight that does not exist (a zone that moves
its clocks at midnight) stands for the first instant after the gap, and one that occurs twice for
its first pass: `fold=0` gives exactly that. A UTC instant is never ambiguous.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc


def utc_now() -> datetime:
    """Now as a naive UTC instant: how the state store and the partition windows keep time."""
    return datetime.now(UTC).replace(tzinfo=None)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine's tzdata has."""
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):        # ValueError: not a key at all ("../x", "")
        return False
    return True


def local_to_utc(local: datetime, name: str) -> datetime:
    """The naive UTC instant a naive local time stands for (fold=0: gap times move forward)."""
    return local.replace(tzinfo=zone(name), fold=0).astimezone(UTC).replace(tzinfo=None)


def utc_to_local(instant: datetime, name: str) -> datetime:
    """The naive local wall-clock time at a naive UTC instant."""
    return instant.replace(tzinfo=UTC).astimezone(zone(name)).replace(tzinfo=None)


def aware_local(instant: datetime, name: str) -> datetime:
    """A naive UTC instant as an aware local datetime (what `$start` binds as TIMESTAMPTZ)."""
    return instant.replace(tzinfo=UTC).astimezone(zone(name))
