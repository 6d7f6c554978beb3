"""What "fresh" means right now, as data a state store can check in one query.

For every asset: its current code version, its partition keys, and the newest data version of the
sources it reads; for every edge: how its downstream partitions map onto upstream ones. A state
store compares its records with this and answers with the partitions that deviate, each with a
few flag bits (`Deviations`). The planner then works on those partitions alone, so planning costs
what is stale, not how many partitions exist (a thousand assets of a year of days is 365,000
records, and nearly all of them are fresh).

`deviations_of` states the rules on an in-memory snapshot; the DuckDB store uses it for small
expectations and runs the same rules as SQL for large ones, and a property test holds the two to
the same answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from assetflow.plan.graph import AssetGraph
from assetflow.partitions import EdgeMapping, Everything, Partitioning, Ranges, Shift, TimePartitions, edge_mapping
from assetflow.state import FAILED, UNPARTITIONED, StateSnapshot

# Flag bits of a deviating partition.
NO_ROW = 1            # the store has no record of it at all
NEVER_BUILT = 2       # no successful build (no record, or only failed attempts)
CODE_CHANGED = 4      # built with another code version
LAST_FAILED = 8       # its last attempt failed
SOURCE_NEWER = 16     # a source it reads has a newer data version than it
UPSTREAM_NEWER = 32   # an upstream partition it reads was built after it
TOO_OLD = 64          # its last good build is max_age old or older (only where max_age applies)

Deviations = Mapping[str, Mapping[int, int]]      # asset -> partition index -> flag bits


@dataclass(frozen=True, slots=True)
class AssetExpectation:
    name: str
    code_version: str
    definition: int                     # index into Expectation.keys
    source_version: int                 # newest data version of the (whole) sources it reads
    windowed: Mapping[int, int] = field(default_factory=dict)   # index -> newest windowed-source version
    # max_age: partitions from index `aged_from` on whose last good build started at or before
    # `built_by` (now - max_age) are TOO_OLD; None when the asset has no max_age
    built_by: datetime | None = None
    aged_from: int = 0


@dataclass(frozen=True, slots=True)
class Edge:
    down: str
    up: str
    mapping: EdgeMapping


@dataclass(frozen=True)
class Expectation:
    assets: tuple[AssetExpectation, ...]
    keys: tuple[tuple[str, ...], ...]   # per partition definition: the stored key of each index
    edges: tuple[Edge, ...]             # every asset -> asset edge, downstream in graph order

    def keys_of(self, asset: AssetExpectation) -> tuple[str, ...]:
        return self.keys[asset.definition]


@dataclass(frozen=True)
class PartitionKeys:
    """Every asset's partition keys at one moment; assets with equal partitioning share a tuple."""

    definitions: tuple[tuple[str | None, ...], ...]
    of_asset: Mapping[str, int]

    def __getitem__(self, asset: str) -> tuple[str | None, ...]:
        return self.definitions[self.of_asset[asset]]


def partition_keys(graph: AssetGraph, now: datetime) -> PartitionKeys:
    found: dict[Partitioning | None, int] = {}
    definitions: list[tuple[str | None, ...]] = []
    of_asset = {}
    for name in graph.order:
        part = graph.assets[name].partitioning
        if part not in found:
            found[part] = len(definitions)
            definitions.append((None,) if part is None else tuple(part.key(i) for i in range(part.count(now))))
        of_asset[name] = found[part]
    return PartitionKeys(tuple(definitions), of_asset)


def edges_of(graph: AssetGraph, keys: PartitionKeys) -> dict[str, list[Edge]]:
    """Each asset's upstream edges, in the order of its upstream list. Edges of the same shape
    (partitionings, counts, lookback) share one mapping: most edges of a large project have one
    of a few shapes, and a mapping between grains costs calendar maths per partition."""
    out = {}
    mappings: dict[tuple, EdgeMapping] = {}
    for name in graph.order:
        spec = graph.assets[name]
        edges = []
        for up in graph.upstream_assets(name):
            shape = (spec.partitioning, len(keys[name]), graph.assets[up].partitioning, len(keys[up]),
                     spec.settings.lookback)
            mapping = mappings.get(shape)
            if mapping is None:
                mapping = mappings[shape] = edge_mapping(*shape)
            edges.append(Edge(name, up, mapping))
        out[name] = edges
    return out


