"""Pure planning: (graph, deviations, selection, window) -> the stale partitions to build, and why.

Works on partition indices per asset. For each asset in dependency order it classifies the
partitions that may not be fresh (those that deviate from what is expected of them, and those
reading upstream partitions that are not fresh) as stale / failed / blocked with reasons, so
`status` and `materialize` share one definition of staleness, and planning costs what is stale.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from assetflow.plan.freshness import (CODE_CHANGED, LAST_FAILED, NEVER_BUILT, SOURCE_NEWER, TOO_OLD, UPSTREAM_NEWER,
                                      Deviations, Edge, PartitionKeys)
from assetflow.plan.graph import AssetGraph
from assetflow.state import FAILED

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
OLDER_THAN = "older than"          # + the asset's max_age as written: "older than 24h"

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
    """One asset's classification: its keys, and the partitions that are not fresh.

    Sparse: a partition missing from `problems` is fresh, so an asset of 365 fresh partitions
    costs nothing to hold, count or render.
    """

    name: str
    keys: tuple[str | None, ...]
    problems: Mapping[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # index -> (category, reasons)

    def counts(self) -> dict[str, int]:
        out = {"total": len(self.keys), FRESH: len(self.keys) - len(self.problems), STALE: 0, BLOCKED: 0, FAILED: 0}
        for category, _ in self.problems.values():
            out[category] += 1
        return out

    def not_fresh(self) -> list[tuple[str | None, str, tuple[str, ...]]]:
        """(key, category, reasons) of every partition that is not fresh, in partition order."""
        return [(self.keys[i], *self.problems[i]) for i in sorted(self.problems)]

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.problems.get(i, (FRESH, ()))[0] for i in range(len(self.keys)))

    @property
    def reasons(self) -> tuple[tuple[str, ...], ...]:
        return tuple(self.problems.get(i, (FRESH, ()))[1] for i in range(len(self.keys)))


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
    kept: Mapping[str, frozenset[int]] = field(default_factory=dict)   # ... except these (a resumed backfill built them)
    for_status: bool = False          # status: a failed upstream blocks; materialize retries it
    source_versions: Mapping[str, int] = field(default_factory=dict)   # source -> data version
    windowed_sources: frozenset[str] = frozenset()   # versioned per reader partition: "source[key]"
    missing_sources: frozenset[str] = frozenset()
    source_fingerprints: Mapping[str, str | None] = field(default_factory=dict)


def plan(graph: AssetGraph, deviations: Deviations, request: PlanRequest, keys: PartitionKeys,
         edges: Mapping[str, list[Edge]]) -> Plan:
    """Classify every partition of every asset and plan the builds of the selected stale ones.

    `deviations` says which partitions differ from what is expected of them now (freshness.py);
    every other partition is fresh unless something upstream of it is not, which is found by
    walking the graph in order from the partitions that are not fresh.
    """
    seen = _Seen()
    plans: dict[str, AssetPlan] = {}
    steps: list[Step] = []
    needs: dict[tuple[str, int], tuple[tuple[str, int], ...]] = {}
    blocked: list[PartitionStatus] = []
    step_of: dict[tuple[str, int], tuple[str, int]] = {}      # partition -> the step that builds it
    for name in graph.order:
        result = _plan_asset(name, graph, deviations.get(name, {}), request, keys, edges[name], seen)
        plans[name] = result.asset_plan
        own_keys = keys[name]
        for batch in _batches(result.build, graph.assets[name].settings.batch_size):
            first = batch[0]
            reasons = tuple(dict.fromkeys(r for i in batch for r in result.asset_plan.problems[i][1]))
            steps.append(Step(name, first, own_keys[first], reasons, len(batch),
                              tuple(own_keys[i] for i in batch) if len(batch) > 1 else ()))
            waits = {step_of[need] for i in batch for need in result.needs[i]}
            needs[(name, first)] = tuple(sorted(waits))
            step_of.update({(name, i): (name, first) for i in batch})
        blocked.extend(PartitionStatus(name, own_keys[i], BLOCKED, result.asset_plan.problems[i][1])
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
    """What planning has decided so far for upstream assets: the partitions that are not plainly
    fresh, by index (every other partition is fresh and readable)."""

    stale: dict[str, set[int]] = field(default_factory=dict)        # not fresh after this run
    planned: dict[str, set[int]] = field(default_factory=dict)      # built in this run
    broken: dict[str, dict[int, str]] = field(default_factory=dict)  # unreadable, and why


@dataclass
class _AssetResult:
    asset_plan: AssetPlan
    build: list[int]
    needs: dict[int, tuple[tuple[str, int], ...]]
    blocked: list[int]


def _suspects(name: str, n: int, local: Mapping[int, int], edges: list[Edge], seen: _Seen,
              everything: bool) -> list[int]:
    """Partitions that may not be fresh: deviating ones, and readers of upstream partitions that
    are planned, stale or unreadable."""
    if everything:
        return list(range(n))
    found = set(local)
    for e in edges:
        for j in seen.planned[e.up] | seen.stale[e.up] | seen.broken[e.up].keys():
            found.update(e.mapping.readers(j))
    return sorted(found)


def _plan_asset(name: str, graph: AssetGraph, local: Mapping[int, int], request: PlanRequest,
                keys: PartitionKeys, edges: list[Edge], seen: _Seen) -> _AssetResult:
    """Classify the partitions of one asset that may not be fresh; reasons only where they are not."""
    own_keys = keys[name]
    n = len(own_keys)
    considered = request.ranges.get(name, range(n)) if name in request.selected else range(0)
    refresh = name in request.refresh
    missing = next((s for s in graph.upstream_sources(name) if s in request.missing_sources), None)
    problems: dict[int, tuple[str, tuple[str, ...]]] = {}
    stale, planned, broken = set(), set(), {}
    result = _AssetResult(AssetPlan(name, own_keys, problems), [], {}, [])
    suspects = _suspects(name, n, local, edges, seen, missing is not None or refresh)
    for i in suspects:
        flags = local.get(i, 0)
        built = not flags & NEVER_BUILT
        forced = refresh and i in considered and i not in request.kept.get(name, ())
        why = _own_reasons(flags, forced, graph.assets[name].settings.max_age)
        wait_for = [(e.up, j) for e in edges for j in _within(seen.planned[e.up], e.mapping.up_range(i))]
        up_stale = any(_within(seen.stale[e.up], e.mapping.up_range(i)) for e in edges)
        block = f"{SOURCE_MISSING}: {missing}" if missing is not None else _first_block(edges, i, seen, keys)
        if (wait_for or up_stale) and not why:
            why.append(UPSTREAM_STALE)
        # A missing source blocks even a built partition (its last good data stays); an unreadable
        # upstream only blocks partitions that need a build.
        if block is not None and (why or not built or missing is not None):
            category, why = BLOCKED, [block]
        elif flags & LAST_FAILED:
            category = FAILED
        else:
            category = STALE if why else FRESH
        will_build = i in considered and category != BLOCKED and bool(why)
        if will_build:
            planned.add(i)
            result.build.append(i)
            result.needs[i] = tuple(wait_for)
        elif category == BLOCKED and i in considered:
            result.blocked.append(i)
        if category != FRESH:
            problems[i] = (category, tuple(why))
            if not will_build:
                stale.add(i)
        problem = _broken_reason(flags, will_build, category, request)
        if problem is not None:
            broken[i] = problem
    seen.stale[name], seen.broken[name], seen.planned[name] = stale, broken, planned
    return result


def _within(indices: set[int], window: range) -> list[int]:
    """The members of `indices` inside `window`, in order (whichever of the two is smaller is walked)."""
    if len(window) <= len(indices):
        return [j for j in window if j in indices]
    return sorted(j for j in indices if j in window)


def _first_block(edges: list[Edge], i: int, seen: _Seen, keys: PartitionKeys) -> str | None:
    """Why partition i cannot read its inputs: the first unreadable upstream partition, if any."""
    for e in edges:
        unreadable = _within(seen.broken[e.up].keys(), e.mapping.up_range(i)) if seen.broken[e.up] else []
        if unreadable:
            j = unreadable[0]
            key = keys[e.up][j]
            return f"{seen.broken[e.up][j]}: {e.up}" + (f" [{key}]" if key else "")
    return None


def _own_reasons(flags: int, full_refresh: bool, max_age=None) -> list[str]:
    why = []
    if flags & NEVER_BUILT:
        why.append(NEVER)
    elif flags & CODE_CHANGED:
        why.append(CODE)
    if flags & LAST_FAILED:
        why.append(FAILED_BEFORE)
    if full_refresh:
        why.append(FULL_REFRESH)
    if not flags & NEVER_BUILT:
        if flags & SOURCE_NEWER:
            why.append(SOURCE_CHANGED)
        if flags & UPSTREAM_NEWER:
            why.append(UPSTREAM_CHANGED)
        if flags & TOO_OLD:
            why.append(f"{OLDER_THAN} {max_age}")
    return why


def _broken_reason(flags: int, will_build: bool, category: str, request: PlanRequest) -> str | None:
    """Why a downstream partition cannot read this one in this run (None when it can).

    `materialize` retries a failed upstream that is selected, so its readers wait for it; `status`
    shows the readers of a failed partition as blocked until it succeeds.
    """
    if flags & LAST_FAILED and (request.for_status or not will_build):
        return UPSTREAM_FAILED
    if will_build:
        return None
    if category == BLOCKED:
        return UPSTREAM_BLOCKED
    return UPSTREAM_MISSING if flags & NEVER_BUILT else None
