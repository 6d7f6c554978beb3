"""Ticks across DST: exact instants for the known edge cases, then properties for every cron shape
in zones with 1-hour, 30-minute and no shifts, checked against an oracle that scans UTC minutes."""
from __future__ import annotations

import doctest
from datetime import datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.project import cron as cron_module
from assetflow.project.cron import matches, normalize_cron
from assetflow.project.schedules import parse_schedule
from assetflow.schedule.ticks import latest_tick, next_ticks, ticks_between

UTC = timezone.utc
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC", "America/Sao_Paulo"]
# cron -> how long an interval the properties draw for it (every-minute crons stay short)
CRONS = {"30 2 * * *": 40, "15 2 * * *": 40, "30 1 * * *": 40, "45 1 * * *": 40, "0 0 * * *": 40,
         "0 23 * * *": 40, "0 * * * *": 5, "*/15 * * * *": 3, "* * * * *": 0.3, "30 2 * * 0": 120,
         "0 2 1 * *": 400, "@hourly": 5, "@daily": 40, "@weekly": 120, "@monthly": 400}
SPAN_DAYS = {normalize_cron(c): days for c, days in CRONS.items()}
DAILY = [c for c in CRONS if c in ("@daily",) or (c.split()[2:] == ["*", "*", "*"] and c.split()[1].isdigit())]


def spec(cron: str, zone: str = "UTC"):
    return parse_schedule("s", {"cron": cron, "timezone": zone})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc_minutes(ticks):
    return [t.strftime("%Y-%m-%dT%H:%MZ") for t in ticks]


# ---------------------------------------------------------------------------- the known edge cases

@pytest.mark.parametrize("cron, zone, day, expected", [
    # spring forward: 02:30 does not exist, fires once at 03:30 local (shifted by the gap)
    ("30 2 * * *", "America/New_York", "2026-03-08", ["2026-03-08T07:30Z"]),
    ("30 2 * * *", "Europe/Berlin", "2026-03-29", ["2026-03-29T01:30Z"]),
    ("15 2 * * *", "Australia/Lord_Howe", "2026-10-04", ["2026-10-03T15:45Z"]),   # 02:15 -> 02:45 (+11)
    # fall back: 01:30 occurs twice, fires once, the first time (PrefectHQ/prefect#7461)
    ("30 1 * * *", "America/New_York", "2026-11-01", ["2026-11-01T05:30Z"]),
    ("30 2 * * *", "Europe/Berlin", "2026-10-25", ["2026-10-25T00:30Z"]),
    ("45 1 * * *", "Australia/Lord_Howe", "2026-04-05", ["2026-04-04T14:45Z"]),   # first pass is +11
    # midnight does not exist in Sao Paulo on its (2018) spring day: 00:00 -> 01:00
    ("0 0 * * *", "America/Sao_Paulo", "2018-11-04", ["2018-11-04T03:00Z"]),
    # a late-evening tick is on the next UTC date
    ("0 23 * * *", "America/New_York", "2026-01-15", ["2026-01-16T04:00Z"]),
])
def test_daily_ticks_on_dst_days(cron, zone, day, expected):
    s = spec(cron, zone)
    ticks = ticks_between(s, *local_day(s, day))
    assert utc_minutes(ticks) == expected


def local_day(s, day: str) -> tuple[datetime, datetime]:
    """The interval holding every instant of a local day (whose midnight may not exist)."""
    first = datetime.fromisoformat(day)
    bounds = [(d.replace(tzinfo=s.zone).astimezone(UTC) - timedelta(seconds=1)) for d in (first, first + timedelta(days=1))]
    return bounds[0], bounds[1]


def test_hourly_across_new_york_spring_and_fall():
    s = spec("0 * * * *", "America/New_York")
    spring = ticks_between(s, at("2026-03-08T04:30Z"), at("2026-03-08T09:30Z"))
    # 02:00 does not exist: shifted to 03:00, the same instant as 03:00 itself, so one tick
    assert utc_minutes(spring) == ["2026-03-08T05:00Z", "2026-03-08T06:00Z", "2026-03-08T07:00Z",
                                   "2026-03-08T08:00Z", "2026-03-08T09:00Z"]
    fall = ticks_between(s, at("2026-11-01T03:30Z"), at("2026-11-01T08:30Z"))
    # 01:00 occurs twice: only its first pass (05:00Z) fires, so 06:00Z has no tick
    assert utc_minutes(fall) == ["2026-11-01T04:00Z", "2026-11-01T05:00Z", "2026-11-01T07:00Z",
                                 "2026-11-01T08:00Z"]


