"""Build asset specs and graphs in memory, the way the loader does, without a project on disk."""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st

from assetflow.plan import freshness
from assetflow.assets import AssetKey, AssetSettings, AssetSpec, Kind, Reference, SourceSpec, SqlBody
from assetflow.durations import parse_duration
from assetflow.plan.graph import AssetGraph, build_graph
from assetflow.partitions import Partitioning
from assetflow.plan.planner import Plan, PlanRequest, plan
from assetflow.state import FAILED, SUCCESS, UNPARTITIONED, PartitionRecord, StateSnapshot


def make_spec(name: str, reads: tuple[str, ...] = (), *, partitioning: Partitioning | None = None,
              code_version: str = "v1", lookback: int = 0, tags: tuple[str, ...] = (),
              path: str | None = None, file_reads: tuple[str, ...] = (), batch_size: int = 1,
              max_age: str | None = None) -> AssetSpec:
    """An asset `schema.name` (or bare `name` in `main`) whose SQL reads the tables in `reads`."""
    key = AssetKey.parse(name)
    settings = AssetSettings(kind=Kind.PARTITIONED if partitioning else Kind.TABLE,
                             partitioning=partitioning, lookback=lookback, tags=tags,
                             batch_size=batch_size, max_age=parse_duration(max_age) if max_age else None)
    refs = tuple(Reference(parts=tuple(r.split(".")), line=n + 1) for n, r in enumerate(reads))
    return AssetSpec(key=key, settings=settings, body=SqlBody(sql="select 1", file_reads=file_reads),
                     path=path or f"assets/{key.schema}/{key.name}.sql", line=1,
                     code_version=code_version, references=refs)


def make_graph(*specs: AssetSpec, sources: tuple[str, ...] = ()) -> AssetGraph:
    return build_graph(specs, [SourceSpec(name=s, table=s) for s in sources])


def plan_snapshot(graph: AssetGraph, state: StateSnapshot, request: PlanRequest, now: datetime) -> Plan:
    """Plan against an in-memory state, as `assess` does against a store."""
    keys = freshness.partition_keys(graph, now)
    edges = freshness.edges_of(graph, keys)
    expectation = freshness.expect(graph, keys, edges, request.source_versions, request.windowed_sources, now)
    return plan(graph, freshness.deviations_of(state, expectation), request, keys, edges)


@st.composite
def states(draw, graph: AssetGraph, now: datetime, versions: int = 600):
    """A random history: partitions missing, built with old or current code, or last attempt failed
    (with or without an earlier success). Data versions are distinct, in random order; each good
    build started up to three days before `now`, often just inside, at or past a day or a day and
    a half (the max_ages the tests use)."""
    numbers = iter(draw(st.permutations(range(1, versions))))
    built_at = st.sampled_from([0, 12, 23, 24, 25, 35, 36, 72]).map(lambda h: now - timedelta(hours=h))
    parts = {}
    for name in graph.order:
        part = graph.assets[name].partitioning
        keys = [UNPARTITIONED] if part is None else [part.key(i) for i in range(part.count(now))]
        records = {}
        # half the assets are built in every partition (the store compares those as whole lists)
        kinds = ["v1", "v2", "failed"] if draw(st.booleans()) else ["missing", "v1", "v2", "failed", "failed-never"]
        for key in keys:
            what = draw(st.sampled_from(kinds))
            if what == "failed-never":
                records[key] = PartitionRecord(None, 0, FAILED)
            elif what != "missing":
                records[key] = PartitionRecord("v1" if what == "failed" else what, next(numbers),
                                               FAILED if what == "failed" else SUCCESS, None, draw(built_at))
        parts[name] = records
    return StateSnapshot(parts, max_version=versions)
