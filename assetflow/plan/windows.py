"""Translate `--partition KEY` / `--from KEY --to KEY` into partition index ranges per asset.

Keys are parsed under the grain of the selected partitioned assets; a time range is turned into a
UTC window and every selected time-partitioned asset builds the partitions that overlap it.
"""
from __future__ import annotations

from datetime import datetime

from assetflow.errors import PartitionKeyError, UsageError
from assetflow.plan.graph import AssetGraph
from assetflow.partitions import StaticPartitions, TimePartitions


def partition_ranges(graph: AssetGraph, selected: frozenset[str], partition: str | None,
                     from_key: str | None, to_key: str | None, now: datetime) -> dict[str, range]:
    if partition is None and from_key is None and to_key is None:
        return {}
    if partition is not None and (from_key is not None or to_key is not None):
        raise UsageError("use either --partition or --from/--to, not both")
    if partition is None and (from_key is None or to_key is None):
        raise UsageError("--from and --to go together", hint="give both, e.g. --from 2024-01-01 --to 2024-01-31")
    first, last = (partition, partition) if partition is not None else (from_key, to_key)
    partitioned = sorted(n for n in selected if graph.assets[n].partitioning is not None)
    if not partitioned:
        raise UsageError("a partition was given but no selected asset is partitioned",
                         hint="select a partitioned asset, or drop --partition/--from/--to")
    reference = _reference_asset(graph, partitioned, first)
    ref_part = graph.assets[reference].partitioning
    lo, hi = ref_part.index(first, now), ref_part.index(last, now)
    if lo > hi:
        raise UsageError(f"--from {first} is after --to {last}", hint="swap them")
    ranges = {}
    for name in partitioned:
        part = graph.assets[name].partitioning
        ranges[name] = _overlap(part, ref_part, lo, hi, now)
    return ranges


def _reference_asset(graph: AssetGraph, partitioned: list[str], key: str) -> str:
    """The first selected asset whose partition definition can parse the key."""
    errors = []
    for name in partitioned:
        part = graph.assets[name].partitioning
        try:
            part.index(key, datetime.max)
            return name
        except PartitionKeyError as exc:
            errors.append(exc)
    first = errors[0]
    raise PartitionKeyError(f"{first.message} (for {partitioned[0]})", hint=first.hint)


def _overlap(part, ref_part, lo: int, hi: int, now: datetime) -> range:
    count = part.count(now)
    if isinstance(ref_part, TimePartitions) and isinstance(part, TimePartitions):
        start = ref_part.window(lo).start
        end = ref_part.window(hi).end
        first = max(part.index_at(start), 0)
        last = min(_last_overlapping(part, end), count)
        return range(first, last)
    if isinstance(ref_part, StaticPartitions) and isinstance(part, StaticPartitions):
        wanted = set(ref_part.keys[lo:hi + 1])
        indices = [i for i, k in enumerate(part.keys) if k in wanted]
        return range(min(indices), max(indices) + 1) if indices else range(0)
    return range(0, count)


def _last_overlapping(part: TimePartitions, end: datetime) -> int:
    """One past the last partition whose window starts before `end`."""
    index = part.index_at(end)
    return index if part.period_start(index) >= end else index + 1