@pytest.mark.parametrize("zone, day, expected", [
    ("UTC", "2026-03-08", 1440), ("America/New_York", "2026-01-10", 1440),
    # a 23-hour day has 23 * 60 wall minutes; a 25-hour day still has 24 * 60 (the repeated hour
    # fires on its first pass only); Lord Howe's days are 23.5 and 24.5 hours long
    ("America/New_York", "2026-03-08", 23 * 60), ("America/New_York", "2026-11-01", 24 * 60),
    ("Australia/Lord_Howe", "2026-10-04", 1440 - 30), ("Australia/Lord_Howe", "2026-04-05", 1440),
])
def test_every_minute_over_a_local_day(zone, day, expected):
    s = spec("* * * * *", zone)
    assert len(ticks_between(s, *local_day(s, day))) == expected


def test_interval_is_open_on_the_left_and_closed_on_the_right():
    s = spec("0 2 * * *")
    assert utc_minutes(ticks_between(s, at("2026-01-01T02:00Z"), at("2026-01-03T02:00Z"))) == \
        ["2026-01-02T02:00Z", "2026-01-03T02:00Z"]
    assert ticks_between(s, at("2026-01-03T02:00Z"), at("2026-01-01T02:00Z")) == []


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        ticks_between(spec("0 2 * * *"), datetime(2026, 1, 1), at("2026-01-02T00:00Z"))


def test_next_and_latest_ticks():
    s = spec("0 2 * * *", "Europe/Berlin")
    assert utc_minutes(next_ticks(s, at("2026-03-28T12:00Z"), 3)) == \
        ["2026-03-29T01:00Z", "2026-03-30T00:00Z", "2026-03-31T00:00Z"]    # 02:00 on the 29th is 03:00 CEST
    assert latest_tick(s, at("2026-03-30T00:00Z")) == at("2026-03-30T00:00Z")
    assert latest_tick(s, at("2026-03-29T23:59Z")) == at("2026-03-29T01:00Z")
    rare = spec("0 0 29 2 *")
    assert utc_minutes(next_ticks(rare, at("2026-01-01T00:00Z"), 2)) == ["2028-02-29T00:00Z", "2032-02-29T00:00Z"]


def test_doctests_pass():
    result = doctest.testmod(cron_module)
    assert result.attempted >= 1 and result.failed == 0


# ---------------------------------------------------------------------------- properties

@cache
def offset_changes(zone_name: str) -> tuple[datetime, ...]:
    """Every UTC instant (to the minute) in 2015-2030 where the zone's offset changes."""
    zone = ZoneInfo(zone_name)
    found, day = [], datetime(2015, 1, 1, tzinfo=UTC)
    while day.year < 2031:
        nxt = day + timedelta(days=1)
        if day.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            lo, hi = day, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset() else (lo, mid)
            found.append(hi.replace(second=0, microsecond=0))
        day = nxt
    return tuple(found)


@st.composite
def intervals(draw, crons=tuple(CRONS)):
    """(spec, after, until): an interval that usually contains an offset change of its zone."""
    cron, zone = draw(st.sampled_from(crons)), draw(st.sampled_from(ZONES))
    span = timedelta(days=CRONS[cron])
    changes = offset_changes(zone)
    if changes and draw(st.booleans()):
        anchor = draw(st.sampled_from(changes))
    else:
        anchor = draw(st.datetimes(datetime(2016, 1, 1), datetime(2029, 1, 1))).replace(tzinfo=UTC)
    after = anchor - span * draw(st.floats(0, 1)) - timedelta(seconds=draw(st.integers(0, 59)))
    until = after + span * draw(st.floats(0.05, 1))
    return spec(cron, zone), after, until


