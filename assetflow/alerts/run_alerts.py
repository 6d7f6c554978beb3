"""What `runs show` lists about a run's alerts: one line per outbox entry, safe to print.

An outbox entry names its receiver by a hash (`outbox.destination_key`); here it is matched
against the project's `[alerts]` to say which receiver it is, as scheme and host only (a webhook
URL's path and a routing key are the secrets). Pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from assetflow.alert_state import GIVEN_UP, PENDING, SENT, OutboxEntry
from assetflow.alerts.notifications import COMMAND, PAGERDUTY
from assetflow.alerts.outbox import destination_key
from assetflow.project.alert_settings import AlertSettings, CommandDestination, PagerDutyDestination
from assetflow.project.interpolate import Masks, mask_url

ALERT, RECOVERED, RESOLVE = "alert", "recovered", "resolve"
# The outbox says given_up; people read "failed" (it will not be sent again).
_STATUS = {GIVEN_UP: "failed"}


@dataclass(frozen=True, slots=True)
class RunAlert:
    destination: str                 # "slack https://hooks.slack.com/***": kind, scheme and host
    kind: str                        # alert | recovered | resolve
    status: str                      # pending | delivered | failed
    attempts: int
    last_error: str | None
    subject: str                     # "run …", "assetflow:shop:main.orders trigger"
    created_at: datetime
    next_attempt: datetime | None    # a pending one: when it is sent again (None otherwise)


def run_alerts(entries: Iterable[OutboxEntry], settings: AlertSettings, masks: Masks) -> tuple[RunAlert, ...]:
    return tuple(_alert(e, settings, masks) for e in entries)


def _alert(e: OutboxEntry, settings: AlertSettings, masks: Masks) -> RunAlert:
    pending = e.status == PENDING
    # (a delivered entry keeps the receiver's answer, "HTTP 200": that is no error)
    error = masks.mask(e.last_error) if e.last_error and e.status != SENT else None
    return RunAlert(masks.mask(describe_destination(e, settings)), alert_kind(e), _STATUS.get(e.status, e.status),
                    e.attempts, error, e.subject, e.created_at, e.next_attempt if pending else None)


def alert_kind(entry: OutboxEntry) -> str:
    """From the subject `notifications` gave it: PagerDuty's "<key> resolve", "recovery in run …"."""
    if entry.kind == PAGERDUTY:
        return RESOLVE if entry.subject.endswith(" resolve") else ALERT
    return RECOVERED if entry.subject.startswith("recovery ") else ALERT


def describe_destination(entry: OutboxEntry, settings: AlertSettings) -> str:
    for d in settings.on_failure:
        if isinstance(d, PagerDutyDestination):
            if entry.kind == PAGERDUTY and destination_key(PAGERDUTY, d.routing_key) == entry.destination:
                return f"pagerduty {mask_url(settings.pagerduty_url)} (routing key ***)"
            continue
        target = d.command if isinstance(d, CommandDestination) else d.url
        if destination_key(entry.kind, target) == entry.destination:
            return f"command `{target}`" if entry.kind == COMMAND else f"{entry.kind} {mask_url(target)}"
    return f"{entry.kind} (no longer in [alerts])"
