"""A scheduled tick that failed before its run began (the project did not load at tick time, the
schedule's selection errors): what it alerts, decided like a run's end (incidents, repeat_after),
for the scheduler to store with the tick's `failed` row and send through the outbox.

Its incident is `schedule:NAME` (PagerDuty `dedup_key` `assetflow:<project>:schedule:NAME`): a
second failing tick within `repeat_after` sends nothing, and the schedule's next tick whose run
begins closes it (a resolve, a "recovered" message), written with that tick's finished row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from assetflow.alert_state import Incident, OutboxEntry
from assetflow.alerts import outbox
from assetflow.alerts.dispatch import source_name
from assetflow.alerts.incidents import RunEnd, decide
from assetflow.alerts.summary import TickFailure, tick_failure_summary
from assetflow.project.alert_settings import AlertSettings


@dataclass(frozen=True)
class TickAlerts:
    """What to write with the tick's row, in its transaction."""

    key: str                                 # the tick's name in the outbox (`summary.tick_key`)
    entries: tuple[OutboxEntry, ...]
    incidents: tuple[Incident, ...]
    closed: tuple[tuple[str, str], ...] = ()


def tick_failure_alerts(settings: AlertSettings, project: str, failure: TickFailure,
                        open_incidents: Mapping[str, Incident], now: datetime) -> TickAlerts:
    summary = tick_failure_summary(project, failure)
    end = RunEnd(project, summary.run_id, summary.trigger, summary, frozenset({failure.incident}), frozenset())
    decision = decide(settings, end, open_incidents, now, source_name())
    return TickAlerts(summary.run_id, outbox.to_entries(decision.notifications, summary.run_id, now),
                      decision.incidents, tuple((project, a) for a in decision.closed))


def tick_recovery_alerts(settings: AlertSettings, project: str, schedule: str, run_id: str,
                         open_incidents: Mapping[str, Incident], now: datetime) -> TickAlerts:
    """The schedule's tick began a run again: its open tick incident closes."""
    name = f"schedule:{schedule}"
    end = RunEnd(project, run_id, name, None, frozenset({name}), frozenset())
    decision = decide(settings, end, open_incidents, now, source_name())
    return TickAlerts(run_id, outbox.to_entries(decision.notifications, run_id, now, prefix=f"{run_id}:{name}"),
                      decision.incidents, tuple((project, a) for a in decision.closed))


def merged(found: list[TickAlerts]) -> TickAlerts | None:
    """Several ticks' alerts as one write (None: nothing to write). Two failed ticks of one
    schedule decided together share its incident: the last decision's row is the one kept."""
    if not found:
        return None
    incidents = {(i.project, i.asset): i for a in found for i in a.incidents}
    return TickAlerts(found[0].key, tuple(e for a in found for e in a.entries), tuple(incidents.values()),
                      tuple(c for a in found for c in a.closed))
