"""Notifications <-> outbox entries, and sending what the outbox holds.

An entry keeps no secret: its destination is a hash of the receiver's URL, routing key or
command, and a PagerDuty event is stored without its `routing_key`. `restore` rebuilds the exact
notification from the project's `[alerts]` when it is sent; an entry whose destination is no
longer configured is given up (and said so).

`flush` sends the due entries within a time budget and returns what each send did, for the store
to write back: delivered; a 4xx (or a destination gone, or an entry older than MAX_AGE) given up;
429, 5xx, connection errors and commands that fail pending again at the time `delivery` returns.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Callable, Iterable, Protocol

from assetflow.alert_state import GIVEN_UP, PENDING, SENT, DeliveryUpdate, OutboxEntry
from assetflow.alerts.delivery import BUDGET, DELIVERED, PERMANENT, RETRY, Delivery, deliver
from assetflow.alerts.notifications import PAGERDUTY, Notification
from assetflow.project.alert_settings import AlertSettings, CommandDestination, PagerDutyDestination
from assetflow.project.interpolate import Masks

log = logging.getLogger("assetflow.alerts")

MAX_AGE = timedelta(days=7)          # an alert nobody could take for a week is given up
FLUSH_LIMIT = 100                    # entries tried per flush


class Outbox(Protocol):
    def due(self, now: datetime, limit: int = FLUSH_LIMIT, run_id: str | None = None) -> list[OutboxEntry]: ...
    def record_deliveries(self, updates: Iterable[DeliveryUpdate]) -> None: ...


def destination_key(kind: str, secret: str) -> str:
    """`<kind>:<16 hex>`: which receiver, without the secret that names it.

    >>> destination_key("slack", "https://hooks.slack.com/services/T/B/x")
    'slack:bf21ad890f713086'
    """
    digest = hashlib.sha256(kind.encode() + b"\0" + secret.encode()).hexdigest()
    return f"{kind}:{digest[:16]}"


def to_entries(notifications: Iterable[Notification], run_id: str, now: datetime, prefix: str | None = None
               ) -> tuple[OutboxEntry, ...]:
    """Entries `<prefix>:000`, `…:001` (prefix: the run id) of run `run_id`."""
    return tuple(_entry(n, f"{prefix or run_id}:{i:03d}", run_id, now) for i, n in enumerate(notifications))


def _entry(n: Notification, entry_id: str, run_id: str, now: datetime) -> OutboxEntry:
    if n.kind == PAGERDUTY:
        event = json.loads(n.body)
        secret = event.pop("routing_key")
        body = json.dumps(event, ensure_ascii=False)
    else:
        secret, body = n.target, n.body
    return OutboxEntry(entry_id, run_id, n.kind, destination_key(n.kind, secret), n.subject, body, now,
                       next_attempt=now)


def restore(entry: OutboxEntry, settings: AlertSettings) -> Notification | None:
    """The notification as it was decided, sent where `[alerts]` says now; None if that receiver is gone."""
    for d in settings.on_failure:
        if isinstance(d, PagerDutyDestination):
            if entry.kind == PAGERDUTY and destination_key(PAGERDUTY, d.routing_key) == entry.destination:
                body = json.dumps({"routing_key": d.routing_key, **json.loads(entry.body)}, ensure_ascii=False)
                return Notification(PAGERDUTY, settings.pagerduty_url, body, entry.subject)
            continue
        target = d.command if isinstance(d, CommandDestination) else d.url
        if destination_key(entry.kind, target) == entry.destination:
            return Notification(entry.kind, target, entry.body, entry.subject)
    return None


def flush(outbox: Outbox, settings: AlertSettings, masks: Masks, now: datetime, budget: float = BUDGET,
          run_id: str | None = None, clock: Callable[[], float] = time.monotonic) -> tuple[str, ...]:
    """Send the due entries (this run's first) within `budget` seconds and record each outcome.
    Returns a masked line per entry that did not arrive, for warnings. Never raises for a send."""
    deadline = clock() + budget
    updates, problems = [], []
    due = outbox.due(now, FLUSH_LIMIT, run_id)
    held: set[str] = set()                         # receivers that failed now: their later entries wait
    why = "an earlier alert to this receiver did not arrive"
    for entry in sorted(due, key=lambda e: (e.created_at, e.id)):
        if deadline - clock() < 0.1:
            why = f"the {budget:g} s alert budget of this run was used up"
            break                                  # left pending, due now: the next start sends it
        if entry.destination in held:
            continue
        update, problem = _send(entry, settings, masks, now, deadline - clock())
        updates.append(update)
        problems += [problem] if problem else []
        if update.status == PENDING:
            held.add(entry.destination)
    sent = {u.id for u in updates}
    problems += [_unsent(e, settings, masks, why) for e in due if e.id not in sent and e.run_id == run_id]
    outbox.record_deliveries(updates)
    return tuple(p for p in problems if p)


def _send(entry: OutboxEntry, settings: AlertSettings, masks: Masks, now: datetime, timeout: float
          ) -> tuple[DeliveryUpdate, str | None]:
    attempt = entry.attempts + 1
    notification = restore(entry, settings)
    if notification is None:
        line = (f"alert {entry.kind} ({entry.subject}) of run {entry.run_id} given up: that destination is "
                "no longer in [alerts]")
        log.info("%s", line)
        return DeliveryUpdate(entry.id, GIVEN_UP, entry.attempts, None, "destination no longer configured", now), line
    result = deliver(notification, now, attempt, timeout=timeout)
    if result.outcome == RETRY and now - entry.created_at >= MAX_AGE:
        result = Delivery(notification, PERMANENT, f"{result.detail}; given up after {MAX_AGE.days} days", attempt)
    line = result.describe(masks, kept_for_retry=True)
    log.info("%s", line)                               # (the CLI warns about the undelivered ones)
    status = {DELIVERED: SENT, PERMANENT: GIVEN_UP, RETRY: PENDING}[result.outcome]
    update = DeliveryUpdate(entry.id, status, attempt, result.retry_at, masks.mask(result.detail), now)
    return update, None if result.outcome == DELIVERED else line


def _unsent(entry: OutboxEntry, settings: AlertSettings, masks: Masks, why: str) -> str | None:
    notification = restore(entry, settings)
    if notification is None:
        return None
    return Delivery(notification, RETRY, f"not sent: {why}; kept for the next run", entry.attempts + 1).describe(masks)