def expect(graph: AssetGraph, keys: PartitionKeys, edges: Mapping[str, list[Edge]],
           source_versions: Mapping[str, int], windowed_sources: frozenset[str], now: datetime) -> Expectation:
    """The expectation for every asset of the graph at `now` (naive UTC).

    A windowed source (a freshness query using $start/$end) is versioned per reader partition,
    under `source[key]`; the others once.
    """
    assets = []
    for name in graph.order:
        sources = graph.upstream_sources(name)
        whole = max((source_versions.get(s, 0) for s in sources if s not in windowed_sources), default=0)
        windowed = {}
        for s in (s for s in sources if s in windowed_sources):
            for i, key in enumerate(keys[name]):
                version = source_versions.get(f"{s}[{key}]", 0)
                if version > max(whole, windowed.get(i, 0)):
                    windowed[i] = version
        spec = graph.assets[name]
        built_by, aged_from = _aging(spec.settings.max_age, spec.partitioning, len(keys[name]), now)
        assets.append(AssetExpectation(name, spec.code_version, keys.of_asset[name], whole, windowed,
                                       built_by, aged_from))
    stored = tuple(tuple(UNPARTITIONED if k is None else k for k in d) for d in keys.definitions)
    return Expectation(tuple(assets), stored, tuple(e for name in graph.order for e in edges[name]))


def _aging(max_age, partitioning, count: int, now: datetime) -> tuple[datetime | None, int]:
    """Where max_age applies: the one partition of an unpartitioned asset, the latest of a
    time-partitioned one (older windows are history, they do not age), every static key (each is
    a current slice, like its own unpartitioned asset)."""
    if max_age is None:
        return None, 0
    return now - max_age.delta, (count - 1 if isinstance(partitioning, TimePartitions) else 0)


# ---------------------------------------------------------------------------- the rules in Python

def deviations_of(snapshot: StateSnapshot, expectation: Expectation) -> dict[str, dict[int, int]]:
    """The partitions of `snapshot` that deviate from `expectation`, and how (in memory)."""
    versions: dict[str, list[int]] = {}
    out: dict[str, dict[int, int]] = {}
    for asset in expectation.assets:
        records = snapshot.partitions.get(asset.name, {})
        own = out.setdefault(asset.name, {})
        vs = []
        for i, key in enumerate(expectation.keys_of(asset)):
            record = records.get(key)
            built = record is not None and record.code_version is not None
            vs.append(record.data_version if built else 0)
            flags = (NO_ROW | NEVER_BUILT) if record is None else 0
            if record is not None and not built:
                flags |= NEVER_BUILT
            if built and record.code_version != asset.code_version:
                flags |= CODE_CHANGED
            if record is not None and record.status == FAILED:
                flags |= LAST_FAILED
            if built and vs[i] < asset.windowed.get(i, asset.source_version):
                flags |= SOURCE_NEWER
            if built and asset.built_by is not None and i >= asset.aged_from and \
                    (record.built_at is None or record.built_at <= asset.built_by):
                flags |= TOO_OLD
            if flags:
                own[i] = flags
        versions[asset.name] = vs
    for edge in expectation.edges:
        own_v, up_v, own = versions[edge.down], versions[edge.up], out[edge.down]
        # (everything-reads-everything: one maximum, not one scan of the upstream per partition)
        newest = max(up_v, default=0) if isinstance(edge.mapping, Everything) else None
        for i, v in enumerate(own_v):
            if own.get(i, 0) & NEVER_BUILT:
                continue
            read = newest if newest is not None else max((up_v[j] for j in edge.mapping.up_range(i)), default=0)
            if read > v:
                own[i] = own.get(i, 0) | UPSTREAM_NEWER
    return {name: flags for name, flags in out.items() if flags}


def mapping_rows(expectation: Expectation) -> tuple[list, list, list]:
    """The edges as rows for a store's query: (down, up, offset, lookback) for same-grain edges,
    (down, up) for edges where everything reads everything, (down, up, down index, up index) for
    the rest."""
    shifts, everything, pairs = [], [], []
    for e in expectation.edges:
        m = e.mapping
        if isinstance(m, Shift):
            shifts.append((e.down, e.up, m.offset, m.lookback))
        elif isinstance(m, Everything):
            everything.append((e.down, e.up))
        else:
            assert isinstance(m, Ranges)
            pairs.extend((e.down, e.up, i, j) for i, j in m.pairs())
    return shifts, everything, pairs


def modified_assets(deviations: Deviations, keys: PartitionKeys) -> frozenset[str]:
    """The assets `state:modified` selects: some partition was last built with another code
    version, or no partition was ever built (a new asset is modified, as in dbt)."""
    out = set()
    for name, flags in deviations.items():
        if any(f & CODE_CHANGED for f in flags.values()) or (
                name in keys.of_asset and len(flags) == len(keys[name])
                and all(f & NEVER_BUILT for f in flags.values())):
            out.add(name)
    return frozenset(out)
