"""`--partition` / `--from --to` -> partition index ranges for every selected asset."""
from __future__ import annotations

from datetime import datetime

import pytest
from graph_builders import make_graph, make_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.errors import PartitionKeyError, UsageError
from assetflow.partitions import Grain, StaticPartitions, TimePartitions
from assetflow.plan.windows import partition_ranges

NOW = datetime(2024, 6, 15, 12)
START = datetime(2024, 1, 1)
GRAPH = make_graph(
    make_spec("d", partitioning=TimePartitions(Grain.DAY, START, "d")),
    make_spec("m", ("d",), partitioning=TimePartitions(Grain.MONTH, START, "m")),
    make_spec("h", partitioning=TimePartitions(Grain.HOUR, START, "h")),
    make_spec("w", partitioning=TimePartitions(Grain.WEEK, START, "w")),
    make_spec("s", partitioning=StaticPartitions(("eu", "us"), "r")),
    make_spec("u"),
)
ALL = frozenset(GRAPH.assets)


def ranges(partition=None, from_key=None, to_key=None, selected=ALL):
    return partition_ranges(GRAPH, selected, partition, from_key, to_key, NOW)


def test_no_partition_arguments_means_no_ranges():
    assert ranges() == {}


def test_a_day_maps_to_every_overlapping_partition_of_other_grains():
    assert ranges("2024-01-15") == {"main.d": range(14, 15), "main.h": range(14 * 24, 15 * 24),
                                    "main.m": range(0, 1), "main.w": range(2, 3), "main.s": range(0, 2)}


def test_a_month_key_is_read_by_the_asset_that_can_parse_it():
    result = ranges("2024-02")
    assert result["main.m"] == range(1, 2)
    assert result["main.d"] == range(31, 60)                 # 2024-02-01 .. 2024-02-29
    assert result["main.w"] == range(4, 9)                   # the weeks that touch February


def test_a_range_is_inclusive():
    assert ranges(None, "2024-01-30", "2024-02-02")["main.d"] == range(29, 33)
    assert ranges(None, "2024-01-30", "2024-02-02")["main.m"] == range(0, 2)


@pytest.mark.parametrize("args,error,message", [
    (("2024-01-01", "2024-01-01", "2024-01-02"), UsageError, "either --partition or --from/--to"),
    ((None, "2024-01-01", None), UsageError, "go together"),
    ((None, "2024-01-05", "2024-01-01"), UsageError, "is after --to"),
    (("2024-13-01",), PartitionKeyError, "2024-13-01"),
    (("2030-01-01",), PartitionKeyError, "outside the range"),
])
def test_bad_ranges(args, error, message):
    with pytest.raises(error, match=message):
        ranges(*args)


def test_a_partition_needs_a_partitioned_asset():
    with pytest.raises(UsageError, match="no selected asset is partitioned"):
        ranges("2024-01-01", selected=frozenset({"main.u"}))


@settings(max_examples=150)
@given(first=st.integers(0, 140), length=st.integers(0, 25))
def test_ranges_cover_exactly_the_overlapping_partitions(first, length):
    days = GRAPH.assets["main.d"].partitioning
    lo, hi = days.window(first).start, days.window(first + length).end
    result = ranges(None, days.key(first), days.key(first + length))
    assert result["main.d"] == range(first, first + length + 1)
    for name in ("main.h", "main.w", "main.m"):
        part, got = GRAPH.assets[name].partitioning, result[name]
        overlapping = [i for i in range(part.count(NOW)) if part.window(i).start < hi and part.window(i).end > lo]
        assert list(got) == overlapping
