"""Pure planning: (graph, state, selection, window) -> the stale partitions to build, and why.

Works on partition indices per asset. For each asset in dependency order it classifies every
partition as fresh / stale / failed / blocked with reasons, so `status` and `materialize` share one
definition of staleness.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from assetflow.graph import AssetGraph
from assetflow.partitions import Partitioning, edge_ranges
from assetflow.state import FAILED, UNPARTITIONED, AssetState, PartitionRecord, StateSnapshot

NEVER = "never materialized"
CODE = "code changed"
UPSTREAM_CHANGED = "upstream changed"
SOURCE_CHANGED = "source changed"
UPSTREAM_STALE = "upstream stale"
FULL_REFRESH = "full refresh"
FAILED_BEFORE = "previous attempt failed"
UPSTREAM_FAILED = "upstream failed"
UPSTREAM_MISSING = "upstream never built"
UPSTREAM_BLOCKED = "upstream blocked"
SOURCE_MISSING = "source missing"

FRESH, STALE, BLOCKED = "fresh", "stale", "blocked"


@dataclass(frozen=True, slots=True)
class Step:
    """Build partitions `index .. index + count - 1` of `asset` (count > 1 only with batch_size)."""

    asset: str
    index: int
    partition: str | None
    reasons: tuple[str, ...]
    count: int = 1
    partitions: tuple[str | None, ...] = ()     # every key of a batch, first included

    @property
    def keys(self) -> tuple[str | None, ...]:
        return self.partitions or (self.partition,)


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    asset: str
    partition: str | None
    category: str                 # fresh | stale | failed | blocked
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AssetPlan:
    """One asset's classification of all its partitions."""

    name: str
    keys: tuple[str | None, ...]
    categories: tuple[str, ...]
    reasons: tuple[tuple[str, ...], ...]

    def counts(self) -> dict[str, int]:
        out = {"total": len(self.keys), FRESH: 0, STALE: 0, BLOCKED: 0, FAILED: 0}
        for cat in self.categories:
            out[cat] += 1
        return out


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]                              # dependencies first
    needs: Mapping[tuple[str, int], tuple[tuple[str, int], ...]]   # step -> steps it waits for
    assets: Mapping[str, AssetPlan] = field(default_factory=dict)
    blocked: tuple[PartitionStatus, ...] = ()


@dataclass(frozen=True)
class PlanRequest:
    selected: frozenset[str]
    ranges: Mapping[str, range] = field(default_factory=dict)     # asset -> indices to consider
    refresh: frozenset[str] = frozenset()    # assets whose considered partitions are rebuilt anyway
    for_status: bool = False          # status: a failed upstream blocks; materialize retries it
    source_versions: Mapping[str, int] = field(default_factory=dict)   # source -> data version
    windowed_sources: frozenset[str] = frozenset()   # versioned per reader partition: "source[key]"
    missing_sources: frozenset[str] = frozenset()
    source_fingerprints: Mapping[str, str | None] = field(default_factory=dict)


def partition_keys(partitioning: Partitioning | None, now: datetime) -> tuple[str | None, ...]:
    if partitioning is None:
        return (None,)
    return tuple(partitioning.key(i) for i in range(partitioning.count(now)))


def plan(graph: AssetGraph, state: StateSnapshot, request: PlanRequest, now: datetime) -> Plan:
    by_definition: dict[Partitioning | None, tuple[str | None, ...]] = {}    # many assets share one
    keys = {}
    for n in graph.order:
        part = graph.assets[n].partitioning
        if part not in by_definition:
            by_definition[part] = partition_keys(part, now)
        keys[n] = by_definition[part]
    seen = _Seen()
    plans: dict[str, AssetPlan] = {}
    steps: list[Step] = []
    needs: dict[tuple[str, int], tuple[tuple[str, int], ...]] = {}
    blocked: list[PartitionStatus] = []
    step_of: dict[tuple[str, int], tuple[str, int]] = {}      # partition -> the step that builds it
    for name in graph.order:
        result = _plan_asset(name, graph, state, request, keys, seen)
        plans[name] = result.asset_plan
        for batch in _batches(result.build, graph.assets[name].settings.batch_size):
            first = batch[0]
            reasons = tuple(dict.fromkeys(r for i in batch for r in result.asset_plan.reasons[i]))
            steps.append(Step(name, first, keys[name][first], reasons, len(batch),
                              tuple(keys[name][i] for i in batch) if len(batch) > 1 else ()))
            waits = {step_of[need] for i in batch for need in result.needs[i]}
            needs[(name, first)] = tuple(sorted(waits))
            step_of.update({(name, i): (name, first) for i in batch})
        blocked.extend(PartitionStatus(name, keys[name][i], BLOCKED, result.asset_plan.reasons[i])
                       for i in result.blocked)
    return Plan(tuple(steps), needs, plans, tuple(blocked))


