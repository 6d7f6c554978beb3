"""Partition definitions, keys and mappings: pure window and index maths, all in UTC.

A partitioned asset has an ordered list of partitions; partition `i` covers the half-open window
`[window(i).start, window(i).end)`. Planning works on integer indices and contiguous index ranges,
never on per-key string juggling, so mapping thousands of partitions stays cheap.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum

from assetflow.errors import PartitionKeyError


class Grain(str, Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


_KEY_PATTERNS = {   # ASCII digits only, and fullmatch: a key has exactly one spelling
    Grain.HOUR: re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2})", re.ASCII),
    Grain.DAY: re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII),
    Grain.WEEK: re.compile(r"(\d{4})-W(\d{2})", re.ASCII),
    Grain.MONTH: re.compile(r"(\d{4})-(\d{2})", re.ASCII),
}
_KEY_EXAMPLES = {Grain.HOUR: "2024-01-31T05", Grain.DAY: "2024-01-31", Grain.WEEK: "2024-W05",
                 Grain.MONTH: "2024-01"}


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open UTC interval [start, end)."""

    start: datetime
    end: datetime


def parse_period_start(grain: Grain, text: str) -> datetime:
    """Parse a partition key (or a `start`/`end` setting) into the UTC start of its period.

    >>> parse_period_start(Grain.WEEK, "2024-W05")
    datetime.datetime(2024, 1, 29, 0, 0)
    """
    match = _KEY_PATTERNS[grain].fullmatch(text)
    if match is None:
        raise PartitionKeyError(
            f"'{text}' is not a {grain.value} partition key", hint=f"write it like {_KEY_EXAMPLES[grain]}")
    parts = [int(g) for g in match.groups()]
    try:
        if grain is Grain.HOUR:
            return datetime(parts[0], parts[1], parts[2], parts[3])
        if grain is Grain.DAY:
            return datetime(parts[0], parts[1], parts[2])
        if grain is Grain.WEEK:
            return datetime.combine(date.fromisocalendar(parts[0], parts[1], 1), datetime.min.time())
        return datetime(parts[0], parts[1], 1)
    except ValueError as exc:
        raise PartitionKeyError(f"'{text}' is not a valid {grain.value} partition key: {exc}",
                                hint=f"write it like {_KEY_EXAMPLES[grain]}") from None


def parse_bound(grain: Grain, text: str) -> datetime:
    """Parse a `start`/`end` setting: a key of the grain, or an ISO date aligned to the grain."""
    try:
        return parse_period_start(grain, text)
    except PartitionKeyError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PartitionKeyError(f"'{text}' is not a date or {grain.value} key",
                                hint=f"write it like {_KEY_EXAMPLES[grain]}") from None
    if moment.tzinfo is not None:
        moment = (moment - moment.utcoffset()).replace(tzinfo=None)
    return floor_to_period(grain, moment)


def floor_to_period(grain: Grain, moment: datetime) -> datetime:
    if grain is Grain.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain is Grain.DAY:
        return day
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


