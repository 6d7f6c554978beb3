"""The planner: which (asset, partition) pairs are stale, why, and in what order they are built."""
from __future__ import annotations

from datetime import datetime, timedelta

from graph_builders import make_graph, make_spec, plan_snapshot, states
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.plan.graph import AssetGraph, upstream_closure
from assetflow.partitions import Grain, TimePartitions
from assetflow.plan.planner import (CODE, FULL_REFRESH, NEVER, SOURCE_CHANGED, SOURCE_MISSING, UPSTREAM_CHANGED,
                               UPSTREAM_FAILED, UPSTREAM_MISSING, UPSTREAM_STALE, Plan, PlanRequest)
from assetflow.state import FAILED, SUCCESS, UNPARTITIONED, PartitionRecord, StateSnapshot

NOW = datetime(2025, 1, 1, 12)
DAYS = TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d", end=datetime(2024, 1, 5))   # 5 partitions


def chain() -> AssetGraph:
    """a -> b -> c, and an unrelated d."""
    return make_graph(make_spec("a"), make_spec("b", ("a",)), make_spec("c", ("b",)), make_spec("d"))


def built(graph: AssetGraph, order: list[str] | None = None, **overrides: PartitionRecord) -> StateSnapshot:
    """Every partition built successfully with its current code, data versions in dependency order."""
    parts, version = {}, 0
    for name in order or graph.order:
        spec = graph.assets[name]
        part = spec.partitioning
        keys = [UNPARTITIONED] if part is None else [part.key(i) for i in range(part.count(NOW))]
        parts[name] = {}
        for key in keys:
            version += 1
            parts[name][key] = PartitionRecord(spec.code_version, version, SUCCESS)
    for name, record in overrides.items():
        parts[f"main.{name}"] = {UNPARTITIONED: record}
    return StateSnapshot(parts, max_version=version)


def request(graph: AssetGraph, *names: str, **kw) -> PlanRequest:
    selected = frozenset(f"main.{n}" for n in names) if names else frozenset(graph.assets)
    return PlanRequest(selected=selected, **kw)


def steps_of(result: Plan) -> list[tuple[str, str | None, tuple[str, ...]]]:
    return [(s.asset, s.partition, s.reasons) for s in result.steps]


# ---------------------------------------------------------------------------- examples

def test_empty_state_plans_every_partition_as_never_materialized():
    graph = make_graph(make_spec("a", partitioning=DAYS), make_spec("b", ("a",), partitioning=DAYS),
                       make_spec("c", ("b",)))
    result = plan_snapshot(graph, StateSnapshot(), request(graph), NOW)
    expected = ([("main.a", f"2024-01-0{d}", (NEVER,)) for d in range(1, 6)]
                + [("main.b", f"2024-01-0{d}", (NEVER,)) for d in range(1, 6)] + [("main.c", None, (NEVER,))])
    assert steps_of(result) == expected
    assert result.needs[("main.b", 2)] == (("main.a", 2),)
    assert result.needs[("main.c", 0)] == tuple(("main.b", i) for i in range(5))
    assert result.assets["main.a"].counts() == {"total": 5, "fresh": 0, "stale": 5, "blocked": 0, "failed": 0}


def test_everything_built_in_order_plans_nothing():
    graph = make_graph(make_spec("a", partitioning=DAYS), make_spec("b", ("a",), partitioning=DAYS,
                                                                    lookback=2), make_spec("c", ("b",)))
    result = plan_snapshot(graph, built(graph), request(graph), NOW)
    assert result.steps == () and result.blocked == ()
    assert all(set(p.categories) == {"fresh"} for p in result.assets.values())


def test_code_change_rebuilds_the_asset_and_its_downstream_only():
    graph = chain()
    state = built(graph)
    changed = make_graph(make_spec("a"), make_spec("b", ("a",), code_version="v2"), make_spec("c", ("b",)),
                         make_spec("d"))
    result = plan_snapshot(changed, state, request(changed), NOW)
    assert steps_of(result) == [("main.b", None, (CODE,)), ("main.c", None, (UPSTREAM_STALE,))]
    assert result.needs[("main.c", 0)] == (("main.b", 0),)


