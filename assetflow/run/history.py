"""Run history, read as of the last commit (or a writer's snapshot plus its journal): the runs,
one run with its attempts, an asset's recent runs, the target's column types.

Every read goes through `run.reads.open_reader`, so it answers while a run holds the database and
says so. The use cases in `api` re-export these functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from assetflow.errors import AssetflowError, UsageError
from assetflow.project.config import Target
from assetflow.project.loader import Project
from assetflow.run.backfills import progress
from assetflow.run.lock import is_locked
from assetflow.run.reads import SnapshotNotice, open_reader
from assetflow.state import RunRecord


@dataclass(frozen=True)
class RunsReport:
    runs: tuple[RunRecord, ...]
    snapshot: SnapshotNotice | None = None     # set when a writer held the database
    backfills: Mapping[str, Any] = field(default_factory=dict)   # run id -> run.backfills.BackfillProgress


@dataclass(frozen=True)
class RunReport:
    record: RunRecord
    attempts: tuple
    snapshot: SnapshotNotice | None = None
    alerts: tuple = ()                         # alerts.run_alerts.RunAlert, in the order they were decided


def list_runs(project: Project, target_name: str | None, limit: int) -> list[RunRecord]:
    return list(runs_report(project, target_name, limit).runs)


def runs_report(project: Project, target_name: str | None, limit: int) -> RunsReport:
    """Recent runs, newest first; from a snapshot (and said so) while a writer holds the database."""
    target = project.config.target(target_name)
    with open_reader(target) as (engine, notice):
        records = _with_ticks(engine, engine.list_runs(limit)) if engine else []
        runs = tuple(_liveness(r, target) for r in records)
        return RunsReport(runs, notice, progress(engine, [r.run_id for r in runs]) if engine else {})


def _with_ticks(engine, records: list[RunRecord]) -> list[RunRecord]:
    """Runs with the schedule and tick that started them (from the tick rows)."""
    ticks = engine.schedules().ticks_of_runs([r.run_id for r in records]) if records else {}
    return [replace(r, trigger=f"schedule:{t.schedule}", tick=t.tick.replace(tzinfo=None)) if (t := ticks.get(r.run_id))
            else r for r in records]


def _liveness(record: RunRecord, target: Target) -> RunRecord:
    """A run still marked running while nobody holds the lock died: show it as abandoned."""
    if record.status == "running" and not is_locked(target.path):
        return replace(record, status="abandoned")
    return record


def show_run(project: Project, target_name: str | None, run_id: str):
    report = run_report(project, target_name, run_id)
    return report.record, list(report.attempts)


def run_report(project: Project, target_name: str | None, run_id: str) -> RunReport:
    """One run and its attempts; from a snapshot plus the running run's journal while a writer
    holds the database."""
    target = project.config.target(target_name)
    with open_reader(target) as (engine, notice):
        matches = engine.find_runs(run_id) if engine else []
        if len(matches) > 1:
            raise UsageError(f"'{run_id}' matches {len(matches)} runs", hint="give more of the run id")
        if not matches:
            raise UsageError(f"no run '{run_id}' in target '{target.name}'", hint=_elsewhere_hint(project, target, run_id))
        record = next(r for r in engine.list_runs(1_000_000) if r.run_id == matches[0])
        record = _with_ticks(engine, [record])[0]
        return RunReport(_liveness(record, target), tuple(engine.run_attempts(matches[0])), notice,
                         _alerts(project, engine, matches[0]))


def _alerts(project: Project, engine, run_id: str) -> tuple:
    """The run's outbox entries, as people may see them (receivers masked)."""
    from assetflow.alerts.run_alerts import run_alerts
    if not hasattr(engine, "outbox"):
        return ()
    return run_alerts(engine.outbox().entries(run_id), project.config.alerts, project.config.masks)


def _elsewhere_hint(project: Project, searched: Target, run_id: str) -> str:
    """Where else the run is (each target has its own state store), or which targets to try."""
    others = [t for t in project.config.targets if t.name != searched.name]
    holding = [t.name for t in others if _has_run(t, run_id)]
    if holding:
        return f"it is in target '{holding[0]}': assetflow runs show {run_id} --target {holding[0]}"
    if others:
        return (f"list runs with `assetflow runs`; runs of other targets ({', '.join(t.name for t in others)}) "
                "are shown with --target NAME")
    return "list runs with `assetflow runs`"


def _has_run(target: Target, run_id: str) -> bool:
    try:
        with open_reader(target) as (engine, _):
            return bool(engine and engine.find_runs(run_id))
    except AssetflowError:           # a target that cannot be read now simply is not where it is
        return False


def asset_runs(project: Project, target_name: str | None, asset: str, limit: int = 10) -> list:
    """The recent runs that attempted ASSET, newest first (`engines.duckdb_history.AssetRun`)."""
    target = project.config.target(target_name)
    with open_reader(target) as (engine, _):
        return engine.asset_runs(asset, limit) if engine else []


def table_columns(project: Project, target_name: str | None) -> dict | None:
    """Column types of everything in the target database (None before the first build)."""
    with open_reader(project.config.target(target_name)) as (engine, _):
        return engine.table_columns() if engine else None
