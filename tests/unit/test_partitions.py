"""Partition maths: keys, windows, counts and upstream mappings, checked as properties."""
from __future__ import annotations

import doctest
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow import partitions
from assetflow.errors import PartitionKeyError
from assetflow.partitions import (Grain, StaticPartitions, TimePartitions, floor_to_period, parse_bound,
                                  parse_period_start, upstream_range)

TIME_GRAINS = list(Grain)
FAR_FUTURE = datetime(9000, 1, 1)
KEY_SHAPES = {Grain.HOUR: r"\d{4}-\d{2}-\d{2}T\d{2}", Grain.DAY: r"\d{4}-\d{2}-\d{2}",
              Grain.WEEK: r"\d{4}-W\d{2}", Grain.MONTH: r"\d{4}-\d{2}"}

moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))


@st.composite
def time_partitions(draw, grain=None, with_end=False):
    """A definition whose start is aligned to its grain, as the loader makes them via parse_bound."""
    grain = grain or draw(st.sampled_from(TIME_GRAINS))
    start = floor_to_period(grain, draw(moments))
    end = None
    if with_end:
        probe = TimePartitions(grain, start, "t")
        end = probe.period_start(draw(st.integers(0, 500)))
    return TimePartitions(grain=grain, start=start, column="t", end=end)


# ---------------------------------------------------------------------------- keys and windows

@settings(max_examples=200)
@given(part=time_partitions(), index=st.integers(0, 5000))
def test_key_round_trips_through_index(part, index):
    key = part.key(index)
    assert re.fullmatch(KEY_SHAPES[part.grain], key)
    assert part.index(key, FAR_FUTURE) == index
    assert parse_period_start(part.grain, key) == part.period_start(index)


@settings(max_examples=200)
@given(part=time_partitions(), index=st.integers(0, 5000))
def test_windows_are_contiguous_and_non_overlapping(part, index):
    here, after = part.window(index), part.window(index + 1)
    assert here.start < here.end == after.start < after.end
    length = here.end - here.start
    expected = {Grain.HOUR: {timedelta(hours=1)}, Grain.DAY: {timedelta(days=1)},
                Grain.WEEK: {timedelta(weeks=1)},
                Grain.MONTH: {timedelta(days=d) for d in (28, 29, 30, 31)}}[part.grain]
    assert length in expected
    # every moment in the window maps back to this partition, and the end to the next one
    assert part.index_at(here.start) == index
    assert part.index_at(here.end - timedelta(microseconds=1)) == index
    assert part.index_at(here.end) == index + 1


@settings(max_examples=200)
@given(part=time_partitions(grain=Grain.WEEK), index=st.integers(0, 3000))
def test_week_keys_are_iso_and_windows_start_on_monday(part, index):
    window = part.window(index)
    assert window.start.weekday() == 0
    assert window.start.time() == datetime.min.time()
    assert part.key(index) == window.start.strftime("%G-W%V")


@settings(max_examples=100)
@given(moment=moments)
def test_week_start_setting_is_floored_to_monday(moment):
    start = parse_bound(Grain.WEEK, moment.date().isoformat())
    assert start.weekday() == 0
    assert timedelta(0) <= moment.replace(hour=0, minute=0, second=0, microsecond=0) - start < timedelta(weeks=1)


def test_iso_week_keys_at_year_boundaries():
    # 2020 has an ISO week 53; 2021-01-03 (a Sunday) still belongs to it
    assert parse_period_start(Grain.WEEK, "2020-W53") == datetime(2020, 12, 28)
    part = TimePartitions(Grain.WEEK, parse_bound(Grain.WEEK, "2020-12-28"), "t")
    assert [part.key(i) for i in range(3)] == ["2020-W53", "2021-W01", "2021-W02"]
    # 2024-12-30 is the Monday of ISO week 2025-W01
    assert TimePartitions(Grain.WEEK, datetime(2024, 12, 30), "t").key(0) == "2025-W01"