def _batches(indices: list[int], size: int) -> list[list[int]]:
    """Consecutive runs of indices, cut into groups of at most `size`."""
    groups: list[list[int]] = []
    for index in indices:
        if groups and groups[-1][-1] == index - 1 and len(groups[-1]) < size:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


@dataclass
class _Seen:
    """What planning has decided so far for upstream assets, by partition index."""

    versions: dict[str, list[int]] = field(default_factory=dict)   # current data version
    stale: dict[str, list[bool]] = field(default_factory=dict)     # not fresh after this run
    planned: dict[str, list[bool]] = field(default_factory=dict)   # built in this run
    broken: dict[str, list[str | None]] = field(default_factory=dict)  # unreadable, and why


@dataclass
class _AssetResult:
    asset_plan: AssetPlan
    build: list[int]
    needs: dict[int, tuple[tuple[str, int], ...]]
    blocked: list[int]


@dataclass
class _Edge:
    """One upstream asset as seen from every partition of the downstream asset."""

    up: str
    lo: list[int]
    hi: list[int]
    shift: int | None        # partition i reads exactly upstream i + shift: align by slicing

    def align(self, values: list) -> list:
        """Per downstream partition, the upstream value it reads (only when `shift` is set)."""
        return values[self.shift:self.shift + len(self.lo)]


def _edges(name: str, graph: AssetGraph, keys: Mapping[str, tuple[str | None, ...]]) -> list[_Edge]:
    spec = graph.assets[name]
    edges = []
    for up in graph.upstream_assets(name):
        lo, hi, shift = edge_ranges(spec.partitioning, len(keys[name]), graph.assets[up].partitioning,
                                    len(keys[up]), spec.settings.lookback)
        edges.append(_Edge(up, lo, hi, shift))
    return edges


def _any_in(flags: list[bool], e: _Edge) -> list[bool]:
    if e.shift is not None:
        return e.align(flags)
    return [any(flags[l:h]) for l, h in zip(e.lo, e.hi)]


def _max_in(values: list[int], e: _Edge) -> list[int]:
    if e.shift is not None:
        return e.align(values)
    return [max(values[l:h], default=0) for l, h in zip(e.lo, e.hi)]


def _plan_asset(name: str, graph: AssetGraph, state: StateSnapshot, request: PlanRequest,
                keys: Mapping[str, tuple[str | None, ...]], seen: _Seen) -> _AssetResult:
    """Classify every partition of one asset with whole-list passes; reasons only where not fresh."""
    spec = graph.assets[name]
    own_keys = keys[name]
    n = len(own_keys)
    records = state.partitions.get(name, {})
    codes, own_v, statuses = _aligned(records, own_keys)
    built = [c is not None for c in codes]
    considered = [False] * n
    if name in request.selected:
        for i in request.ranges.get(name, range(n)):
            considered[i] = True
    refresh = name in request.refresh
    sources = graph.upstream_sources(name)
    whole = max((request.source_versions.get(s, 0) for s in sources if s not in request.windowed_sources),
                default=0)
    windowed = [s for s in sources if s in request.windowed_sources]
    source_v = [max([whole, *(request.source_versions.get(f"{s}[{k}]", 0) for s in windowed)]) for k in own_keys] \
        if windowed else [whole] * n
    missing = next((s for s in sources if s in request.missing_sources), None)
    edges = _edges(name, graph, keys)
    up_changed, waiting, up_stale, broken_any = [False] * n, [False] * n, [False] * n, [False] * n
    for e in edges:
        newest = _max_in(seen.versions[e.up], e)
        up_changed = [c or m > v for c, m, v in zip(up_changed, newest, own_v)]
        if any(seen.planned[e.up]):
            waiting = [a or b for a, b in zip(waiting, _any_in(seen.planned[e.up], e))]
        if any(seen.stale[e.up]):
            up_stale = [a or b for a, b in zip(up_stale, _any_in(seen.stale[e.up], e))]
        unreadable = [x is not None for x in seen.broken[e.up]]
        if any(unreadable):
            broken_any = [a or b for a, b in zip(broken_any, _any_in(unreadable, e))]
    up_changed = [c and b for c, b in zip(up_changed, built)]
    code = spec.code_version
    own_bad = [c != code or st == FAILED for c, st in zip(codes, statuses)]
    flags = [a or b or c or d or e for a, b, c, d, e in zip(own_bad, up_changed, waiting, up_stale, broken_any)]
    if missing or refresh:
        flags = [True] * n
    elif any(sv > v for sv, v in zip(source_v, own_v)):
        flags = [f or sv > v for f, sv, v in zip(flags, source_v, own_v)]
    suspicious = [i for i, f in enumerate(flags) if f]
    categories, reasons = [FRESH] * n, [()] * n
    stale, broken, planned = [False] * n, [None] * n, [False] * n
    result = _AssetResult(AssetPlan(name, own_keys, (), ()), [], {}, [])
    for i in suspicious:
        record = records.get(UNPARTITIONED if own_keys[i] is None else own_keys[i])
        why = _own_reasons(record, built[i], code, refresh and considered[i])
        if built[i] and source_v[i] > own_v[i]:
            why.append(SOURCE_CHANGED)
        if up_changed[i]:
            why.append(UPSTREAM_CHANGED)
        wait_for = [(e.up, j) for e in edges for j in range(e.lo[i], e.hi[i]) if seen.planned[e.up][j]]
        block = f"{SOURCE_MISSING}: {missing}" if missing is not None else _first_block(edges, i, seen, keys)
        if (wait_for or up_stale[i]) and not why:
            why.append(UPSTREAM_STALE)
        # A missing source blocks even a built partition (its last good data stays); an unreadable
        # upstream only blocks partitions that need a build.
        if block is not None and (why or not built[i] or missing is not None):
            category, why = BLOCKED, [block]
        elif record is not None and record.status == FAILED:
            category = FAILED
        else:
            category = STALE if why else FRESH
        will_build = considered[i] and category != BLOCKED and bool(why)
        if will_build:
            planned[i] = True
            result.build.append(i)
            result.needs[i] = tuple(wait_for)
        elif category == BLOCKED and considered[i]:
            result.blocked.append(i)
        categories[i], reasons[i] = category, tuple(why)
        stale[i] = category != FRESH and not will_build
        broken[i] = _broken_reason(record, built[i], will_build, category, request)
    seen.versions[name], seen.stale[name], seen.broken[name], seen.planned[name] = own_v, stale, broken, planned
    result.asset_plan = AssetPlan(name, own_keys, tuple(categories), tuple(reasons))
    return result


