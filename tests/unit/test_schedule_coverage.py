"""The window rule: a tick at T covers the partitions whose window closed by T, and `catchup`
bounds them to those that ended within that span before T (always keeping the latest)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.durations import parse_duration
from assetflow.partitions import Grain, StaticPartitions, TimePartitions, floor_to_period
from assetflow.schedule.coverage import tick_partitions

UTC = timezone.utc
DAYS = TimePartitions(Grain.DAY, datetime(2026, 1, 1), "d")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def keys(part, covered: range) -> list[str]:
    return [part.key(i) for i in covered]


def test_a_0200_daily_tick_builds_yesterday_and_catchup_bounds_the_past():
    tick = at("2026-03-10T02:00Z")
    everything = tick_partitions(DAYS, tick, None)
    assert (keys(DAYS, everything)[0], keys(DAYS, everything)[-1]) == ("2026-01-01", "2026-03-09")
    assert keys(DAYS, tick_partitions(DAYS, tick, parse_duration("0"))) == ["2026-03-09"]
    assert keys(DAYS, tick_partitions(DAYS, tick, parse_duration("7d"))) == [f"2026-03-0{d}" for d in range(3, 10)]
    # a tick on the boundary: the day that ended exactly at T is closed; seven days back is not in
    midnight = at("2026-03-10T00:00Z")
    assert keys(DAYS, tick_partitions(DAYS, midnight, parse_duration("7d"))) == [f"2026-03-0{d}" for d in range(3, 10)]


def test_catchup_shorter_than_a_window_still_covers_the_latest():
    assert keys(DAYS, tick_partitions(DAYS, at("2026-03-10T02:00Z"), parse_duration("1h"))) == ["2026-03-09"]


def test_hours_months_static_and_unpartitioned():
    hours = TimePartitions(Grain.HOUR, datetime(2026, 1, 1), "h")
    assert keys(hours, tick_partitions(hours, at("2026-03-10T02:00Z"), parse_duration("12h"))) == \
        [f"2026-03-09T{h}" for h in range(14, 24)] + ["2026-03-10T00", "2026-03-10T01"]
    months = TimePartitions(Grain.MONTH, datetime(2025, 1, 1), "m")
    assert keys(months, tick_partitions(months, at("2026-03-01T02:00Z"), parse_duration("7d"))) == ["2026-02"]
    assert keys(months, tick_partitions(months, at("2026-03-01T02:00Z"), parse_duration("40d"))) == ["2026-01", "2026-02"]
    static = StaticPartitions(("eu", "us"), "region")
    assert tick_partitions(static, at("2026-03-01T02:00Z"), parse_duration("0")) == range(0, 2)
    assert tick_partitions(None, at("2026-03-01T02:00Z"), parse_duration("7d")) == range(0, 1)


def test_partitions_that_start_later_or_ended_earlier():
    later = TimePartitions(Grain.DAY, datetime(2026, 6, 1), "d")
    assert tick_partitions(later, at("2026-03-10T02:00Z"), parse_duration("7d")) == range(0)
    ended = TimePartitions(Grain.DAY, datetime(2025, 1, 1), "d", end=datetime(2025, 1, 31))
    assert keys(ended, tick_partitions(ended, at("2026-03-10T02:00Z"), parse_duration("7d"))) == ["2025-01-31"]


def test_the_tick_is_an_instant_in_any_zone():
    berlin = datetime(2026, 3, 10, 1, 0, tzinfo=timezone(timedelta(hours=1)))   # 00:00Z
    assert tick_partitions(DAYS, berlin, parse_duration("0")) == tick_partitions(DAYS, at("2026-03-10T00:00Z"),
                                                                                  parse_duration("0"))


@st.composite
def definitions(draw):
    grain = draw(st.sampled_from(list(Grain)))
    start = floor_to_period(grain, draw(st.datetimes(datetime(2020, 1, 1), datetime(2026, 1, 1))))
    end = None
    if draw(st.booleans()):
        end = TimePartitions(grain, start, "t").period_start(draw(st.integers(0, 3000)))
    return TimePartitions(grain, start, "t", end)


@settings(max_examples=300, deadline=None)
@given(definitions(), st.datetimes(datetime(2019, 1, 1), datetime(2030, 1, 1)),
       st.none() | st.integers(0, 60 * 24 * 120).map(lambda m: parse_duration(f"{m}m")))
def test_covered_windows_are_closed_and_within_catchup(part, moment, catchup):
    tick = moment.replace(tzinfo=UTC)
    covered = tick_partitions(part, tick, catchup)
    assert covered.step == 1 and covered.start >= 0
    assert covered.stop == part.count(moment)                           # every closed window, up to the latest
    assert all(part.window(i).end <= moment for i in covered)
    if catchup is None or not covered:
        assert covered.start == 0
        return
    earliest = moment - catchup.delta
    for i in covered:
        assert part.window(i).end > earliest or i == covered.stop - 1   # the latest is always covered
    if covered.start > 0:
        assert part.window(covered.start - 1).end <= earliest           # and nothing older is