def test_upstream_rebuilt_later_marks_readers_changed():
    graph = chain()
    state = built(graph, ["main.b", "main.a", "main.c", "main.d"])     # a rebuilt after b read it
    result = plan_snapshot(graph, state, request(graph), NOW)
    assert steps_of(result) == [("main.b", None, (UPSTREAM_CHANGED,)), ("main.c", None, (UPSTREAM_STALE,))]


def test_failed_upstream_that_is_not_selected_blocks_downstream():
    graph = chain()
    state = StateSnapshot({"main.a": {UNPARTITIONED: PartitionRecord(None, 0, FAILED)}})
    result = plan_snapshot(graph, state, request(graph, "b"), NOW)
    assert result.steps == ()
    assert [(b.asset, b.reasons) for b in result.blocked] == [("main.b", (f"{UPSTREAM_FAILED}: main.a",))]


def test_failed_upstream_that_is_selected_is_retried_first():
    graph = chain()
    state = built(graph, a=PartitionRecord("v1", 1, FAILED))
    result = plan_snapshot(graph, state, request(graph, "a", "b"), NOW)
    assert [s.asset for s in result.steps] == ["main.a", "main.b"]
    assert result.needs[("main.b", 0)] == (("main.a", 0),)


def test_status_shows_readers_of_a_failed_partition_as_blocked():
    graph = chain()
    state = built(graph, a=PartitionRecord("v1", 1, FAILED))
    status = plan_snapshot(graph, state, request(graph, for_status=True), NOW)
    assert status.assets["main.a"].categories == ("failed",)
    assert status.assets["main.b"].categories == ("blocked",)
    assert status.assets["main.b"].reasons == ((f"{UPSTREAM_FAILED}: main.a",),)
    assert status.assets["main.d"].categories == ("fresh",)


def test_never_built_unselected_upstream_blocks_and_names_it():
    graph = chain()
    result = plan_snapshot(graph, StateSnapshot(), request(graph, "b", "c"), NOW)
    assert result.steps == ()
    assert [(b.asset, b.reasons) for b in result.blocked] == [
        ("main.b", (f"{UPSTREAM_MISSING}: main.a",)), ("main.c", ("upstream blocked: main.b",))]


def test_selection_limits_what_is_built():
    graph = chain()
    result = plan_snapshot(graph, StateSnapshot(), request(graph, "a", "b"), NOW)
    assert [s.asset for s in result.steps] == ["main.a", "main.b"]
    assert result.assets["main.c"].categories == ("stale",)      # reported, not built


def test_selected_asset_with_only_an_unselected_stale_upstream_is_built_without_waiting():
    graph = chain()
    changed = make_graph(make_spec("a", code_version="v2"), make_spec("b", ("a",)), make_spec("c", ("b",)),
                         make_spec("d"))
    result = plan_snapshot(changed, built(graph), request(changed, "b"), NOW)
    assert steps_of(result) == [("main.b", None, (UPSTREAM_STALE,))]
    assert result.needs[("main.b", 0)] == ()


def test_ranges_restrict_partitions():
    graph = make_graph(make_spec("a", partitioning=DAYS), make_spec("b", ("a",), partitioning=DAYS))
    req = request(graph, ranges={"main.a": range(1, 3), "main.b": range(2, 4)})
    result = plan_snapshot(graph, StateSnapshot(), req, NOW)
    assert [(s.asset, s.partition) for s in result.steps] == [
        ("main.a", "2024-01-02"), ("main.a", "2024-01-03"), ("main.b", "2024-01-03")]
    assert result.needs[("main.b", 2)] == (("main.a", 2),)
    # b[3] reads a[3], which is outside a's range and was never built
    assert [(b.asset, b.partition, b.reasons) for b in result.blocked] == [
        ("main.b", "2024-01-04", (f"{UPSTREAM_MISSING}: main.a [2024-01-04]",))]
    # with a[3] built, b[3] is built from it without waiting for anything
    state = StateSnapshot({"main.a": {"2024-01-04": PartitionRecord("v1", 1, SUCCESS)}})
    result = plan_snapshot(graph, state, req, NOW)
    assert [(s.asset, s.partition) for s in result.steps][-1] == ("main.b", "2024-01-04")
    assert result.needs[("main.b", 3)] == ()


