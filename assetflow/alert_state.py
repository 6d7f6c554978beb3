"""What the state store keeps about alerts: the outbox of notifications, and the open incidents.

Plain values (layer 0) so that the engines store them and `alerts/` decides about them without
either knowing the other. An outbox entry never holds a secret: it names its destination by a
hash of the URL, routing key or command, and the message is restored from the project's current
`[alerts]` when it is sent (a PagerDuty event gets its routing key back then).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PENDING, SENT, GIVEN_UP = "pending", "delivered", "given_up"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One notification decided at a run's end, written in the transaction that records it."""

    id: str                          # "<run_id>:<n>", in the order the destinations are declared
    run_id: str
    kind: str                        # slack | pagerduty | webhook | command
    destination: str                 # kind and a hash of the secret that identifies the receiver
    subject: str                     # safe to print: "run ...", "assetflow:shop:main.orders trigger"
    body: str                        # the JSON document, without the routing key of a PagerDuty event
    created_at: datetime
    attempts: int = 0
    next_attempt: datetime | None = None
    status: str = PENDING            # pending | delivered | given_up
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """What one send of an outbox entry did, written back to its row."""

    id: str
    status: str                      # pending (retry at next_attempt) | delivered | given_up
    attempts: int
    next_attempt: datetime | None
    detail: str                      # masked: "HTTP 503: try later", "connection refused"
    at: datetime


@dataclass(frozen=True, slots=True)
class Incident:
    """An asset some run found broken and no later run has seen recover, per (project, asset)."""

    project: str
    asset: str
    opened_at: datetime
    opened_run: str
    notified_at: datetime            # when people were last told (at most once per repeat_after)
    last_run: str                    # the latest run that found it still broken
