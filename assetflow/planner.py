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
from assetflow.partitions import Partitioning, upstream_range
from assetflow.state import FAILED, UNPARTITIONED, StateSnapshot

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
    missing_sources: frozenset[str] = frozenset()
    source_fingerprints: Mapping[str, str | None] = field(default_factory=dict)


def partition_keys(partitioning: Partitioning | None, now: datetime) -> tuple[str | None, ...]:
    if partitioning is None:
        return (None,)
    return tuple(partitioning.key(i) for i in range(partitioning.count(now)))


def plan(graph: AssetGraph, state: StateSnapshot, request: PlanRequest, now: datetime) -> Plan:
    keys = {n: partition_keys(graph.assets[n].partitioning, now) for n in graph.order}
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
    planned: dict[str, set[int]] = field(default_factory=dict)     # built in this run
    broken: dict[str, list[str | None]] = field(default_factory=dict)  # unreadable, and why


@dataclass
class _AssetResult:
    asset_plan: AssetPlan
    build: list[int]
    needs: dict[int, tuple[tuple[str, int], ...]]
    blocked: list[int]


def _plan_asset(name: str, graph: AssetGraph, state: StateSnapshot, request: PlanRequest,
                keys: Mapping[str, tuple[str | None, ...]], seen: _Seen) -> _AssetResult:
    spec = graph.assets[name]
    records = state.partitions.get(name, {})
    considered = set(request.ranges.get(name, range(len(keys[name])))) if name in request.selected else set()
    ups = [(u, graph.assets[u].partitioning, len(keys[u])) for u in graph.upstream_assets(name)]
    sources = graph.upstream_sources(name)
    source_version = max((request.source_versions.get(s, 0) for s in sources), default=0)
    missing = next((s for s in sources if s in request.missing_sources), None)
    result = _AssetResult(AssetPlan(name, keys[name], (), ()), [], {}, [])
    categories, reasons = [], []
    versions, stale, broken, planned = [], [], [], set()
    for index, key in enumerate(keys[name]):
        record = records.get(UNPARTITIONED if key is None else key)
        built = record is not None and record.code_version is not None
        own_version = record.data_version if built else 0
        why = _own_reasons(record, built, spec.code_version, name in request.refresh and index in considered)
        if built and source_version > own_version:
            why.append(SOURCE_CHANGED)
        wait_for, upstream_stale, block = [], False, None
        for up, up_part, up_count in ups:
            for j in upstream_range(spec.partitioning, index, up_part, up_count, spec.settings.lookback):
                if j in seen.planned[up]:
                    wait_for.append((up, j))
                elif seen.stale[up][j]:
                    upstream_stale = True
                elif built and seen.versions[up][j] > own_version and UPSTREAM_CHANGED not in why:
                    why.append(UPSTREAM_CHANGED)
                if block is None and seen.broken[up][j] is not None:
                    block = f"{seen.broken[up][j]}: {up}" + (f" [{keys[up][j]}]" if keys[up][j] else "")
        if missing is not None:
            block = f"{SOURCE_MISSING}: {missing}"
        if (wait_for or upstream_stale) and not why:
            why.append(UPSTREAM_STALE)
        if block is not None and (why or not built):
            category, why = BLOCKED, [block]
        elif record is not None and record.status == FAILED:
            category = FAILED
        else:
            category = STALE if why else FRESH
        # A selection is exactly what gets built: a selected stale partition is built even when its
        # only reason is an unselected stale upstream (it then reads that upstream's current data).
        will_build = index in considered and category != BLOCKED and bool(why)
        if will_build:
            planned.add(index)
            result.build.append(index)
            result.needs[index] = tuple(wait_for)
        elif category == BLOCKED and index in considered:
            result.blocked.append(index)
        categories.append(category)
        reasons.append(tuple(why))
        versions.append(own_version)
        stale.append(category != FRESH and not will_build)
        broken.append(_broken_reason(record, built, will_build, category, request))
    seen.versions[name], seen.stale[name], seen.broken[name], seen.planned[name] = versions, stale, broken, planned
    result.asset_plan = AssetPlan(name, keys[name], tuple(categories), tuple(reasons))
    return result


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