def test_full_refresh_rebuilds_fresh_partitions_in_range():
    graph = make_graph(make_spec("a", partitioning=DAYS), make_spec("b", ("a",), partitioning=DAYS))
    req = request(graph, "a", ranges={"main.a": range(4, 5)}, refresh=frozenset({"main.a"}))
    result = plan_snapshot(graph, built(graph), req, NOW)
    assert steps_of(result) == [("main.a", "2024-01-05", (FULL_REFRESH,))]


def test_source_changes_and_missing_sources():
    graph = make_graph(make_spec("a", ("raw.orders",)), make_spec("b", ("a",)), sources=("raw.orders",))
    state = built(graph)
    newer = request(graph, source_versions={"raw.orders": state.max_version + 1})
    assert steps_of(plan_snapshot(graph, state, newer, NOW)) == [("main.a", None, (SOURCE_CHANGED,)),
                                                       ("main.b", None, (UPSTREAM_STALE,))]
    missing = request(graph, missing_sources=frozenset({"raw.orders"}))
    result = plan_snapshot(graph, StateSnapshot(), missing, NOW)
    assert result.steps == ()
    assert [b.reasons for b in result.blocked] == [(f"{SOURCE_MISSING}: raw.orders",),
                                                   ("upstream blocked: main.a",)]


def test_batch_size_groups_consecutive_partitions_into_one_step():
    graph = make_graph(make_spec("a", partitioning=DAYS, batch_size=2), make_spec("b", ("a",), partitioning=DAYS))
    req = request(graph, ranges={"main.a": range(0, 5), "main.b": range(0, 5)})
    state = StateSnapshot({"main.a": {"2024-01-03": PartitionRecord("v1", 1, SUCCESS)}})
    result = plan_snapshot(graph, state, req, NOW)
    batches = [(s.index, s.count, s.keys) for s in result.steps if s.asset == "main.a"]
    assert batches == [(0, 2, ("2024-01-01", "2024-01-02")), (3, 2, ("2024-01-04", "2024-01-05"))]
    assert result.needs[("main.b", 1)] == (("main.a", 0),)     # b[1] waits for the batch holding a[1]
    assert result.needs[("main.b", 4)] == (("main.a", 3),)
    assert result.needs[("main.b", 2)] == ()


# ---------------------------------------------------------------------------- random DAGs

@st.composite
def partitionings(draw):
    kind = draw(st.sampled_from(["none", "day", "month"]))
    if kind == "none":
        return None, 0
    lookback = draw(st.integers(0, 2))
    if kind == "day":
        start = datetime(2024, 1, draw(st.integers(1, 4)))
        end = datetime(2024, 1, draw(st.integers(start.day, 8)))
        return TimePartitions(Grain.DAY, start, "d", end), lookback
    start = datetime(2024, draw(st.integers(1, 2)), 1)
    end = datetime(2024, draw(st.integers(start.month, 3)), 1)
    return TimePartitions(Grain.MONTH, start, "m", end), lookback


@st.composite
def dags(draw):
    """1-12 assets; asset i reads a random subset of assets 0..i-1 (so the graph is acyclic)."""
    size = draw(st.integers(1, 12))
    specs = []
    for i in range(size):
        reads = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        part, lookback = draw(partitionings())
        batch = draw(st.integers(1, 3)) if part is not None else 1
        specs.append(make_spec(f"n{i:02d}", tuple(f"n{j:02d}" for j in sorted(reads)), partitioning=part,
                               lookback=lookback, code_version=draw(st.sampled_from(["v1", "v2"])),
                               batch_size=batch))
    return make_graph(*specs)


