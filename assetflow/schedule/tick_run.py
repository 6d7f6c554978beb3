"""One tick's run: `materialize SELECT` as if now were the tick, recorded with the tick.

What a tick builds is decided here from the schedule and the graph (the selection, and the
partition windows `catchup` leaves in: coverage.py); everything else is an ordinary
materialize, whose run row and tick row are written in one transaction (api `tick=`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from assetflow import api
from assetflow.errors import AssetflowError, ProjectError, SelectionError
from assetflow.plan.graph import AssetGraph
from assetflow.project.loader import Project
from assetflow.project.schedules import CONFIG_FILE, ScheduleSpec, key_line
from assetflow.schedule.coverage import tick_partitions
from assetflow.schedule_records import TickRef, TickStatus, TickTaken


@dataclass(frozen=True, slots=True)
class TickResult:
    """How a tick that ran ended: the status its row gets and why."""

    status: TickStatus
    run_id: str | None
    reason: str
    started: bool = True             # False: it failed before its run (and tick row) began
    alert_problems: tuple[str, ...] = ()   # masked lines: the run's alerts that did not arrive


def selected(project: Project, graph: AssetGraph, spec: ScheduleSpec, target: str | None) -> frozenset[str]:
    """The assets the schedule's `select` names; a selection that matches nothing is bad input
    naming assetflow.toml and the key."""
    terms = tuple(spec.select.split()) if spec.select else ()
    try:
        names = api.select(graph, terms, (), project.config.target(target))
    except SelectionError as exc:
        raise _select_error(project, spec, exc.message, exc.hint) from None
    if not names:
        raise _select_error(project, spec, f"'{spec.select}' matches no asset",
                            "run `assetflow graph` to list the assets")
    return names


def _select_error(project: Project, spec: ScheduleSpec, message: str, hint: str | None) -> ProjectError:
    text = (project.root / CONFIG_FILE).read_text(encoding="utf-8", errors="replace")
    return ProjectError(f"schedules.{spec.name}.select: {message}", path=CONFIG_FILE,
                        line=key_line(text, spec.name, "select"), hint=hint)


def tick_options(project: Project, spec: ScheduleSpec, tick: datetime, target: str | None,
                 grace: float, dry_run: bool = False) -> api.MaterializeOptions:
    graph = api.graph_of(project)
    names = selected(project, graph, spec, target)
    ranges = None
    if spec.catchup is not None:
        ranges = {n: tick_partitions(graph.assets[n].partitioning, tick, spec.catchup)
                  for n in sorted(names) if graph.assets[n].partitioning is not None}
    return api.MaterializeOptions(names=names, ranges=ranges or None, target=target, grace=grace, now=tick,
                                  tick=None if dry_run else TickRef(spec.name, tick), trigger=spec.trigger,
                                  command=f"schedule run ({spec.name})", locked=not dry_run, dry_run=dry_run)


def run_tick(project: Project, spec: ScheduleSpec, tick: datetime, target: str | None, stop: threading.Event,
             grace: float) -> TickResult:
    """Run the tick (the caller holds the run lock). Never raises an assetflow error: a tick
    that cannot run is a failed tick, with the error as its reason."""
    try:
        options = tick_options(project, spec, tick, target, grace)
        outcome = api.materialize(project, options, api.RunEvents(stop=stop))
    except TickTaken as exc:
        return TickResult(TickStatus.SKIPPED, None, str(exc), started=False)
    except AssetflowError as exc:
        return TickResult(TickStatus.FAILED, None, reason_of(exc), started=False)
    return TickResult(TickStatus.SUCCESS if outcome.status == "success" else TickStatus.FAILED,
                      outcome.run_id, describe(outcome), alert_problems=outcome.alert_problems)


def reason_of(error: AssetflowError) -> str:
    """A tick's reason from the error that stopped it before its run: where (file:line), and the message."""
    return f"{error.location}: {error.message}" if error.location else error.message


def describe(outcome: api.RunOutcome) -> str:
    """A tick's reason, from its run: what it built, or what went wrong."""
    built = sum(1 for r in outcome.results if r.status == "success")
    failed = sum(1 for r in outcome.results if r.status == "failed")
    blocked = len(outcome.plan.blocked)
    if outcome.status == "success":
        return f"built {built} partition{'s' * (built != 1)}" if built else "nothing was stale"
    if outcome.status == "interrupted":
        return f"stopped by SIGTERM after {built} partition{'s' * (built != 1)}"
    parts = [f"{n} {what}" for n, what in ((failed, "failed"), (blocked, "blocked")) if n]
    return f"{outcome.status}: {', '.join(parts) or 'a check failed'}"
