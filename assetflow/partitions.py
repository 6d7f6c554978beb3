"""Partition definitions, keys and mappings: pure window and index maths.

A partitioned asset has an ordered list of partitions; partition `i` covers the half-open UTC
window `[window(i).start, window(i).end)`. Planning works on integer indices and contiguous index
ranges, never on per-key string juggling, so mapping thousands of partitions stays cheap.

Day, week and month partitions may name a `timezone`: their keys, `start` and `end` are then local
calendar periods (index maths on the local calendar), and only `window`, `period_start` and
`index_at` cross to UTC (see timezones.py), so everything that compares partitions of different
assets, or a partition with now, works on instants.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum

from assetflow.errors import PartitionKeyError
from assetflow.timezones import aware_local, local_to_utc, utc_to_local


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


def parse_bound(grain: Grain, text: str, timezone: str | None = None) -> datetime:
    """Parse a `start`/`end` setting: a key of the grain, or an ISO date aligned to the grain; a
    time with an offset is converted to the partitions' time zone (UTC without one)."""
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
        moment = utc_to_local(moment, timezone) if timezone else moment
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
    """Time partitions of one grain from `start`; the last is `end` or the last complete period.

    `start` and `end` are period starts on the local calendar of `timezone` (UTC when None)."""

    grain: Grain
    start: datetime
    column: str
    end: datetime | None = None
    timezone: str | None = None          # an IANA name; never set on hour partitions

    def period_start(self, index: int) -> datetime:
        """The UTC instant (naive) partition `index` starts at."""
        local = self.local_start(index)
        return local_to_utc(local, self.timezone) if self.timezone else local

    def local_start(self, index: int) -> datetime:
        """Partition `index`'s start on the local calendar (the UTC one without a timezone)."""
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
        """Index of the partition whose window contains the UTC instant `moment` (may be < 0 or
        past the end)."""
        return self._local_index(utc_to_local(moment, self.timezone) if self.timezone else moment)

    def _local_index(self, moment: datetime) -> int:
        if self.grain is Grain.MONTH:
            return _month_index(moment) - _month_index(self.start)
        step = {Grain.HOUR: timedelta(hours=1), Grain.DAY: timedelta(days=1),
                Grain.WEEK: timedelta(weeks=1)}[self.grain]
        return (moment - self.start) // step

    def count(self, now: datetime) -> int:
        """How many partitions exist at `now`: up to the last complete period, capped by `end`."""
        local_now = utc_to_local(now, self.timezone) if self.timezone else now
        complete = self._local_index(floor_to_period(self.grain, local_now))  # the current period is incomplete
        if self.end is not None:
            complete = min(complete, self._local_index(self.end) + 1)
        return max(complete, 0)

    def key(self, index: int) -> str:
        moment = self.local_start(index)
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
        index = self._local_index(moment)
        total = self.count(now)
        if index < 0 or index >= total:
            first = self.key(0)
            last = self.key(total - 1) if total else "(none yet)"
            raise PartitionKeyError(f"partition '{key}' is outside the range {first} .. {last}",
                                    hint="pick a key inside the asset's partition range")
        return index

    def bound_values(self, window: Window) -> tuple[date | datetime, date | datetime]:
        """The typed values bound to `$start`/`$end`: DATE for day/week/month, TIMESTAMP for hour;
        with a timezone, the local midnights as aware datetimes (TIMESTAMPTZ)."""
        if self.timezone:
            return aware_local(window.start, self.timezone), aware_local(window.end, self.timezone)
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


@dataclass(frozen=True, slots=True)
class Shift:
    """Downstream partition i reads upstream i + offset - lookback .. i + offset (same grain)."""

    offset: int
    lookback: int
    up_count: int
    down_count: int

    def up_range(self, i: int) -> range:
        return range(min(max(i + self.offset - self.lookback, 0), self.up_count),
                     min(max(i + self.offset + 1, 0), self.up_count))

    def readers(self, j: int) -> range:
        """The downstream partitions that read upstream partition j."""
        return range(max(j - self.offset, 0), min(max(j - self.offset + self.lookback + 1, 0), self.down_count))


@dataclass(frozen=True, slots=True)
class Everything:
    """Every downstream partition reads every upstream partition (one side is unpartitioned, or
    static keys meet time partitions)."""

    up_count: int
    down_count: int

    def up_range(self, i: int) -> range:
        return range(self.up_count)

    def readers(self, j: int) -> range:
        return range(self.down_count)


@dataclass(frozen=True)
class Ranges:
    """An explicit range per downstream partition (time grains that differ, static keys)."""

    lo: tuple[int, ...]
    hi: tuple[int, ...]
    up_count: int

    def up_range(self, i: int) -> range:
        return range(self.lo[i], self.hi[i])

    def readers(self, j: int) -> list[int]:
        inverse = self.__dict__.get("_inverse")
        if inverse is None:
            inverse = {}
            for i, (lo, hi) in enumerate(zip(self.lo, self.hi)):
                for k in range(lo, hi):
                    inverse.setdefault(k, []).append(i)
            object.__setattr__(self, "_inverse", inverse)
        return inverse.get(j, [])

    def pairs(self) -> list[tuple[int, int]]:
        """Every (downstream, upstream) index pair of the mapping."""
        return [(i, k) for i, (lo, hi) in enumerate(zip(self.lo, self.hi)) for k in range(lo, hi)]


EdgeMapping = Shift | Everything | Ranges


def edge_mapping(down: Partitioning | None, down_count: int, up: Partitioning | None, up_count: int,
                 lookback: int = 0) -> EdgeMapping:
    """`upstream_range` for every downstream partition of an edge, as a value that answers both ways
    (which upstream partitions i reads, which downstream partitions read j) without a list per
    partition, except between different grains, which pay for calendar maths once per partition."""
    if up is None or down is None or isinstance(up, StaticPartitions) != isinstance(down, StaticPartitions):
        return Everything(up_count, down_count)
    if (isinstance(down, TimePartitions) and isinstance(up, TimePartitions) and down.grain is up.grain
            and down.timezone == up.timezone):
        return Shift(up.index_at(down.period_start(0)), lookback, up_count, down_count)
    ranges = [upstream_range(down, i, up, up_count, lookback) for i in range(down_count)]
    return Ranges(tuple(r.start for r in ranges), tuple(max(r.stop, r.start) for r in ranges), up_count)