@pytest.mark.parametrize("local_day", ["2024-03-10", "2024-11-03"])
def test_hour_partitions_are_utc_across_a_dst_change(local_day):
    zone = ZoneInfo("America/New_York")
    part = TimePartitions(Grain.HOUR, parse_bound(Grain.HOUR, "2024-03-01T00"), "t")
    day = datetime.fromisoformat(local_day)
    first, last = part.index_at(day - timedelta(days=1)), part.index_at(day + timedelta(days=2))
    keys = [part.key(i) for i in range(first, last)]
    per_day: dict[str, list[str]] = {}
    for key in keys:
        per_day.setdefault(key[:10], []).append(key[11:])
    assert len(per_day) == 3
    for hours in per_day.values():
        assert hours == [f"{h:02d}" for h in range(24)]
    # the local day is 23 hours (spring forward) or 25 (fall back) long, i.e. that many UTC partitions
    local_start = day.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)
    local_end = (day + timedelta(days=1)).replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)
    expected = 23 if local_day.startswith("2024-03") else 25
    assert part.index_at(local_end) - part.index_at(local_start) == expected


def test_a_bound_with_an_offset_is_converted_to_utc():
    assert parse_bound(Grain.HOUR, "2024-03-10T00:00:00-05:00") == datetime(2024, 3, 10, 5)
    assert parse_bound(Grain.DAY, "2024-03-10T23:30:00-05:00") == datetime(2024, 3, 11)


# ---------------------------------------------------------------------------- counts

@settings(max_examples=200)
@given(part=time_partitions(), offset=st.integers(-50, 3000), fraction=st.floats(0, 0.999))
def test_count_never_includes_the_current_incomplete_period(part, offset, fraction):
    window = part.window(offset)
    now = window.start + (window.end - window.start) * fraction
    count = part.count(now)
    assert count == max(offset, 0)
    if count:
        assert part.window(count - 1).end <= now       # the last counted partition is complete
    assert part.window(count).end > now                 # the next one is not


@settings(max_examples=200)
@given(part=time_partitions(with_end=True), offset=st.integers(-50, 1000))
def test_count_respects_end(part, offset):
    last = part.index_at(part.end)
    now = part.period_start(offset)
    count = part.count(now)
    assert count == max(0, min(offset, last + 1))
    if count == last + 1:
        assert part.key(count - 1) == part.key(last)    # `end` is inclusive
    with pytest.raises(PartitionKeyError):
        part.index(part.key(last + 1), FAR_FUTURE)      # one past `end` is out of range


def test_index_outside_the_range_is_an_error():
    part = TimePartitions(Grain.DAY, datetime(2024, 1, 1), "t")
    now = datetime(2024, 1, 10, 12)
    assert part.index("2024-01-09", now) == 8
    for key in ("2023-12-31", "2024-01-10", "2024-01-11"):
        with pytest.raises(PartitionKeyError, match="outside the range 2024-01-01 .. 2024-01-09"):
            part.index(key, now)


def test_static_partitions():
    part = StaticPartitions(("eu", "us"), "region")
    assert part.count(datetime(2000, 1, 1)) == 2
    assert [part.key(i) for i in range(2)] == ["eu", "us"]
    assert part.index("us", FAR_FUTURE) == 1
    with pytest.raises(PartitionKeyError, match="not one of the partitions"):
        part.index("apac", FAR_FUTURE)


# ---------------------------------------------------------------------------- bad keys

@pytest.mark.parametrize("grain,key", [
    (Grain.DAY, "2024-13-01"), (Grain.DAY, "2024-02-30"), (Grain.DAY, "x; drop table t"),
    (Grain.DAY, "2024-1-1"), (Grain.DAY, "2024-01-01T00"), (Grain.DAY, ""), (Grain.DAY, "2023-02-29"),
    (Grain.HOUR, "2024-01-01T24"), (Grain.HOUR, "2024-01-01"), (Grain.HOUR, "2024-01-01 05"),
    (Grain.WEEK, "2024-W00"), (Grain.WEEK, "2021-W53"), (Grain.WEEK, "2024-W5"), (Grain.WEEK, "2024-05"),
    (Grain.MONTH, "2024-13"), (Grain.MONTH, "2024-00"), (Grain.MONTH, "2024-1"), (Grain.MONTH, "2024-01-01"),
])
def test_bad_keys_raise_partition_key_error(grain, key):
    with pytest.raises(PartitionKeyError) as info:
        parse_period_start(grain, key)
    assert info.value.hint and "write it like" in info.value.hint
    part = TimePartitions(grain, datetime(2020, 1, 6), "t")
    with pytest.raises(PartitionKeyError):
        part.index(key, FAR_FUTURE)


