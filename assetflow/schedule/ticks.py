"""A schedule's ticks: wall-clock matches of its cron in its time zone, as UTC instants.

The rules (SPEC section 11), applied here and nowhere else:
- a wall-clock minute the cron matches is read in the zone with `fold=0`;
- so a minute that does not exist (the spring-forward gap) fires once, shifted forward by the gap
  (America/New_York 02:30 -> 03:30 EDT, Australia/Lord_Howe 02:15 -> 02:45);
- and a minute that occurs twice (fall-back) fires once, at its first occurrence; the second pass
  through that hour fires nothing, so an hourly cron pauses for two hours that night;
- instants are deduplicated (a shifted 02:00 lands on 03:00) and returned strictly increasing.

Intervals are half-open on the left, `(after, until]`: a tick exactly at `until` is in, one
exactly at `after` is not, so `(a, b] + (b, c] == (a, c]` and a cursor at the last handled tick
never hands it out again.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from assetflow.project.cron import wall_matches
from assetflow.project.schedules import ScheduleSpec

UTC = timezone.utc
_LONGEST_SEARCH = timedelta(days=366 * 30)   # a valid cron matches within 28 years (Feb 29 on a Monday)


def to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a naive wall-clock time stands for: fold=0, so gap times move forward by the
    gap (they take the offset in force before it) and repeated times are the first pass."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def ticks_between(spec: ScheduleSpec, after: datetime, until: datetime) -> list[datetime]:
    """The ticks t with after < t <= until, as aware UTC instants, strictly increasing."""
    _require_aware(after, until)
    if until <= after:
        return []
    zone = spec.zone
    # A wall-clock minute lands at most one offset change away from where the naive clock says,
    # so look a little wider than the interval on the wall clock and keep what lands inside it.
    wall_after = _wall(after, zone) - _offset_spread(after, zone)
    wall_until = _wall(until, zone) + _offset_spread(until, zone)
    instants = {to_utc(m, zone) for m in wall_matches(spec.cron, wall_after, wall_until)}
    return sorted(t for t in instants if after < t <= until)


def next_ticks(spec: ScheduleSpec, now: datetime, n: int) -> list[datetime]:
    """The first `n` ticks strictly after `now` (fewer only for a cron that matches that rarely)."""
    _require_aware(now)
    span = timedelta(hours=1)
    while True:
        found = ticks_between(spec, now, now + span)
        if len(found) >= n or span > _LONGEST_SEARCH:
            return found[:n]
        span *= 4      # widening windows: exact answers, and cheap for every-minute crons


def latest_tick(spec: ScheduleSpec, at_or_before: datetime) -> datetime | None:
    """The newest tick at or before the instant, or None within the longest search."""
    _require_aware(at_or_before)
    span = timedelta(days=2)
    while span <= _LONGEST_SEARCH * 2:
        found = ticks_between(spec, at_or_before - span, at_or_before)
        if found:
            return found[-1]
        span *= 4
    return None


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _offset_spread(instant: datetime, zone: ZoneInfo) -> timedelta:
    """How far the zone's UTC offset moves within two days of the instant (0 away from changes).
    Offset changes in tzdata are at most a day (Pacific/Apia skipped 30 Dec 2011) and never come
    twice within two days, so sampling a day apart sees every change that matters here."""
    offsets = []
    for days in (-2, -1, 0, 1, 2):
        try:
            offsets.append((instant + timedelta(days=days)).astimezone(zone).utcoffset())
        except OverflowError:        # at the ends of datetime's range
            continue
    return max(offsets) - min(offsets)


def _require_aware(*instants: datetime) -> None:
    for instant in instants:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"{instant!r} is naive: schedule times are aware instants (use UTC)")
