"""A tick that failed before its run began alerts (SPEC section 12: "a failed scheduled tick"),
and the schedule's next tick whose run begins closes that incident.

Such a tick has no run, so no run end to alert from: the scheduler writes its `failed` row, the
schedule cursor and the notifications it owes in one transaction (`alerts.tick_alerts`), then
sends them through the outbox like a run's, so an undelivered one is retried by the next run or
scheduler loop. Without `[alerts]` only the row is written.

Alerts are timed by the wall clock, not the scheduler's clock: delivery, backoff and
`repeat_after` happen in real time even when `--at` stands for another instant.
"""
from __future__ import annotations

from datetime import datetime, timezone

from assetflow.project.loader import Project
from assetflow.schedule.decide import iso
from assetflow.schedule_records import ScheduleState, TickRecord, TickRef, TickStatus


def save_failed_tick(store, project: Project, name: str, state: ScheduleState | None, record: TickRecord,
                     at: datetime) -> tuple[str, ...]:
    """Write the tick's row (and its cursor) with its alerts, then send them. Returns a masked
    line per alert that did not arrive."""
    from assetflow.alerts.dispatch import flush_due
    from assetflow.alerts.delivery import BUDGET
    from assetflow.alerts.summary import TickFailure
    from assetflow.alerts.tick_alerts import tick_failure_alerts
    stored = {name: state} if state is not None else {}
    settings = project.config.alerts
    if record.status is not TickStatus.FAILED or not settings.on_failure:
        store.save(stored, [(name, record)], at)
        return ()
    now = _wall_clock()
    outbox = store.alerts()
    alerts = tick_failure_alerts(settings, project.config.name, TickFailure(name, iso(record.tick), record.reason),
                                 outbox.open_incidents(project.config.name), now)
    store.save(stored, [(name, record)], at, alerts=alerts)
    return flush_due(outbox, settings, project.config.masks, now, BUDGET, alerts.key)


def recover_ticks(store, project: Project | None, at: datetime) -> list:
    """Finish the ticks a dead scheduler left `started` (`ScheduleStore.recover`); one whose run
    did not succeed (killed: `run R abandoned (finished on restart)`) alerts as a failed tick, its
    notifications committed with its finished row and sent after."""
    from assetflow.alerts.dispatch import flush_due
    from assetflow.alerts.delivery import BUDGET
    from assetflow.alerts.summary import TickFailure
    from assetflow.alerts.tick_alerts import tick_failure_alerts, merged
    settings = project.config.alerts if project is not None else None
    if settings is None or not settings.on_failure:
        return store.recover(at)
    now, keys = _wall_clock(), []

    def alerts_for(rows):
        outbox = store.alerts()
        found = [tick_failure_alerts(settings, project.config.name, TickFailure(r.schedule, iso(r.tick), r.reason),
                                     outbox.open_incidents(project.config.name), now)
                 for r in rows if r.status == TickStatus.FAILED.value]
        keys[:] = [a.key for a in found]           # (a transaction retried decides again)
        return merged(found)
    rows = store.recover(at, alerts_for)
    for key in keys:
        flush_due(store.alerts(), settings, project.config.masks, now, BUDGET / max(len(keys), 1), key)
    return rows


def _wall_clock() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def finish_started_tick(store, project: Project, tick: TickRef, status: TickStatus, reason: str, run_id: str | None,
                        at: datetime) -> tuple[str, ...]:
    """Finish a tick whose run began; when that schedule has an open tick incident, with the
    recovery it owes, in the same transaction. Returns the undelivered alerts' masked lines."""
    from assetflow.alerts.dispatch import flush_due
    from assetflow.alerts.delivery import BUDGET
    from assetflow.alerts.tick_alerts import tick_recovery_alerts
    settings = project.config.alerts
    incidents = store.alerts().open_incidents(project.config.name) if settings.on_failure else {}
    if f"schedule:{tick.schedule}" not in incidents:
        store.finish_tick(tick, status, reason, at)
        return ()
    now = _wall_clock()
    alerts = tick_recovery_alerts(settings, project.config.name, tick.schedule, run_id or "", incidents, now)
    store.finish_tick(tick, status, reason, at, alerts=alerts)
    return flush_due(store.alerts(), settings, project.config.masks, now, BUDGET, alerts.key)