def oracle(s, after: datetime, until: datetime) -> list[datetime]:
    """The ticks by brute force, stated without ticks.py's method: scan UTC minutes, keep those
    whose wall time (first pass only) the cron matches; then add each non-existent wall minute the
    cron matches, moved forward by its gap to a wall time that exists."""
    zone = s.zone
    found = set()
    minutes, hours = croniter(s.cron).expanded[:2]          # a cheap pre-filter before match()
    u = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while u <= until:
        local = u.astimezone(zone)
        if local.fold == 0 and (minutes == ["*"] or local.minute in minutes) \
                and (hours == ["*"] or local.hour in hours) and matches(s.cron, local.replace(tzinfo=None)):
            found.add(u)
        u += timedelta(minutes=1)
    for change in (c for c in offset_changes(s.timezone) if after - timedelta(days=2) < c < until + timedelta(days=2)):
        before, later = (change - timedelta(minutes=1)).astimezone(zone), change.astimezone(zone)
        gap = later.utcoffset() - before.utcoffset()
        wall = (before + timedelta(minutes=1)).replace(tzinfo=None)    # the first wall minute skipped
        for step in range(int(gap.total_seconds() // 60)):             # empty when clocks go back
            missing = wall + timedelta(minutes=step)
            shifted = (missing + gap).replace(tzinfo=zone).astimezone(UTC)
            if matches(s.cron, missing) and after < shifted <= until:
                found.add(shifted)
    return sorted(found)


@settings(max_examples=150, deadline=None)
@given(intervals(crons=tuple(c for c in CRONS if CRONS[c] <= 40)))
def test_ticks_equal_the_brute_force_oracle(case):
    s, after, until = case
    until = min(until, after + timedelta(days=3))          # the oracle scans minutes
    assert ticks_between(s, after, until) == oracle(s, after, until)


@settings(max_examples=200, deadline=None)
@given(intervals())
def test_ticks_are_unique_increasing_aware_utc_and_in_the_interval(case):
    s, after, until = case
    ticks = ticks_between(s, after, until)
    assert all(t.tzinfo is UTC for t in ticks)
    assert all(a < b for a, b in zip(ticks, ticks[1:]))          # strictly: no instant twice
    assert all(after < t <= until for t in ticks)


@settings(max_examples=200, deadline=None)
@given(intervals())
def test_every_tick_is_a_first_pass_match_or_a_shifted_gap_time(case):
    s, after, until = case
    zone = s.zone
    for tick in ticks_between(s, after, until):
        local = tick.astimezone(zone)
        assert local.fold == 0, f"{tick} is the second pass of a repeated local time"
        wall = local.replace(tzinfo=None)
        if matches(s.cron, wall):
            continue
        # not a match itself: it must be a matching wall time from the gap just before it, moved
        # forward by that gap
        gap = local.utcoffset() - (tick - timedelta(hours=25)).astimezone(zone).utcoffset()
        assert gap > timedelta(0), f"{tick} ({wall}) matches nothing"
        source = wall - gap
        assert matches(s.cron, source)
        round_trip = source.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        assert round_trip != source, f"{source} exists, so it does not move"


@settings(max_examples=150, deadline=None)
@given(intervals(crons=tuple(DAILY)))
def test_a_daily_cron_ticks_once_on_every_local_day(case):
    s, after, until = case
    zone = s.zone
    ticks = ticks_between(s, after, until)
    first_day = after.astimezone(zone).date() + timedelta(days=1)       # days wholly inside
    last_day = until.astimezone(zone).date() - timedelta(days=1)
    per_day: dict = {}
    for t in ticks:
        per_day.setdefault(t.astimezone(zone).date(), []).append(t)
    day = first_day
    while day <= last_day:
        assert len(per_day.get(day, [])) == 1, (day, per_day.get(day))
        day += timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(intervals(), st.floats(0, 1))
def test_ticks_split_at_any_instant_add_up(case, where):
    s, a, c = case
    b = a + (c - a) * where
    assert ticks_between(s, a, b) + ticks_between(s, b, c) == ticks_between(s, a, c)


@settings(max_examples=100, deadline=None)
@given(intervals(), st.integers(1, 4))
def test_next_ticks_and_latest_tick_agree_with_ticks_between(case, n):
    s, now, until = case
    reach = timedelta(days=SPAN_DAYS[s.cron])       # holds many ticks of the cron
    horizon = ticks_between(s, now, now + reach)
    assert len(horizon) >= n and next_ticks(s, now, n) == horizon[:n]
    upto = ticks_between(s, until - reach, until)
    assert upto and latest_tick(s, until) == upto[-1]