@dataclass(frozen=True, slots=True)
class TimePartitions:
    """Time partitions of one grain from `start`; the last is `end` or the last complete period."""

    grain: Grain
    start: datetime
    column: str
    end: datetime | None = None

    def period_start(self, index: int) -> datetime:
        if self.grain is Grain.HOUR:
            return self.start + timedelta(hours=index)
        if self.grain is Grain.DAY:
            return self.start + timedelta(days=index)
        if self.grain is Grain.WEEK:
            return self.start + timedelta(weeks=index)
        months = _month_index(self.start) + index
        return datetime(months // 12, months % 12 + 1, 1)

    def window(self, index: int) -> Window:
        return Window(self.period_start(index), self.period_start(index + 1))

    def index_at(self, moment: datetime) -> int:
        """Index of the partition whose window contains `moment` (may be < 0 or past the end)."""
        if self.grain is Grain.MONTH:
            return _month_index(moment) - _month_index(self.start)
        step = {Grain.HOUR: timedelta(hours=1), Grain.DAY: timedelta(days=1),
                Grain.WEEK: timedelta(weeks=1)}[self.grain]
        return (moment - self.start) // step

    def count(self, now: datetime) -> int:
        """How many partitions exist at `now`: up to the last complete period, capped by `end`."""
        complete = self.index_at(floor_to_period(self.grain, now))  # the current period is incomplete
        if self.end is not None:
            complete = min(complete, self.index_at(self.end) + 1)
        return max(complete, 0)

    def key(self, index: int) -> str:
        moment = self.period_start(index)
        if self.grain is Grain.HOUR:
            return moment.strftime("%Y-%m-%dT%H")
        if self.grain is Grain.DAY:
            return moment.strftime("%Y-%m-%d")
        if self.grain is Grain.WEEK:
            year, week, _ = moment.isocalendar()
            return f"{year:04d}-W{week:02d}"
        return moment.strftime("%Y-%m")

    def index(self, key: str, now: datetime) -> int:
        """Index of `key`, validated against this definition's range."""
        moment = parse_period_start(self.grain, key)
        index = self.index_at(moment)
        total = self.count(now)
        if index < 0 or index >= total:
            first = self.key(0)
            last = self.key(total - 1) if total else "(none yet)"
            raise PartitionKeyError(f"partition '{key}' is outside the range {first} .. {last}",
                                    hint="pick a key inside the asset's partition range")
        return index

    def bound_values(self, window: Window) -> tuple[date | datetime, date | datetime]:
        """The typed values bound to `$start`/`$end`: DATE for day/week/month, TIMESTAMP for hour."""
        if self.grain is Grain.HOUR:
            return window.start, window.end
        return window.start.date(), window.end.date()


@dataclass(frozen=True, slots=True)
class StaticPartitions:
    """A fixed list of text keys held in `column`."""

    keys: tuple[str, ...]
    column: str

    def count(self, now: datetime) -> int:
        return len(self.keys)

    def key(self, index: int) -> str:
        return self.keys[index]

    def index(self, key: str, now: datetime) -> int:
        try:
            return self.keys.index(key)
        except ValueError:
            raise PartitionKeyError(f"'{key}' is not one of the partitions {list(self.keys)}",
                                    hint="use one of the keys in the asset's `partitions` list") from None


Partitioning = TimePartitions | StaticPartitions


def upstream_range(down: Partitioning | None, down_index: int, up: Partitioning | None,
                   up_count: int, lookback: int = 0) -> range:
    """The upstream partition indices that downstream partition `down_index` reads.

    Same partitioning maps key to key; time grains map by window overlap (widened by `lookback`
    downstream periods); an unpartitioned side maps to everything on the other.
    """
    if up is None:
        return range(0, 1)
    if down is None:
        return range(0, up_count)
    if isinstance(up, StaticPartitions) or isinstance(down, StaticPartitions):
        if isinstance(up, StaticPartitions) and isinstance(down, StaticPartitions):
            key = down.keys[down_index]
            return range(up.keys.index(key), up.keys.index(key) + 1) if key in up.keys else range(0)
        return range(0, up_count)
    first = down.period_start(down_index - lookback)
    last = down.period_start(down_index + 1) - timedelta(microseconds=1)
    lo = max(up.index_at(first), 0)
    hi = min(up.index_at(last) + 1, up_count)
    return range(lo, hi) if lo < hi else range(0)


def edge_ranges(down: Partitioning | None, down_count: int, up: Partitioning | None, up_count: int,
                lookback: int = 0) -> tuple[list[int], list[int], int | None]:
    """`upstream_range` for every downstream index at once: bounds lists [lo, hi) and a `shift`.

    `shift` is set when partition i reads exactly upstream partition i + shift for every i (same
    grain, no lookback, nothing clipped): callers can then align lists by slicing. Only edges between
    different grains pay for calendar maths, once per downstream partition.
    """
    n = down_count
    if up is None:
        return [0] * n, [1] * n, None
    if down is None:
        return [0] * n, [up_count] * n, None
    if isinstance(down, TimePartitions) and isinstance(up, TimePartitions) and down.grain is up.grain:
        offset = up.index_at(down.start)
        if lookback == 0 and offset >= 0 and offset + n <= up_count:
            return list(range(offset, offset + n)), list(range(offset + 1, offset + n + 1)), offset
        lo = [min(max(i - lookback + offset, 0), up_count) for i in range(n)]
        hi = [min(max(i + 1 + offset, 0), up_count) for i in range(n)]
        return lo, [max(h, l) for l, h in zip(lo, hi)], None
    ranges = [upstream_range(down, i, up, up_count, lookback) for i in range(n)]
    return [r.start for r in ranges], [max(r.stop, r.start) for r in ranges], None