def _aligned(records: Mapping[str, PartitionRecord], own_keys: tuple[str | None, ...]
             ) -> tuple[list[str | None], list[int], list[str | None]]:
    """Code versions, data versions (0 if never built) and last statuses, one per partition."""
    wanted = [UNPARTITIONED if k is None else k for k in own_keys]
    if isinstance(records, AssetState):
        if records.keys == wanted:                                    # already aligned: one compare
            codes, versions, statuses = records.codes, records.versions, records.statuses
        else:                                                         # align columns through an index
            where = {k: i for i, k in enumerate(records.keys)}
            spots = [where.get(k) for k in wanted]
            codes = [records.codes[p] if p is not None else None for p in spots]
            versions = [records.versions[p] if p is not None else 0 for p in spots]
            statuses = [records.statuses[p] if p is not None else None for p in spots]
        return codes, [v if c is not None else 0 for c, v in zip(codes, versions)], statuses
    recs = [records.get(k) for k in wanted]
    codes = [r.code_version if r is not None else None for r in recs]
    versions = [r.data_version if r is not None and r.code_version is not None else 0 for r in recs]
    return codes, versions, [r.status if r is not None else None for r in recs]


def _first_block(edges: list[_Edge], i: int, seen: _Seen, keys: Mapping[str, tuple[str | None, ...]]) -> str | None:
    """Why partition i cannot read its inputs: the first unreadable upstream partition, if any."""
    for e in edges:
        for j in range(e.lo[i], e.hi[i]):
            problem = seen.broken[e.up][j]
            if problem is not None:
                return f"{problem}: {e.up}" + (f" [{keys[e.up][j]}]" if keys[e.up][j] else "")
    return None


def _own_reasons(record, built: bool, code_version: str, full_refresh: bool) -> list[str]:
    why = []
    if not built:
        why.append(NEVER)
    elif record.code_version != code_version:
        why.append(CODE)
    if record is not None and record.status == FAILED:
        why.append(FAILED_BEFORE)
    if full_refresh:
        why.append(FULL_REFRESH)
    return why


def _broken_reason(record, built: bool, will_build: bool, category: str, request: PlanRequest) -> str | None:
    """Why a downstream partition cannot read this one in this run (None when it can).

    `materialize` retries a failed upstream that is selected, so its readers wait for it; `status`
    shows the readers of a failed partition as blocked until it succeeds.
    """
    failed = record is not None and record.status == FAILED
    if failed and (request.for_status or not will_build):
        return UPSTREAM_FAILED
    if will_build:
        return None
    if category == BLOCKED:
        return UPSTREAM_BLOCKED
    return None if built else UPSTREAM_MISSING
