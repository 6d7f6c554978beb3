"""Deviations: the partitions that differ from what is expected of them now.

The DuckDB store computes them in one SQL query; `freshness.deviations_of` is the reference
implementation in Python. Property tests hold the two to the same answer on random graphs
(every kind of partition mapping) and random histories, and check the mapping values both ways.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
from graph_builders import make_graph, make_spec, states
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.plan import freshness
from assetflow.engines import duckdb_state as store
from assetflow.engines.duckdb_deviations import deviations as store_deviations
from assetflow.plan.freshness import (CODE_CHANGED, LAST_FAILED, NEVER_BUILT, NO_ROW, SOURCE_NEWER, TOO_OLD,
                                      UPSTREAM_NEWER, deviations_of, edges_of, expect, partition_keys)
from assetflow.plan.graph import AssetGraph
from assetflow.partitions import Everything, Grain, Ranges, Shift, StaticPartitions, TimePartitions, edge_mapping
from assetflow.state import FAILED, SUCCESS, UNPARTITIONED, PartitionRecord, StateSnapshot

NOW = datetime(2025, 1, 1, 12)
DAYS = TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d", end=datetime(2024, 1, 5))


def expectation(graph: AssetGraph, source_versions=None, windowed=frozenset()):
    keys = partition_keys(graph, NOW)
    return expect(graph, keys, edges_of(graph, keys), source_versions or {}, windowed, NOW)


def sql_deviations(state: StateSnapshot, exp: freshness.Expectation) -> dict:
    con = duckdb.connect()
    store.ensure_schema(con)
    rows = [(asset, key, r.status, r.code_version, r.data_version, r.built_at)
            for asset, records in state.partitions.items() for key, r in records.items()]
    for row in rows:
        con.execute("INSERT INTO _assetflow.partitions (asset, partition, status, code_version, data_version, "
                    "built_at) VALUES (?, ?, ?, ?, ?, ?)", list(row))
    try:
        in_sql = store_deviations(con, exp, sql_from=0)
        # small expectations are answered by the Python rules over the records read back
        in_python = store_deviations(con, exp, sql_from=10**9)
        assert in_sql == in_python
        return in_sql
    finally:
        con.close()


# ---------------------------------------------------------------------------- examples

def test_each_flag_is_set_for_its_reason():
    graph = make_graph(make_spec("a", ("raw.src",), partitioning=DAYS), make_spec("b", ("a",), partitioning=DAYS),
                       sources=("raw.src",))
    state = StateSnapshot({
        "main.a": {"2024-01-01": PartitionRecord("v1", 10, SUCCESS),      # fresh
                   "2024-01-02": PartitionRecord("old", 11, SUCCESS),     # code changed
                   "2024-01-03": PartitionRecord("v1", 12, FAILED),       # built, then a failed attempt
                   "2024-01-04": PartitionRecord(None, 0, FAILED)},       # never built successfully
        "main.b": {"2024-01-01": PartitionRecord("v1", 20, SUCCESS),
                   "2024-01-02": PartitionRecord("v1", 5, SUCCESS),       # built before a[2]
                   "2024-01-03": PartitionRecord("v1", 21, SUCCESS)},
    })
    exp = expectation(graph, {"raw.src": 11})
    expected = {"main.a": {0: SOURCE_NEWER, 1: CODE_CHANGED, 2: LAST_FAILED, 3: NEVER_BUILT | LAST_FAILED,
                           4: NO_ROW | NEVER_BUILT},
                "main.b": {1: UPSTREAM_NEWER, 3: NO_ROW | NEVER_BUILT, 4: NO_ROW | NEVER_BUILT}}
    assert deviations_of(state, exp) == expected
    assert sql_deviations(state, exp) == expected


def test_a_fully_fresh_store_has_no_deviations():
    graph = make_graph(make_spec("a", partitioning=DAYS), make_spec("b", ("a",), partitioning=DAYS, lookback=2),
                       make_spec("c", ("b",)))
    version = iter(range(1, 100))
    state = StateSnapshot({name: {(UNPARTITIONED if graph.assets[name].partitioning is None else k): PartitionRecord(
        "v1", next(version), SUCCESS) for k in ([None] if graph.assets[name].partitioning is None
                                                else [DAYS.key(i) for i in range(5)])} for name in graph.order})
    exp = expectation(graph)
    assert deviations_of(state, exp) == {}
    assert sql_deviations(state, exp) == {}


def test_fully_built_assets_compare_only_the_upstream_partitions_each_one_reads():
    # b starts two days before a and ends two days after it, reading a's day and the one before:
    # b's first two and last day read no partition of a, whatever a's versions are (the store
    # compares two fully built assets as lists; an index before or past a's list reads nothing)
    a_days = TimePartitions(Grain.DAY, datetime(2024, 1, 3), "d", end=datetime(2024, 1, 5))
    b_days = TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d", end=datetime(2024, 1, 7))
    graph = make_graph(make_spec("a", partitioning=a_days), make_spec("b", ("a",), partitioning=b_days, lookback=1))
    a = {a_days.key(i): PartitionRecord("v1", v, SUCCESS) for i, v in enumerate([50, 10, 90])}
    b = {b_days.key(i): PartitionRecord("v1", v, SUCCESS) for i, v in enumerate([1, 2, 60, 70, 80, 95, 3])}
    state = StateSnapshot({"main.a": a, "main.b": b})
    exp = expectation(graph)
    # b[0], b[1] read before a's first day and b[6] past its last: nothing, though a's last is 90;
    # b[4] (80) reads a[1..2] (10, 90): changed; b[5] (95) reads a[2] only: fresh
    expected = {"main.b": {4: UPSTREAM_NEWER}}
    assert deviations_of(state, exp) == expected
    assert sql_deviations(state, exp) == expected


def test_records_outside_the_partition_range_are_ignored():
    graph = make_graph(make_spec("a", partitioning=DAYS))
    state = StateSnapshot({"main.a": {DAYS.key(i): PartitionRecord("v1", i + 1, SUCCESS) for i in range(5)}
                           | {"2023-12-31": PartitionRecord("old", 99, FAILED)}})
    assert sql_deviations(state, expectation(graph)) == {}


def test_a_windowed_source_versions_each_partition():
    graph = make_graph(make_spec("a", ("raw.src",), partitioning=DAYS), sources=("raw.src",))
    state = StateSnapshot({"main.a": {DAYS.key(i): PartitionRecord("v1", 10, SUCCESS) for i in range(5)}})
    versions = {"raw.src[2024-01-03]": 11, "raw.src[2024-01-04]": 9}
    exp = expectation(graph, versions, frozenset({"raw.src"}))
    assert deviations_of(state, exp) == {"main.a": {2: SOURCE_NEWER}}
    assert sql_deviations(state, exp) == {"main.a": {2: SOURCE_NEWER}}


def test_max_age_ages_the_latest_partition_and_unpartitioned_and_static_ones():
    static = StaticPartitions(("eu", "us"), "region")
    graph = make_graph(make_spec("days", partitioning=DAYS, max_age="24h"), make_spec("one", max_age="24h"),
                       make_spec("regions", partitioning=static, max_age="24h"), make_spec("plain"))
    day_ago, older, newer = NOW - timedelta(hours=24), NOW - timedelta(hours=30), NOW - timedelta(hours=23)
    state = StateSnapshot({
        # every window is a day old or older, but only the latest one ages: older ones are history
        "main.days": {DAYS.key(i): PartitionRecord("v1", i + 1, SUCCESS, None, older) for i in range(4)}
                     | {DAYS.key(4): PartitionRecord("v1", 5, SUCCESS, None, day_ago)},    # exactly 24 h: old
        "main.one": {UNPARTITIONED: PartitionRecord("v1", 6, SUCCESS, None, newer)},         # 23 h: fresh
        "main.regions": {"eu": PartitionRecord("v1", 7, SUCCESS, None, older),
                         "us": PartitionRecord("v1", 8, FAILED, None, newer)},               # failed later
        "main.plain": {UNPARTITIONED: PartitionRecord("v1", 9, SUCCESS, None, older)},       # no max_age
    })
    exp = expectation(graph)
    expected = {"main.days": {4: TOO_OLD}, "main.regions": {0: TOO_OLD, 1: LAST_FAILED}}
    assert deviations_of(state, exp) == expected
    assert sql_deviations(state, exp) == expected


# ---------------------------------------------------------------------------- mappings both ways

@st.composite
def partitionings(draw):
    kind = draw(st.sampled_from(["none", "hour", "day", "week", "month", "static"]))
    if kind == "none":
        return None
    if kind == "static":
        keys = draw(st.lists(st.sampled_from(["eu", "us", "apac", "latam"]), min_size=1, max_size=4, unique=True))
        return StaticPartitions(tuple(keys), "region")
    day = draw(st.integers(1, 5))
    if kind == "hour":
        start = datetime(2024, 1, day, draw(st.integers(0, 23)))
        return TimePartitions(Grain.HOUR, start, "h", end=datetime(2024, 1, day + 2, draw(st.integers(0, 23))))
    if kind == "day":
        return TimePartitions(Grain.DAY, datetime(2024, 1, day), "d", end=datetime(2024, 1, day + draw(st.integers(0, 9))))
    if kind == "week":
        return TimePartitions(Grain.WEEK, datetime(2024, 1, 1), "w", end=datetime(2024, 1, 1 + 7 * draw(st.integers(0, 4))))
    return TimePartitions(Grain.MONTH, datetime(2024, draw(st.integers(1, 3)), 1), "m",
                          end=datetime(2024, draw(st.integers(3, 4)), 1))


def count(part) -> int:
    return 1 if part is None else part.count(NOW)


@settings(max_examples=300, deadline=None)
@given(down=partitionings(), up=partitionings(), lookback=st.integers(0, 3))
def test_readers_are_the_inverse_of_up_range(down, up, lookback):
    lookback = lookback if isinstance(down, TimePartitions) else 0
    m = edge_mapping(down, count(down), up, count(up), lookback)
    assert isinstance(m, (Shift, Everything, Ranges))
    reads = {(i, j) for i in range(count(down)) for j in m.up_range(i)}
    assert all(0 <= j < count(up) for _, j in reads)
    inverse = {(i, j) for j in range(count(up)) for i in m.readers(j)}
    assert reads == inverse
    from assetflow.partitions import upstream_range
    assert reads == {(i, j) for i in range(count(down)) for j in upstream_range(down, i, up, count(up), lookback)}


# ---------------------------------------------------------------------------- SQL == reference

@st.composite
def graphs_and_states(draw):
    size = draw(st.integers(1, 7))
    specs, sources = [], ["raw.s0", "raw.s1"]
    for i in range(size):
        reads = sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else []
        srcs = sorted(draw(st.sets(st.sampled_from(sources), max_size=1)))
        part = draw(partitionings())
        lookback = draw(st.integers(0, 2)) if isinstance(part, TimePartitions) else 0
        specs.append(make_spec(f"n{i}", tuple(f"n{j}" for j in reads) + tuple(srcs), partitioning=part,
                               lookback=lookback, code_version=draw(st.sampled_from(["v1", "v2"])),
                               max_age=draw(st.sampled_from([None, None, "24h", "1d12h", "30m"]))))
    graph = make_graph(*specs, sources=tuple(sources))
    state = draw(states(graph, NOW))
    source_versions = {s: draw(st.integers(0, 600)) for s in sources}
    return graph, state, source_versions


@settings(max_examples=150, deadline=None)
@given(case=graphs_and_states())
def test_the_store_query_finds_what_the_reference_finds(case):
    graph, state, source_versions = case
    exp = expectation(graph, source_versions)
    assert sql_deviations(state, exp) == deviations_of(state, exp)
