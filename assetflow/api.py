"""The use cases, composed from the stages: status, materialize, backfill, compile, runs.

Each function takes a loaded Project and plain options and returns a typed result; nothing here
prints or exits (the CLI renders). Data flows one way: graph -> select -> plan -> execute -> record.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Mapping

from assetflow.project.config import Target
from assetflow.engines import open_engine, prepare_database_folder
from assetflow.errors import UsageError
from assetflow.plan.graph import AssetGraph, build_graph
from assetflow.run.assess import Assessment, assess, select_assets
from assetflow.project.loader import Project
from assetflow.plan.planner import Plan
from assetflow.plan.select import parse_selection, resolve_selection
from assetflow.state import FAILED, FailureRecord
from assetflow.plan.windows import partition_ranges
from assetflow.run import run_inputs
from assetflow.run.history import (RunReport, RunsReport, asset_runs, list_runs, run_report,  # noqa: F401 (re-exported)
                                    runs_report, show_run, table_columns)
from assetflow.run.build_run import (CANCELLED, INTERRUPTED, MaterializeOptions, RunEvents,  # noqa: F401 (re-exported)
                                      RunOutcome, build, record_noop)
from assetflow.run.reads import SnapshotNotice, open_reader
from assetflow.timezones import utc_now


@dataclass(frozen=True)
class StatusReport:
    plan: Plan
    graph: AssetGraph
    database: str
    selected: frozenset[str] = field(default_factory=frozenset)
    checks: tuple[tuple, ...] = ()     # latest (asset, partition, check, severity, passed, failing)
    drift: tuple | None = None         # with --verify: where data and state disagree
    moved_sources: tuple = ()          # source views that read files where the project no longer has them
    orphans: tuple = ()                # tables and views assetflow built that no asset defines now
    outside: tuple | None = None       # with --verify: rows and records outside a partition range
    failures: tuple[FailureRecord, ...] = ()   # why the selected failed partitions failed
    snapshot: SnapshotNotice | None = None     # set when a writer held the database: the answer is a snapshot


def load_project(root: Path, environ: Mapping[str, str] | None = None,
                 variables: Mapping[str, object] | None = None) -> Project:
    """Load the project, its SQL judged by the parser of the engine that runs its dialect (SPEC 8):
    the loader sits below the engines, so the use cases hand it the engine's check. `environ`
    gives `${VAR}` in assetflow.toml its values (default: this process's environment);
    `variables` (--var) override [vars]."""
    from assetflow.engines import syntax_checker
    from assetflow.project.loader import load_project as load
    return load(root, environ, syntax_checker=syntax_checker, variables=variables)


def graph_of(project: Project) -> AssetGraph:
    return build_graph(project.assets, project.config.sources)


def select(graph: AssetGraph, selection: tuple[str, ...], exclude: tuple[str, ...] = (),
           target: Target | None = None) -> frozenset[str]:
    """The assets a SELECTION names (every asset for an empty one) minus those `exclude` names;
    `state:` terms read `target`."""
    if target is None:
        return resolve_selection(parse_selection(selection), graph, exclude=parse_selection(exclude))
    return select_assets(graph, selection, exclude, target)


def status(project: Project, selection: tuple[str, ...] = (), target_name: str | None = None,
           verify: bool = False, exclude: tuple[str, ...] = (), graph: AssetGraph | None = None) -> StatusReport:
    graph = graph or graph_of(project)        # (serve passes the graph it keeps with the project)
    target = project.config.target(target_name)
    selected = select_assets(graph, selection, exclude, target)
    with open_reader(target) as (engine, notice):
        now = engine.now() if engine else utc_now()
        found = assess(project, graph, engine, frozenset(graph.assets), {}, frozenset(), True, now)
        checks = tuple(c for c in (engine.latest_checks() if engine else ()) if c[2] in run_inputs.declared_checks(project, graph))
        drift = outside = None
        if verify and notice is None:        # (the data is not in a snapshot)
            from assetflow.run.clean import outside_partitions
            from assetflow.run.verify import verify as compare
            drift = tuple(d for d in compare(graph, engine) if d.asset in selected) if engine else ()
            outside = tuple(o for o in outside_partitions(graph, engine, now) if o.asset in selected)
        moved = tuple(engine.moved_source_views(run_inputs.file_source_views(project, graph, frozenset()))) if engine else ()
        from assetflow.run.clean import status_orphans
        orphans = status_orphans(project, graph, engine) if notice is None else ()
        failures = _failures(found.plan, selected, engine)
    return StatusReport(found.plan, graph, target.path, selected, checks, drift, moved, orphans, outside,
                        failures, notice)


def _failures(the_plan: Plan, selected: frozenset[str], engine) -> tuple[FailureRecord, ...]:
    """The errors of the selected failed partitions (the store is asked only when there are some)."""
    if engine is None or not any(the_plan.assets[n].counts()[FAILED] for n in selected):
        return ()
    return tuple(f for f in engine.failures() if f.asset in selected)


def materialize(project: Project, options: MaterializeOptions, events: RunEvents = RunEvents()) -> RunOutcome:
    graph = graph_of(project)
    target = project.config.target(options.target)
    selected = options.names if options.names is not None else \
        select_assets(graph, options.selection, options.exclude, target)
    if options.dry_run:
        return _dry_run(project, graph, selected, target, options)
    from assetflow.project.config import fault_injector
    from assetflow.run.lock import run_lock
    prepare_database_folder(target, project.root)
    with contextlib.nullcontext() if options.locked else run_lock(target.path, options.command, options.wait):
        with open_engine(target, read_only=False, fault=fault_injector(), wait=options.wait) as engine:
            engine.fold_runs()           # a run that died left its attempts unfolded
            flushed = _flush_outbox(project, engine)     # alerts earlier runs could not deliver
            resumed = _resume(engine, options, graph)
            found = _assess_selection(project, graph, selected, engine, options, _planning_now(options, engine),
                                      resumed)
            events.on_plan(found.plan)
            if not found.plan.steps and not found.plan.blocked and not found.new_source_versions():
                # nothing is stale, but the project may have moved since its source views were made
                engine.repoint_source_views(run_inputs.file_source_views(project, graph, found.request.missing_sources))
                return _also(record_noop(engine, target, options, found.plan, found.now, resumed), flushed)
            return _also(build(project, graph, engine, found, target, options, events, resumed), flushed)


def _also(outcome: RunOutcome, problems: tuple[str, ...]) -> RunOutcome:
    from dataclasses import replace
    return replace(outcome, alert_problems=problems + outcome.alert_problems) if problems else outcome


def _flush_outbox(project: Project, engine) -> tuple[str, ...]:
    """Send what the outbox holds that is due (a crash, a receiver that was down, a 429)."""
    if not project.config.alerts.on_failure:
        return ()
    from assetflow.alerts.dispatch import flush_due
    return flush_due(engine.outbox(), project.config.alerts, project.config.masks, utc_now())


def flush_outbox(project: Project, target_name: str | None = None) -> tuple[str, ...]:
    """Send the due alerts of a target's outbox now (the scheduler calls this between ticks).
    A run holding the target flushes them itself, so a busy target is left alone. Returns a masked
    line per alert that did not arrive."""
    from assetflow.errors import LockError
    from assetflow.run.lock import run_lock
    target = project.config.target(target_name)
    if not project.config.alerts.on_failure or (target.path != ":memory:" and not Path(target.path).exists()):
        return ()
    try:
        with run_lock(target.path, "flush alerts", 0.0), open_engine(target, read_only=False) as engine:
            return _flush_outbox(project, engine)
    except LockError:
        return ()


def _resume(engine, options: MaterializeOptions, graph: AssetGraph):
    """Where a backfill stands (None for any other run): what its earlier runs built is kept."""
    if options.backfill is None:
        return None
    from assetflow.run.backfills import resume
    return resume(engine, options.backfill, len(options.ranges[options.backfill.asset]))


def _planning_now(options: MaterializeOptions, engine) -> datetime:
    """The "now" a run plans with (naive UTC): a tick's instant, or the engine's clock."""
    if options.now is None:
        return engine.now() if engine else utc_now()
    from datetime import timezone
    return options.now.astimezone(timezone.utc).replace(tzinfo=None) if options.now.tzinfo else options.now


def _assess_selection(project: Project, graph: AssetGraph, selected: frozenset[str], engine,
                      options: MaterializeOptions, now: datetime, resumed=None) -> Assessment:
    ranges = options.ranges or partition_ranges(graph, selected, options.partition, options.from_key,
                                                options.to_key, now)
    kept = resumed.kept(graph.assets[resumed.key.asset].partitioning, ranges[resumed.key.asset]) if resumed else None
    return assess(project, graph, engine, selected, ranges, _refresh(options, selected), False, now, kept)


def _dry_run(project, graph, selected, target: Target, options: MaterializeOptions) -> RunOutcome:
    with open_reader(target) as (engine, notice):
        resumed = _resume(engine, options, graph) if engine else None
        found = _assess_selection(project, graph, selected, engine, options, _planning_now(options, engine),
                                  resumed)
    return RunOutcome(None, "planned", found.plan, database=target.path, snapshot=notice)


def _refresh(options: MaterializeOptions, selected: frozenset[str]) -> frozenset[str]:
    if options.refresh is not None:
        return options.refresh
    return selected if options.full_refresh else frozenset()


def backfill(project: Project, asset_name: str, from_key: str, to_key: str, threads: int | None = None,
             target: str | None = None, wait: float = 0.0, dry_run: bool = False,
             events: RunEvents = RunEvents(), restart: bool = False) -> RunOutcome:
    """Rebuild ASSET's partitions in [from, to], then the downstream partitions that became stale.
    The same backfill run again builds only what it has not built yet (`restart`: all of it)."""
    graph = graph_of(project)
    name = _one_asset(graph, asset_name)
    if graph.assets[name].partitioning is None:
        raise UsageError(f"{name} is not partitioned; backfill takes a partitioned asset",
                         hint=f"rebuild it with: assetflow materialize {name} --full-refresh")
    from assetflow.plan.graph import downstream_closure
    now = utc_now()
    ranges = partition_ranges(graph, frozenset({name}), None, from_key, to_key, now)
    selection = (name, *sorted(downstream_closure(graph, [name])))
    from assetflow.run.backfills import BackfillKey
    part, rng = graph.assets[name].partitioning, ranges[name]
    key = BackfillKey(name, part.key(rng.start), part.key(rng.stop - 1), restart) if rng else None
    options = MaterializeOptions(selection, threads=threads, dry_run=dry_run, target=target, wait=wait,
                                 command=f"backfill {name} --from {from_key} --to {to_key}"
                                         + (" --restart" if restart else ""), ranges=ranges,
                                 refresh=frozenset({name}), backfill=key)
    return materialize(project, options, events)


def _one_asset(graph: AssetGraph, text: str) -> str:
    names = resolve_selection(parse_selection([text]), graph)
    if len(names) != 1:
        raise UsageError(f"'{text}' names {len(names)} assets: {', '.join(sorted(names))}",
                         hint="use the schema-qualified name")
    return next(iter(names))


def compile_asset(project: Project, asset_name: str, partition: str | None, target_name: str | None) -> str:
    from assetflow.assets import SqlBody
    from assetflow.run.compile import compile_for_display
    graph = graph_of(project)
    name = _one_asset(graph, asset_name.removesuffix("+").removeprefix("+"))
    spec = graph.assets[name]
    project.config.target(target_name)
    if not isinstance(spec.body, SqlBody):
        raise UsageError(f"{name} is a {type(spec.body).__name__.removesuffix('Body').lower()} asset, not SQL",
                         path=spec.path, hint="compile shows SQL assets")
    index = None
    if partition is not None:
        if spec.partitioning is None:
            raise UsageError(f"{name} is not partitioned; drop --partition")
        index = spec.partitioning.index(partition, utc_now())
    elif spec.partitioning is not None and spec.partitioning.count(utc_now()):
        index = spec.partitioning.count(utc_now()) - 1          # show the latest partition
    return compile_for_display(spec, graph, project.root, project.config.dialect, index,
                               variables=project.config.vars, macros=project.macros.statements(spec.body.macros))


def clean(project: Project, target_name: str | None, yes: bool):
    """What renamed and deleted assets and narrowed partition ranges left; removed with `yes`."""
    from assetflow.run.clean import clean as run_clean
    return run_clean(project, target_name, yes, utc_now())


def show(project: Project, asset_name: str, partition: str | None, limit: int, target_name: str | None):
    """The first `limit` rows of an asset (of one partition), as the target holds them."""
    from assetflow.run.show import show as preview
    graph = graph_of(project)
    return preview(graph, _one_asset(graph, asset_name), project.config.target(target_name), partition, limit)
