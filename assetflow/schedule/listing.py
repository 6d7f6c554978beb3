"""What `schedule list` and `schedule preview` show: read-only, with time passed in.

The list reads through `run.reads.open_reader`: while a run (a tick's, say) holds the database it
answers from the snapshot that run published, and says so."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from assetflow import api
from assetflow.errors import UsageError
from assetflow.names import suggest
from assetflow.plan.planner import Plan
from assetflow.project.loader import Project
from assetflow.project.schedules import ScheduleSpec
from assetflow.run.reads import SnapshotNotice, open_reader
from assetflow.schedule.tick_run import tick_options
from assetflow.schedule.ticks import latest_tick, next_ticks
from assetflow.schedule_records import Heartbeat, TickRow


@dataclass(frozen=True)
class ScheduleListing:
    spec: ScheduleSpec
    next: tuple[datetime, ...]          # the next three ticks (aware UTC)
    last: TickRow | None


@dataclass(frozen=True)
class Listing:
    schedules: tuple[ScheduleListing, ...]
    heartbeat: Heartbeat | None
    now: datetime
    snapshot: SnapshotNotice | None = None     # set when a writer held the database


@dataclass(frozen=True)
class Preview:
    spec: ScheduleSpec
    tick: datetime
    plan: Plan


def list_schedules(project: Project, target: str | None, now: datetime) -> Listing:
    with open_reader(project.config.target(target)) as (engine, notice):
        store = engine.schedules() if engine is not None else None
        last = store.last_ticks() if store is not None else {}
        beat = store.heartbeat() if store is not None else None
    rows = tuple(ScheduleListing(spec, tuple(next_ticks(spec, now, 3)) if spec.enabled else (), last.get(spec.name))
                 for spec in project.config.schedules)
    return Listing(rows, beat, now, notice)


def schedule_named(project: Project, name: str) -> ScheduleSpec:
    specs = {s.name: s for s in project.config.schedules}
    if name not in specs:
        known = sorted(specs)
        hint = suggest(name, known) or (f"schedules: {', '.join(known)}" if known else
                                        "add a [schedules.NAME] table to assetflow.toml")
        raise UsageError(f"no schedule '{name}' in assetflow.toml", path="assetflow.toml", hint=hint)
    return specs[name]


def preview(project: Project, name: str, target: str | None, at: datetime | None, now: datetime) -> Preview:
    """What a tick would build: the latest tick at or before `at` (what `schedule run --once --at`
    runs then), or without `at` the next tick after `now`."""
    spec = schedule_named(project, name)
    if at is not None:
        tick = latest_tick(spec, at)
    else:
        upcoming = next_ticks(spec, now, 1)
        tick = upcoming[0] if upcoming else None
    if tick is None:
        raise UsageError(f"schedule '{name}' has no tick {'at or before ' + at.isoformat() if at else 'ahead'}",
                         path="assetflow.toml", hint="check its cron")
    outcome = api.materialize(project, tick_options(project, spec, tick, target, 0.0, dry_run=True))
    return Preview(spec, tick, outcome.plan)
