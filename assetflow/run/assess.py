"""Assess a project against its target: what is stored, what the sources hold now, what is stale.

One composition serves `status`, dry runs and `materialize`: stored source versions -> source
checks -> PlanRequest -> the expectation -> the store's deviations from it -> the plan. Only the
partitions that deviate cross from the database into Python.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from assetflow.plan.freshness import (Deviations, PartitionKeys, deviations_of, edges_of, expect, modified_assets,
                                      partition_keys)
from assetflow.plan.graph import AssetGraph
from assetflow.project.loader import CACHE_DIR, Project
from assetflow.plan.planner import Plan, PlanRequest, plan
from assetflow.plan.select import parse_selection, resolve_selection
from assetflow.run.sources import FileHashes, SourceCheck, check_sources
from assetflow.state import SourceVersion, StateSnapshot, StoredVersions


@dataclass(frozen=True)
class Assessment:
    plan: Plan
    request: PlanRequest
    stored: StoredVersions
    deviations: Deviations
    keys: PartitionKeys
    now: datetime

    def new_source_versions(self) -> dict[str, SourceVersion]:
        """Sources whose fingerprint differs from the stored one, with the version they get."""
        out = {}
        for name, fp in self.request.source_fingerprints.items():
            stored = self.stored.sources.get(name)
            if fp is not None and (stored is None or stored.fingerprint != fp):
                out[name] = SourceVersion(fp, self.request.source_versions[name])
        return out


def assess(project: Project, graph: AssetGraph, engine, selected: frozenset[str], ranges: Mapping[str, range],
           refresh: frozenset[str], for_status: bool, now: datetime, kept=None) -> Assessment:
    """`engine` may be None (the target database does not exist yet): nothing is stored. `kept`:
    partitions of `refresh` assets not to rebuild (what a resumed backfill built already)."""
    from dataclasses import replace
    stored = engine.stored_versions() if engine is not None else StoredVersions()
    request = _plan_request(project, graph, engine, stored, selected, ranges, refresh, for_status, now)
    request = replace(request, kept=kept) if kept else request
    keys = partition_keys(graph, now)
    edges = edges_of(graph, keys)
    expectation = expect(graph, keys, edges, request.source_versions, request.windowed_sources, now)
    deviations = engine.deviations(expectation) if engine is not None else \
        deviations_of(StateSnapshot(), expectation)
    return Assessment(plan(graph, deviations, request, keys, edges), request, stored, deviations, keys, now)


def select_assets(graph: AssetGraph, selection: tuple[str, ...], exclude: tuple[str, ...], target) -> frozenset[str]:
    """The assets `selection` minus `exclude` names. Only a `state:` term reads the target (read
    only, one query): the assets whose code version differs from the one they were last built with."""
    chosen, excluded = parse_selection(selection), parse_selection(exclude)
    modified = None
    if chosen.needs_state or excluded.needs_state:
        from assetflow.run.reads import open_reader
        with open_reader(target) as (engine, _):        # (a snapshot while a run holds the database)
            modified = frozenset(graph.assets) if engine is None else _modified(graph, engine, engine.now())
    return resolve_selection(chosen, graph, modified, excluded)


def _modified(graph: AssetGraph, engine, now: datetime) -> frozenset[str]:
    """Code versions alone decide `state:modified`: sources do not matter, so none are checked."""
    keys = partition_keys(graph, now)
    expectation = expect(graph, keys, edges_of(graph, keys), {}, frozenset(), now)
    return modified_assets(engine.deviations(expectation), keys)


def _plan_request(project: Project, graph: AssetGraph, engine, stored: StoredVersions, selected, ranges,
                  refresh: frozenset[str], for_status: bool, now: datetime) -> PlanRequest:
    windowed = {n for n, s in graph.sources.items() if s.freshness and _uses_window(s.freshness)}
    plain = {n: s for n, s in graph.sources.items() if n not in windowed}
    tables: list[set[str]] = []       # the catalog, read once and only if a table source needs it

    def table_exists(name: str) -> bool:
        if engine is None:
            return False
        if not tables:
            tables.append(engine.existing_tables())
        return name.lower() in tables[0]

    checks = check_sources(plain, project.root, FileHashes(project.root / CACHE_DIR / "file-hashes.json"),
                           table_exists=table_exists,
                           run_freshness=lambda q: engine.query_fingerprint(q) if engine else "")
    # (a freshness query that fails comes back as None: check_sources reports the source missing)
    for name in sorted(windowed):
        checks.update(_windowed_freshness(graph, name, engine, now))
    versions, bump = {}, stored.newest
    for name, check in sorted(checks.items()):
        known = stored.sources.get(name)
        if check.fingerprint is None or (known is not None and known.fingerprint == check.fingerprint):
            versions[name] = known.data_version if known else 0
        else:
            bump += 1
            versions[name] = bump
    missing = frozenset(n for n, c in checks.items() if c.missing)
    return PlanRequest(selected=selected, ranges=ranges, refresh=refresh, for_status=for_status,
                       source_versions=versions, missing_sources=missing, windowed_sources=frozenset(windowed),
                       source_fingerprints={n: c.fingerprint for n, c in checks.items()})


def _uses_window(query: str) -> bool:
    from assetflow.project import sql_rewrite
    return bool(sql_rewrite.placeholders(query, "duckdb") & {"start", "end"})


def _windowed_freshness(graph: AssetGraph, source: str, engine, now: datetime) -> dict[str, SourceCheck]:
    """A freshness query using $start/$end fingerprints each partition of each reader separately:
    the results are keyed `source[partition key]`."""
    from assetflow.run.compile import partition_window
    from assetflow.partitions import TimePartitions
    query = graph.sources[source].freshness
    out = {}
    for reader in graph.downstream.get(source, ()):
        spec = graph.assets[reader]
        if not isinstance(spec.partitioning, TimePartitions):
            continue
        for index in range(spec.partitioning.count(now)):
            window = partition_window(spec, index)
            params = {"start": window.start, "end": window.end}
            fingerprint = engine.query_fingerprint(query, params) if engine else None
            out[f"{source}[{spec.partitioning.key(index)}]"] = SourceCheck(fingerprint)
    return out
