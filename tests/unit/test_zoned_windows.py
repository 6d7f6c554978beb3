"""Time-zoned partitions (SPEC section 11): keys are local calendar periods, windows their UTC
bounds, "last complete" is local. Property tests across DST changes for every grain, with `now`
injected, against zoneinfo as the oracle (each local date's own midnights)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.asset_settings import parse_settings
from assetflow.errors import ProjectError
from assetflow.partitions import Grain, TimePartitions, parse_bound, upstream_range, edge_mapping

UTC = timezone.utc
# DST at 02:00 (New York, Berlin), at midnight (Santiago: local midnight is skipped in spring),
# half-hour DST (Lord Howe), none (Kolkata, +05:30), a skipped day (Apia, 30 Dec 2011), and far east.
ZONES = ["America/New_York", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata",
         "Pacific/Apia", "Pacific/Kiritimati"]
GRAINS = [Grain.DAY, Grain.WEEK, Grain.MONTH]
START = {Grain.DAY: "2010-01-01", Grain.WEEK: "2010-W01", Grain.MONTH: "2010-01"}


def parts(grain: Grain, zone: str) -> TimePartitions:
    return TimePartitions(grain, parse_bound(grain, START[grain], zone), "day", timezone=zone)


def local_period_start(grain: Grain, day: date) -> date:
    if grain is Grain.DAY:
        return day
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def first_instant_of(day: date, zone: ZoneInfo) -> datetime:
    """The oracle: the first UTC instant whose local date is `day` or later (a minute search from
    the naive guess; local midnight may not exist)."""
    guess = datetime(day.year, day.month, day.day) - timedelta(hours=30)
    t = guess.replace(tzinfo=UTC)
    while t.astimezone(zone).date() < day:
        t += timedelta(minutes=15)
    return t.replace(tzinfo=None)


instants = st.datetimes(min_value=datetime(2010, 6, 1), max_value=datetime(2035, 1, 1))
indices = st.integers(min_value=0, max_value=300)


@settings(max_examples=300)
@given(zone=st.sampled_from(ZONES), grain=st.sampled_from(GRAINS), moment=instants)
def test_an_instant_falls_in_the_partition_of_its_local_period(zone, grain, moment):
    p = parts(grain, zone)
    i = p.index_at(moment)
    window = p.window(i)
    assert window.start <= moment < window.end
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    assert p.key(i) == p.key(p.index(p.key(i), datetime(2100, 1, 1)))
    assert p.local_start(i).date() == local_period_start(grain, local.date())


@settings(max_examples=300)
@given(zone=st.sampled_from(ZONES), grain=st.sampled_from(GRAINS), i=indices)
def test_windows_are_contiguous_and_start_at_the_local_period_start(zone, grain, i):
    p = parts(grain, zone)
    here, after = p.window(i), p.window(i + 1)
    assert here.end == after.start and here.start <= here.end
    assert here.start == first_instant_of(p.local_start(i).date(), ZoneInfo(zone))
    start, end = p.bound_values(here)                 # $start/$end: aware local datetimes
    assert start.tzinfo is not None and start.astimezone(UTC).replace(tzinfo=None) == here.start
    assert end.astimezone(UTC).replace(tzinfo=None) == here.end
    if zone in ("America/New_York", "Europe/Berlin", "Asia/Kolkata"):   # midnight always exists there
        assert (start.hour, start.minute, end.hour, end.minute) == (0, 0, 0, 0)


@settings(max_examples=300)
@given(zone=st.sampled_from(ZONES), grain=st.sampled_from(GRAINS), now=instants)
def test_the_last_partition_is_the_last_complete_local_period(zone, grain, now):
    p = parts(grain, zone)
    n = p.count(now)
    assert p.window(n - 1).end <= now < p.window(n).end


def test_dst_days_in_new_york_are_23_and_25_hours():
    p = parts(Grain.DAY, "America/New_York")
    spring, autumn = (p.index(k, datetime(2030, 1, 1)) for k in ("2024-03-10", "2024-11-03"))
    hours = {i: (p.window(i).end - p.window(i).start) / timedelta(hours=1) for i in (spring, autumn, spring + 1)}
    assert hours == {spring: 23, autumn: 25, spring + 1: 24}
    assert p.window(spring).start == datetime(2024, 3, 10, 5)      # midnight EST
    assert p.window(spring).end == datetime(2024, 3, 11, 4)        # midnight EDT


@settings(max_examples=200)
@given(zone=st.sampled_from(ZONES), i=indices, up_grain=st.sampled_from([Grain.HOUR, Grain.DAY]))
def test_a_zoned_day_reads_exactly_the_utc_partitions_its_window_overlaps(zone, i, up_grain):
    down = parts(Grain.DAY, zone)
    up = TimePartitions(up_grain, datetime(2009, 12, 25), "ts")
    count = up.count(datetime(2012, 1, 1))
    got = upstream_range(down, i, up, count)
    window = down.window(i)
    oracle = [j for j in range(count) if up.window(j).start < window.end and window.start < up.window(j).end]
    assert list(got) == oracle
    mapping = edge_mapping(down, i + 1, up, count)
    assert list(mapping.up_range(i)) == oracle


def test_same_grain_and_zone_map_key_to_key_and_other_zones_by_overlap():
    ny, berlin = parts(Grain.DAY, "America/New_York"), parts(Grain.DAY, "Europe/Berlin")
    i = ny.index("2024-03-10", datetime(2030, 1, 1))
    assert list(upstream_range(ny, i, ny, i + 5)) == [i]
    assert list(edge_mapping(ny, i + 1, ny, i + 5).up_range(i)) == [i]
    # New York's 10 March runs from 06:00 to 05:00 Berlin time: it reads Berlin's 10th and 11th
    assert [berlin.key(j) for j in upstream_range(ny, i, berlin, i + 5)] == ["2024-03-10", "2024-03-11"]
    assert [berlin.key(j) for j in edge_mapping(ny, i + 1, berlin, i + 5).up_range(i)] == ["2024-03-10", "2024-03-11"]


def test_the_pacific_apia_day_that_never_was_is_an_empty_window():
    p = parts(Grain.DAY, "Pacific/Apia")
    i = p.index("2011-12-30", datetime(2030, 1, 1))
    assert p.window(i).start == p.window(i).end
    assert p.key(p.index_at(p.window(i).start)) == "2011-12-31"


# ---------------------------------------------------------------------------- settings

def settings_of(**raw):
    base = {"partition_by": "day", "time_column": "day", "start": "2024-01-01"}
    return parse_settings({**base, **raw}, path="assets/x.sql", key_line=lambda key: 7)


def test_start_and_end_are_local_and_utc_is_no_time_zone():
    zoned = settings_of(timezone="America/New_York", start="2024-03-10T03:30:00+00:00").partitioning
    assert zoned.timezone == "America/New_York" and zoned.key(0) == "2024-03-09"   # 22:30 the day before
    assert settings_of(timezone="UTC").partitioning == settings_of().partitioning


@pytest.mark.parametrize("raw, message", [
    ({"partition_by": "hour", "start": "2024-01-01T00", "timezone": "Europe/Berlin"}, "hour partitions are always UTC"),
    ({"timezone": "America/New_Yrok"}, "unknown time zone 'America/New_Yrok'"),
    ({"timezone": "../etc/passwd"}, "unknown time zone"),
    ({"partition_by": "static", "partitions": ["a"], "partition_column": "k", "timezone": "UTC"},
     "timezone works with day, week or month partitions, not static ones"),
])
def test_bad_time_zones_name_the_file_and_line(raw, message):
    with pytest.raises(ProjectError) as caught:
        settings_of(**raw)
    assert message in caught.value.message and caught.value.location == "assets/x.sql:7"
    if "New_Yrok" in str(raw):
        assert "America/New_York" in caught.value.hint


def test_timezone_without_partitions_is_an_error():
    with pytest.raises(ProjectError, match="needs kind"):
        parse_settings({"timezone": "Europe/Berlin"}, path="assets/x.sql", line=1)
