"""`assetflow clean`: what a renamed or deleted asset, or a narrowed partition range, left behind.

- An **orphan** is an asset the state store records that no asset defines now: its table or view
  (only when assetflow built it: a record with a successful build), and its partition records. A
  view assetflow made over a file source that is no longer declared is one too.
- **Out of range** are the rows and partition records of an asset outside its current partitions
  (after `end` moved earlier, `start` later, or a static key was removed).

Nothing else is ever dropped: the candidates come from assetflow's own state, and a name that an
asset or a declared source uses now is never a candidate.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from assetflow.assets import AssetKey, AssetSpec
from assetflow.engines.base import CleanRequest, PartitionRange
from assetflow.plan.graph import AssetGraph
from assetflow.project.loader import Project
from assetflow.partitions import StaticPartitions, TimePartitions
from assetflow.state import SUCCESS, UNPARTITIONED, RunRecord
from assetflow.run.verify import partition_key_sql


@dataclass(frozen=True, slots=True)
class Orphan:
    name: str
    kind: str | None              # "table" | "view"; None: only its state is left
    records: int                  # partition records in the state store


@dataclass(frozen=True, slots=True)
class OutOfRange:
    asset: str
    range: str                    # the current partitions, e.g. "2024-01-01 .. 2024-01-10"
    rows: int                     # rows outside it
    partitions: tuple[str, ...]   # keys of those rows and records, sorted
    records: int                  # partition records outside it
    window: PartitionRange | None = None   # what to delete the rows by (None: no rows)


@dataclass(frozen=True)
class CleanReport:
    orphans: tuple[Orphan, ...] = ()
    out_of_range: tuple[OutOfRange, ...] = ()
    cleaned: bool = False         # --yes: everything listed was removed
    run_id: str | None = None

    @property
    def empty(self) -> bool:
        return not self.orphans and not self.out_of_range


def find_orphans(project: Project, graph: AssetGraph, cleaner) -> list[Orphan]:
    """Orphaned relations and state, sorted by name."""
    in_use = set(graph.assets)
    for source in project.config.sources:
        in_use.add(source.name)
        if source.table:
            in_use.add(str(AssetKey.parse(source.table)))
    recorded = {name: entry for name, entry in cleaner.recorded().items() if name not in in_use}
    views = cleaner.source_views() - in_use
    if not recorded and not views:
        return []                      # the usual case: no catalog scan
    relations = cleaner.relations()
    found = [Orphan(name, relations.get(name) if built else None, records)
             for name, (records, built) in recorded.items()]
    found += [Orphan(name, "view", 0) for name in views if relations.get(name) == "view" and name not in recorded]
    return sorted(found, key=lambda o: o.name)


def find_out_of_range(graph: AssetGraph, cleaner, state, now: datetime) -> list[OutOfRange]:
    """Rows and records of each asset outside its current partitions."""
    tables = None
    found = []
    for name in graph.order:
        spec = graph.assets[name]
        current, description, window = _current_range(spec, now)
        stale = sorted(k for k in state.partitions.get(name, {}) if k not in current)
        rows: dict[str, int] = {}
        if window is not None and stale:
            tables = cleaner.relations() if tables is None else tables
            if tables.get(name) == "table":
                rows = cleaner.rows_outside(window)
        if stale or rows:
            found.append(OutOfRange(name, description, sum(rows.values()), tuple(sorted(set(stale) | set(rows))),
                                    len(stale), window if rows else None))
    return found


def _current_range(spec: AssetSpec, now: datetime) -> tuple[set[str], str, PartitionRange | None]:
    """(current partition keys, how to say them, the rows they hold)."""
    part = spec.partitioning
    if part is None:
        return {UNPARTITIONED}, "unpartitioned", None
    count = part.count(now)
    keys = {part.key(i) for i in range(count)}
    key_sql = partition_key_sql(spec)
    if isinstance(part, StaticPartitions):
        return keys, ", ".join(part.keys), PartitionRange(spec.key, part.column, key_sql, keys=part.keys)
    assert isinstance(part, TimePartitions)
    start, _ = part.bound_values(part.window(0))
    end = part.bound_values(part.window(count - 1))[1] if count else start
    described = f"{part.key(0)} .. {part.key(count - 1)}" if count else "none yet"
    return keys, described, PartitionRange(spec.key, part.column, key_sql, start, end)


def clean_request(orphans: list[Orphan], out_of_range: list[OutOfRange]) -> CleanRequest:
    return CleanRequest(
        drop=tuple((AssetKey.parse(o.name), o.kind) for o in orphans if o.kind),
        forget=tuple(o.name for o in orphans if o.records),
        outside=tuple(r.window for r in out_of_range if r.window is not None),
        records=tuple((r.asset, key) for r in out_of_range for key in r.partitions))


def clean(project: Project, target_name: str | None, yes: bool, now: datetime) -> CleanReport:
    """List what is orphaned or out of range; with `yes`, remove it all in one transaction, under
    the run lock, and record the run."""
    from assetflow.engines import open_engine
    from assetflow.plan.graph import build_graph
    from assetflow.run.lock import run_lock
    graph = build_graph(project.assets, project.config.sources)
    target = project.config.target(target_name)
    if not yes:
        with open_engine(target, read_only=True) as engine:
            return _report(project, graph, engine, now) if engine else CleanReport()
    with run_lock(target.path, "clean --yes", 0.0), open_engine(target, read_only=False) as engine:
        engine.fold_runs()               # a dead run's attempts are state too
        engine.collect_garbage()         # data no state points at (Spark: old and killed versions)
        report = _report(project, graph, engine, now)
        if report.empty:
            return report
        cleaner = engine.cleaner()
        cleaner.apply(clean_request(list(report.orphans), list(report.out_of_range)))
        run_id = f"{now:%Y%m%dT%H%M%S}-{os.urandom(3).hex()}"
        engine.record_run(RunRecord(run_id, "clean --yes", now, SUCCESS, engine.now(), os.getpid(), target.name),
                          folded=True)
        return CleanReport(report.orphans, report.out_of_range, True, run_id)


def _report(project: Project, graph: AssetGraph, engine, now: datetime) -> CleanReport:
    cleaner = engine.cleaner()
    return CleanReport(tuple(find_orphans(project, graph, cleaner)),
                       tuple(find_out_of_range(graph, cleaner, engine.read_state(), now)))


def status_orphans(project: Project, graph: AssetGraph, engine) -> tuple[Orphan, ...]:
    """The orphaned tables and views `status` lists (state without a relation is for `clean`)."""
    if engine is None:
        return ()
    return tuple(o for o in find_orphans(project, graph, engine.cleaner()) if o.kind)


def outside_partitions(graph: AssetGraph, engine, now: datetime) -> tuple[OutOfRange, ...]:
    """What `status --verify` reports beside drift."""
    if engine is None:
        return ()
    return tuple(find_out_of_range(graph, engine.cleaner(), engine.read_state(), now))

