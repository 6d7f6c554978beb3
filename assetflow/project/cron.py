"""The croniter wall: cron text -> validated expression -> its matches in naive wall-clock time.

croniter is asked only one question: which wall-clock minutes match, on a naive calendar that
knows nothing of time zones. It is never handed an aware datetime, because across DST it gets
both edge cases wrong for us (checked with croniter 7.0.0 in America/New_York): `30 2 * * *` on
the spring-forward day fires at 03:00 instead of 03:30, and `30 1 * * *` on the fall-back day
fires twice, 05:30Z and 06:30Z (PrefectHQ/prefect#7461). Turning wall-clock matches into
instants is ticks.py's job, with zoneinfo.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterator

from croniter import croniter
from croniter.croniter import CroniterError

ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}
FORMS = 'five fields "minute hour day-of-month month day-of-week" (e.g. "0 2 * * *"), ' \
        f"or {', '.join(ALIASES)}"
_PROBE_START = datetime(2000, 1, 1)


class CronError(ValueError):
    """A cron expression that is not one; the message says why (the caller adds file and key)."""


def normalize_cron(text: str) -> str:
    """The expression in one spelling (aliases expanded, single spaces), or CronError.

    >>> normalize_cron("@daily")
    '0 0 * * *'
    >>> normalize_cron(" 0  2 * * * ")
    '0 2 * * *'
    """
    stripped = text.strip()
    if stripped.startswith("@"):
        if stripped.lower() not in ALIASES:
            raise CronError(f"'{stripped}' is not a known cron alias")
        return ALIASES[stripped.lower()]
    fields = stripped.split()
    if len(fields) != 5:
        # croniter also reads 6 and 7 fields (seconds, years); schedules tick on minutes
        raise CronError(f"'{stripped}' has {len(fields)} fields, a cron has 5")
    expression = " ".join(fields)
    try:
        croniter(expression, _PROBE_START).get_next(datetime)
    except CroniterError as exc:      # bad field, out of range, or a date that never comes (30 2)
        raise CronError(f"'{stripped}' is not a valid cron: {exc}") from None
    return expression


def wall_matches(expression: str, after: datetime, until: datetime) -> Iterator[datetime]:
    """Naive wall-clock minutes matching `expression`, in order, with after < m <= until."""
    it = croniter(expression, after)
    while True:
        moment = it.get_next(datetime)
        if moment > until:
            return
        yield moment


def matches(expression: str, moment: datetime) -> bool:
    """Whether the naive wall-clock minute `moment` matches `expression`."""
    return moment.second == 0 and moment.microsecond == 0 and croniter.match(expression, moment)