@settings(max_examples=200)
@given(grain=st.sampled_from(TIME_GRAINS), text=st.text(max_size=20))
def test_any_text_either_parses_or_raises_partition_key_error(grain, text):
    try:
        parse_period_start(grain, text)
    except PartitionKeyError:
        pass


@pytest.mark.parametrize("key", ["2024-01-01\n", "\uff12\uff10\uff12\uff14-01-01"])
def test_accepted_keys_are_canonical(key):
    part = TimePartitions(Grain.DAY, datetime(2020, 1, 1), "t")
    try:
        index = part.index(key, FAR_FUTURE)
    except PartitionKeyError:
        return
    assert part.key(index) == key


# ---------------------------------------------------------------------------- upstream_range

@settings(max_examples=200)
@given(part=time_partitions(), index=st.integers(0, 2000))
def test_identity_mapping(part, index):
    assert upstream_range(part, index, part, 5000) == range(index, index + 1)


@settings(max_examples=200)
@given(day=st.integers(0, 2000), hour_offset=st.integers(0, 24 * 30))
def test_hour_to_day_each_day_maps_to_24_hours(day, hour_offset):
    days = TimePartitions(Grain.DAY, datetime(2020, 2, 1), "d")
    hours = TimePartitions(Grain.HOUR, days.start - timedelta(hours=hour_offset), "h")
    mapped = upstream_range(days, day, hours, 10**6)
    assert len(mapped) == 24
    assert hours.window(mapped[0]).start == days.window(day).start
    assert hours.window(mapped[-1]).end == days.window(day).end


@settings(max_examples=100)
@given(month=st.integers(0, 300))
def test_day_to_month_mapping(month):
    months = TimePartitions(Grain.MONTH, datetime(2001, 1, 1), "m")
    days = TimePartitions(Grain.DAY, datetime(2000, 12, 1), "d")
    window = months.window(month)
    # a month reads exactly its days
    mapped = upstream_range(months, month, days, 10**6)
    assert days.window(mapped[0]).start == window.start and days.window(mapped[-1]).end == window.end
    assert len(mapped) == (window.end - window.start).days
    # each day of the month reads that month, so the union over the month's days is the month
    union = set()
    for day in mapped:
        union |= set(upstream_range(days, day, months, 10**6))
    assert union == {month}


@settings(max_examples=200)
@given(part=time_partitions(), index=st.integers(0, 400), lookback=st.integers(0, 30))
def test_lookback_widens_by_exactly_n_periods(part, index, lookback):
    assert upstream_range(part, index, part, 5000, lookback) == range(max(index - lookback, 0), index + 1)


@settings(max_examples=100)
@given(day=st.integers(0, 400), lookback=st.integers(0, 10))
def test_lookback_counts_downstream_periods(day, lookback):
    days = TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d")
    hours = TimePartitions(Grain.HOUR, datetime(2024, 1, 1), "h")
    mapped = upstream_range(days, day, hours, 10**6, lookback)
    assert mapped == range(24 * max(day - lookback, 0), 24 * (day + 1))


def test_ranges_are_clipped_to_the_upstream_count():
    days = TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d")
    assert upstream_range(days, 5, days, 3) == range(0)
    assert upstream_range(days, 2, days, 3, lookback=1) == range(1, 3)
    late = TimePartitions(Grain.DAY, datetime(2024, 1, 10), "d")
    assert upstream_range(days, 2, late, 100) == range(0)      # upstream starts after this window


@settings(max_examples=100)
@given(part=time_partitions(), index=st.integers(0, 1000), up_count=st.integers(0, 1000))
def test_unpartitioned_sides(part, index, up_count):
    assert upstream_range(part, index, None, 1) == range(0, 1)
    assert upstream_range(None, 0, part, up_count) == range(0, up_count)
    assert upstream_range(None, 0, None, 1) == range(0, 1)


def test_static_mappings():
    down = StaticPartitions(("eu", "us", "apac"), "r")
    up = StaticPartitions(("us", "eu"), "r")
    days = TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d")
    assert upstream_range(down, 0, up, 2) == range(1, 2)
    assert upstream_range(down, 1, up, 2) == range(0, 1)
    assert upstream_range(down, 2, up, 2) == range(0)
    assert upstream_range(down, 0, days, 9) == range(0, 9)
    assert upstream_range(days, 3, down, 3) == range(0, 3)


def test_doctests_pass():
    result = doctest.testmod(partitions)
    assert result.attempted >= 1
    assert result.failed == 0
