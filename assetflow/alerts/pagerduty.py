"""PagerDuty Events API v2 events: one `trigger` per failing asset, a `resolve` per recovered one.

Pure. Both use `dedup_key` "assetflow:<project>:<asset>", so a repeated trigger (a retry, a
duplicate after a crash, the next failing run) folds into the one open PagerDuty alert and the
resolve closes it.
"""
from __future__ import annotations

import hashlib
from typing import Any

from assetflow.alerts.summary import Recovery, RunSummary, first_line

DEDUP_KEY_LIMIT = 255               # PagerDuty's maximum
SUMMARY_LIMIT = 1024
MAX_LISTED = 50                     # partitions listed in custom_details


def dedup_key(project: str, asset: str) -> str:
    """`assetflow:<project>:<asset>`; a name too long for PagerDuty keeps a hash of its tail.

    >>> dedup_key("shop", "marts.daily")
    'assetflow:shop:marts.daily'
    """
    key = f"assetflow:{project}:{asset}"
    if len(key) <= DEDUP_KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[:DEDUP_KEY_LIMIT - 17]}:{digest}"


def trigger_events(summary: RunSummary, routing_key: str, severity: str, source: str) -> list[dict[str, Any]]:
    return [_trigger(summary, asset, routing_key, severity, source) for asset in summary.failing_assets]


def resolve_events(recovery: Recovery, routing_key: str) -> list[dict[str, Any]]:
    return [{"routing_key": routing_key, "event_action": "resolve",
             "dedup_key": dedup_key(recovery.project, asset)} for asset in recovery.assets]


def _trigger(summary: RunSummary, asset: str, routing_key: str, severity: str, source: str) -> dict[str, Any]:
    failures, blocked, checks = summary.failures_of(asset), summary.blocked_of(asset), summary.checks_of(asset)
    details: dict[str, Any] = {"run_id": summary.run_id, "trigger": summary.trigger,
                               "see": f"assetflow runs show {summary.run_id}"}
    if summary.tick is not None and asset == summary.tick.incident:
        return _tick_trigger(summary, routing_key, severity, source)
    if failures:
        kind = "asset_failure"
        text = f"{asset} failed in {summary.project}: {first_line(failures[0].error)}"
        details.update(_partitions("failed", failures), error=failures[0].error, attempts=failures[0].attempts)
    elif checks:
        kind = "check_failure"
        text = f"{asset}: check {first_line(checks[0].check)} failed in {summary.project} ({checks[0].error})"
    else:
        kind = "asset_blocked"
        text = f"{asset} blocked in {summary.project}: {first_line(blocked[0].reason)}"
    if blocked:
        details.update(_partitions("blocked", blocked), blocked_reason=blocked[0].reason)
    if checks:
        details["checks"] = [{"check": c.check, "error": c.error} for c in checks]
    return {
        "routing_key": routing_key, "event_action": "trigger", "dedup_key": dedup_key(summary.project, asset),
        "payload": {"summary": _cut(text, SUMMARY_LIMIT), "source": source, "severity": severity,
                    "component": asset, "group": summary.project, "class": kind, "custom_details": details},
    }


def _tick_trigger(summary: RunSummary, routing_key: str, severity: str, source: str) -> dict[str, Any]:
    """A tick that failed before its run: keyed on the schedule, resolved by its next run."""
    tick = summary.tick
    text = f"schedule {tick.schedule}: the tick at {tick.tick} failed in {summary.project}: {first_line(tick.reason)}"
    return {
        "routing_key": routing_key, "event_action": "trigger", "dedup_key": dedup_key(summary.project, tick.incident),
        "payload": {"summary": _cut(text, SUMMARY_LIMIT), "source": source, "severity": severity,
                    "component": tick.incident, "group": summary.project, "class": "tick_failure",
                    "custom_details": {"schedule": tick.schedule, "tick": tick.tick, "trigger": summary.trigger,
                                       "reason": tick.reason, "see": "assetflow schedule list"}},
    }


def _partitions(what: str, items: tuple) -> dict[str, Any]:
    """`<what>_partitions` (the first few keys) and `<what>_count`; no keys for an unpartitioned asset."""
    keys = [i.partition for i in items if i.partition is not None]
    return {f"{what}_partitions": keys[:MAX_LISTED], f"{what}_count": len(keys)} if keys else {}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
