"""Alerts: what a run that did not succeed tells people, formatted for each destination and sent.

- `summary`: the typed run summary and the JSON payload of SPEC section 7 (pure);
- `slack`, `pagerduty`: Block Kit messages and Events API v2 events (pure);
- `notifications`: destinations x summary -> the messages to send (pure values, storable);
- `delivery`: HTTP and command sending, with the retry decision it returns (never sleeps);
- `incidents`: open incidents, repeat_after and recovery -> what a run's end sends (pure);
- `outbox`: notifications <-> stored outbox entries (no secrets), and sending the due ones;
- `dispatch`: a run's end (decide, store with the end row, send) and the flush at a run's start.

The destinations themselves are parsed with the project file (`assetflow.project.alert_settings`).
"""
from __future__ import annotations

from datetime import datetime

from assetflow.project.alert_settings import AlertSettings
from assetflow.alerts.dispatch import source_name
from assetflow.alerts.delivery import DELIVERED, Delivery, deliver_all
from assetflow.alerts.notifications import Notification, failure_notifications, recovery_notifications
from assetflow.alerts.summary import Recovery, RunSummary, alert_payload, summarize
from assetflow.project.interpolate import Masks

__all__ = ["Delivery", "Notification", "Recovery", "RunSummary", "alert_payload", "failure_notifications",
           "recovery_notifications", "send_failure_alerts", "source_name", "summarize", "undelivered"]


def send_failure_alerts(settings: AlertSettings, summary: RunSummary, masks: Masks, now: datetime
                        ) -> tuple[Delivery, ...]:
    """Send what `on_failure` asks for about this run, within the alert budget; never raises."""
    return deliver_all(failure_notifications(settings, summary, source_name()), now, masks)


def undelivered(deliveries: tuple[Delivery, ...], masks: Masks) -> tuple[str, ...]:
    """One masked line per notification that did not arrive (the CLI prints them as warnings)."""
    return tuple(d.describe(masks) for d in deliveries if d.outcome != DELIVERED)