def simulate(graph: AssetGraph, state: StateSnapshot, result: Plan) -> StateSnapshot:
    """Record every planned step as built, data versions increasing in plan order."""
    parts = {name: dict(records) for name, records in state.partitions.items()}
    version = state.max_version
    for step in result.steps:
        version += 1
        for key in step.keys:
            parts.setdefault(step.asset, {})[UNPARTITIONED if key is None else key] = PartitionRecord(
                graph.assets[step.asset].code_version, version, SUCCESS)
    return StateSnapshot(parts, max_version=version)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_plan_steps_are_unique_and_dependencies_come_first(data):
    graph = data.draw(dags())
    state = data.draw(states(graph, NOW))
    selected = frozenset(data.draw(st.sets(st.sampled_from(sorted(graph.assets)), min_size=1)))
    result = plan_snapshot(graph, state, PlanRequest(selected=selected), NOW)
    ids = [(s.asset, s.index) for s in result.steps]
    built_keys = [(s.asset, key) for s in result.steps for key in s.keys]
    assert len(built_keys) == len(set(built_keys))
    assert set(result.needs) == set(ids)
    for s in result.steps:
        part = graph.assets[s.asset].partitioning
        expected = [None] if part is None else [part.key(i) for i in range(s.index, s.index + s.count)]
        assert list(s.keys) == expected and s.keys[0] == s.partition
        assert s.count <= graph.assets[s.asset].settings.batch_size
    position = {sid: n for n, sid in enumerate(ids)}
    for sid, needs in result.needs.items():
        for need in needs:
            assert need in position, f"{sid} needs {need}, which is not in the plan"
            assert position[need] < position[sid]
            assert need[0] in graph.upstream_assets(sid[0])
    assert {s.asset for s in result.steps} <= selected
    assert all(s.reasons for s in result.steps)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_execute_then_plan_again_plans_nothing(data):
    graph = data.draw(dags())
    state = data.draw(states(graph, NOW))
    roots = data.draw(st.sets(st.sampled_from(sorted(graph.assets)), min_size=1))
    selected = frozenset(roots | upstream_closure(graph, roots))      # like `+name`
    req = PlanRequest(selected=selected)
    first = plan_snapshot(graph, state, req, NOW)
    second = plan_snapshot(graph, simulate(graph, state, first), req, NOW)
    assert second.steps == (), [(s.asset, s.partition, s.reasons) for s in second.steps]
    assert second.blocked == ()
    for name in selected:
        assert set(second.assets[name].categories) <= {"fresh"}


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_empty_state_plans_every_selected_partition_once(data):
    graph = data.draw(dags())
    result = plan_snapshot(graph, StateSnapshot(), PlanRequest(selected=frozenset(graph.assets)), NOW)
    expected = sum(1 if a.partitioning is None else a.partitioning.count(NOW) for a in graph.assets.values())
    assert sum(s.count for s in result.steps) == expected
    assert all(s.reasons == (NEVER,) for s in result.steps)


def test_an_extract_older_than_its_max_age_is_rebuilt_with_its_readers():
    graph = make_graph(make_spec("extract", max_age="24h"), make_spec("report", ("extract",)), make_spec("d"))
    day_ago = NOW - timedelta(hours=24)
    fresh = built(graph, extract=PartitionRecord("v1", 1, SUCCESS, None, NOW - timedelta(hours=23)))
    assert plan_snapshot(graph, fresh, request(graph), NOW).steps == ()
    old = built(graph, extract=PartitionRecord("v1", 1, SUCCESS, None, day_ago))
    assert steps_of(plan_snapshot(graph, old, request(graph), NOW)) == [
        ("main.extract", None, ("older than 24h",)), ("main.report", None, (UPSTREAM_STALE,))]
    # a day later by the clock the planner is given, the fresh build has aged too
    assert steps_of(plan_snapshot(graph, fresh, request(graph), NOW + timedelta(hours=1)))[0] == \
        ("main.extract", None, ("older than 24h",))
