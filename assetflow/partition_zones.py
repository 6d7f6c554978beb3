"""The `timezone` setting of a time partitioning, checked: day, week and month only; an IANA name."""
from __future__ import annotations

from typing import Any, Callable

from assetflow.errors import ProjectError
from assetflow.names import suggest
from assetflow.partitions import Grain
from assetflow.timezones import known_zone

_EXAMPLES = '"UTC", "Europe/Berlin" or "America/New_York"'


def partition_zone(raw: dict[str, Any], grain: Grain, path: str, at: Callable[[str], int | None]) -> str | None:
    """The time zone the partitions' calendar is in; None for UTC (written or left out), so a
    partitioning with `timezone = "UTC"` is the very same as one without."""
    name = raw.get("timezone")
    if name is None:
        return None
    if grain is Grain.HOUR:
        raise ProjectError("hour partitions are always UTC: timezone works with day, week or month partitions",
                           path=path, line=at("timezone"),
                           hint="remove timezone (an hour key such as 2024-01-31T05 is a UTC hour)")
    if not known_zone(name):
        from zoneinfo import available_timezones       # only on this error path: it scans tzdata
        hint = suggest(name, sorted(available_timezones())) or f"use an IANA time zone name such as {_EXAMPLES}"
        raise ProjectError(f"unknown time zone '{name}'", path=path, line=at("timezone"), hint=hint)
    return None if name == "UTC" else name
