"""Destinations x summary -> the concrete messages to send. Pure.

A `Notification` is one document for one receiver: one Slack message, webhook POST or command
per run, and one PagerDuty event per failing (or recovered) asset. It is a plain value so it can
be stored as it is (the outbox) and sent later, exactly as it was decided at the run's end.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from assetflow.project.alert_settings import (AlertSettings, CommandDestination, Destination, PagerDutyDestination,
                                      SlackDestination, WebhookDestination)
from assetflow.alerts import pagerduty, slack
from assetflow.alerts.summary import Recovery, RunSummary, alert_payload, recovery_payload

SLACK, PAGERDUTY, WEBHOOK, COMMAND = "slack", "pagerduty", "webhook", "command"


@dataclass(frozen=True, slots=True)
class Notification:
    kind: str                    # slack | pagerduty | webhook | command
    target: str                  # the URL to POST to, or the shell command (a secret: masked when shown)
    body: str                    # the JSON document, as sent
    subject: str = ""            # what it is about, safe to print: "run 2024...-ab12cd", "main.orders resolve"

    @property
    def is_http(self) -> bool:
        return self.kind != COMMAND


def failure_notifications(settings: AlertSettings, summary: RunSummary, source: str) -> tuple[Notification, ...]:
    """Every message `on_failure` asks for, in the order the destinations are declared."""
    out: list[Notification] = []
    for destination in settings.on_failure:
        out.extend(_for_failure(destination, settings, summary, source))
    return tuple(out)


def recovery_notifications(settings: AlertSettings, recovery: Recovery) -> tuple[Notification, ...]:
    """Resolve events and "recovered" messages; none when `on_recovery = false` or nothing recovered."""
    if not settings.on_recovery or not recovery.assets:
        return ()
    out: list[Notification] = []
    subject = f"recovery in run {recovery.run_id}"
    for destination in settings.on_failure:
        if isinstance(destination, PagerDutyDestination):
            out.extend(Notification(PAGERDUTY, settings.pagerduty_url, _json(event), f"{event['dedup_key']} resolve")
                       for event in pagerduty.resolve_events(recovery, destination.routing_key))
        elif isinstance(destination, SlackDestination):
            out.append(Notification(SLACK, destination.url, _json(slack.recovery_message(recovery)), subject))
        else:
            out.append(_plain(destination, recovery_payload(recovery), subject))
    return tuple(out)


def _for_failure(destination: Destination, settings: AlertSettings, summary: RunSummary,
                 source: str) -> list[Notification]:
    subject = f"run {summary.run_id}"
    if isinstance(destination, PagerDutyDestination):
        events = pagerduty.trigger_events(summary, destination.routing_key, destination.severity, source)
        return [Notification(PAGERDUTY, settings.pagerduty_url, _json(e), f"{e['dedup_key']} trigger") for e in events]
    if isinstance(destination, SlackDestination):
        return [Notification(SLACK, destination.url, _json(slack.failure_message(summary)), subject)]
    return [_plain(destination, alert_payload(summary), subject)]


def _plain(destination: WebhookDestination | CommandDestination, payload: dict, subject: str) -> Notification:
    if isinstance(destination, WebhookDestination):
        return Notification(WEBHOOK, destination.url, _json(payload), subject)
    return Notification(COMMAND, destination.command, _json(payload), subject)


def _json(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False)
