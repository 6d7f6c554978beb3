"""Pure: an asset's partitions as run-length status ranges, and the worst status of a set.

The page of an asset with 33,000 partitions must not draw 33,000 elements (dagster-io/dagster#10330:
1.5 minutes to open): the server folds consecutive partitions of the same status and reasons into
one range, and a strip wider than `MAX_SEGMENTS` ranges is cut into that many equal buckets, each
showing the worst status inside it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from assetflow.plan.planner import BLOCKED, FRESH, STALE
from assetflow.state import FAILED

# worst first: what colours a bucket, a graph node or a table row
SEVERITY = (FAILED, BLOCKED, STALE, FRESH)
MAX_SEGMENTS = 240


@dataclass(frozen=True, slots=True)
class StatusRange:
    """Partitions `first .. last` (indices `start .. start + count - 1`) share a status and reasons."""

    start: int
    count: int
    first: str | None
    last: str | None
    category: str
    reasons: tuple[str, ...] = ()


def status_ranges(keys: Sequence[str | None],
                  problems: Mapping[int, tuple[str, tuple[str, ...]]]) -> list[StatusRange]:
    """Consecutive partitions with the same (category, reasons), in partition order. Costs the number
    of problems plus the number of ranges, not the number of partitions."""
    out: list[StatusRange] = []
    n = len(keys)
    position = 0
    for index in sorted(problems):
        if index > position:
            out.append(StatusRange(position, index - position, keys[position], keys[index - 1], FRESH))
        category, reasons = problems[index]
        last = out[-1] if out else None
        if last and last.category == category and last.reasons == tuple(reasons) \
                and last.start + last.count == index:
            out[-1] = StatusRange(last.start, last.count + 1, last.first, keys[index], category, last.reasons)
        else:
            out.append(StatusRange(index, 1, keys[index], keys[index], category, tuple(reasons)))
        position = index + 1
    if position < n:
        out.append(StatusRange(position, n - position, keys[position], keys[n - 1], FRESH))
    return out


def worst(categories) -> str:
    """The most severe of the categories (fresh for none)."""
    found = set(categories)
    return next((c for c in SEVERITY if c in found), FRESH)


def strip(ranges: list[StatusRange], keys: Sequence[str | None], limit: int = MAX_SEGMENTS) -> list[StatusRange]:
    """The ranges to draw: as they are when there are few, else `limit` equal buckets of partitions,
    each the worst status of the ranges it overlaps (reasons dropped: a bucket mixes them)."""
    total = len(keys)
    if len(ranges) <= limit or total == 0:
        return ranges
    size = -(-total // limit)
    buckets: list[StatusRange] = []
    cursor = 0
    for start in range(0, total, size):
        end = min(start + size, total)
        while ranges[cursor].start + ranges[cursor].count <= start:
            cursor += 1
        inside, j = [], cursor
        while j < len(ranges) and ranges[j].start < end:
            inside.append(ranges[j].category)
            j += 1
        buckets.append(StatusRange(start, end - start, keys[start], keys[end - 1], worst(inside)))
    return buckets
