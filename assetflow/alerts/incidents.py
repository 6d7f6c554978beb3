"""Which notifications a run's end sends, given the open incidents. Pure.

An incident is open per (project, asset) from the run that first finds the asset broken (a failed
partition, a partition blocked by a cause of its own, a failed error check) until a later run that
looked at it (built, blocked or checked it) leaves it with no failed partition and no failure of
its own. While it is open, people are told again at most once per `repeat_after`: a run whose
every broken asset was notified recently sends nothing. When it closes, PagerDuty gets a
`resolve` (same `dedup_key`) and the other destinations a "recovered" message, unless
`on_recovery = false`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from assetflow.alert_state import Incident
from assetflow.alerts import pagerduty
from assetflow.alerts.notifications import PAGERDUTY, Notification, failure_notifications, recovery_notifications
from assetflow.alerts.summary import Recovery, RunSummary
from assetflow.project.alert_settings import AlertSettings


@dataclass(frozen=True)
class RunEnd:
    """What a run's end tells the incident logic."""

    project: str
    run_id: str
    trigger: str
    summary: RunSummary | None           # None: the run succeeded
    examined: frozenset[str]             # assets the run built, found blocked, or checked
    still_failed: frozenset[str]         # of the open incidents' assets, those with a failed partition now


@dataclass(frozen=True)
class AlertDecision:
    notifications: tuple[Notification, ...]
    incidents: tuple[Incident, ...]      # to write: opened, re-notified, or still open (last_run)
    closed: tuple[str, ...]              # assets whose incident closes
    quiet: tuple[str, ...] = ()          # broken assets not notified again (notified within repeat_after)


def decide(settings: AlertSettings, end: RunEnd, open_incidents: Mapping[str, Incident], now: datetime,
           source: str) -> AlertDecision:
    failing = end.summary.failing_assets if end.summary is not None else ()
    repeat = timedelta(seconds=settings.repeat_after)
    due = {a for a in failing if a not in open_incidents or open_incidents[a].notified_at + repeat <= now}
    quiet = tuple(a for a in failing if a not in due)
    incidents = [_touched(open_incidents.get(a), end, a, now, notify=a in due) for a in failing]
    closed = tuple(sorted(a for a in open_incidents if a in end.examined and a not in failing
                          and a not in end.still_failed))
    out: list[Notification] = []
    if end.summary is not None and (due or not failing):
        # (a run that failed only because of a propagated cause has no incident; it is still told)
        out += _without_quiet(failure_notifications(settings, end.summary, source), end.project, quiet)
    if closed:
        out += recovery_notifications(settings, Recovery(end.project, end.run_id, end.trigger, closed))
    return AlertDecision(tuple(out), tuple(incidents), closed, quiet)


def _touched(found: Incident | None, end: RunEnd, asset: str, now: datetime, notify: bool) -> Incident:
    if found is None:
        return Incident(end.project, asset, now, end.run_id, now, end.run_id)
    return replace(found, last_run=end.run_id, notified_at=now if notify else found.notified_at)


def _without_quiet(notifications: Iterable[Notification], project: str, quiet: tuple[str, ...]
                   ) -> list[Notification]:
    """PagerDuty triggers of assets whose incident was notified recently are left out."""
    keys = {pagerduty.dedup_key(project, a) for a in quiet}
    return [n for n in notifications if n.kind != PAGERDUTY or json.loads(n.body).get("dedup_key") not in keys]
