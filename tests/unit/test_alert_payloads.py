"""Golden payloads for every destination, as a real receiver on 127.0.0.1 gets them (SPEC sections
7 and 12): Slack Block Kit, PagerDuty Events API v2 triggers and resolves, the webhook JSON and a
command's stdin; for a failed run and for a recovery.

Set UPDATE_GOLDEN=1 to rewrite tests/fixtures/alerts/*.json after a deliberate change (then review
the diff: the fixtures are the contract).
"""
from __future__ import annotations

import json
import os
import shlex
from datetime import datetime
from pathlib import Path

import pytest

from alert_receiver import Receiver
from assetflow.project.alert_settings import (AlertSettings, CommandDestination, PagerDutyDestination, SlackDestination,
                                      WebhookDestination)
from assetflow.alerts import slack
from assetflow.alerts.delivery import DELIVERED, deliver_all
from assetflow.alerts.notifications import failure_notifications, recovery_notifications
from assetflow.alerts.pagerduty import dedup_key
from assetflow.alerts.summary import Blocked, CheckFailure, Failure, Recovery, RunSummary, alert_payload, summarize
from assetflow.project.interpolate import build_masks

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
NOW = datetime(2024, 1, 5, 2, 0, 30)
SOURCE = "assetflow@build-host"

SUMMARY = RunSummary(
    project="shop", run_id="20240105T020000-abc123", trigger="schedule:nightly",
    command="materialize +marts.daily",
    failures=(
        Failure("marts.daily", "2024-01-03", "Conversion Error: Could not convert string 'n/a' to INT32\n"
                "LINE 1: select cast(amount as integer) ...", 3),
        Failure("marts.daily", "2024-01-04", "Conversion Error: Could not convert string '<none>' to INT32", 3),
        Failure("staging.orders", None, "Binder Error: column \"amount & tax\" not found", 1),
    ),
    blocked=(Blocked("marts.total", None, "upstream blocked: marts.weekly"),
             Blocked("marts.weekly", "2024-W01", "source missing: raw.events")),
    checks=(CheckFailure("marts.daily", "not_null(id)", "3 failing rows"),),
)
RECOVERY = Recovery("shop", "20240106T020000-def456", "manual", ("marts.daily", "staging.orders"))


def settings_for(receiver: Receiver, command_out: Path) -> AlertSettings:
    return AlertSettings(on_failure=(
        SlackDestination(receiver.url("/services/T000/B000/SECRET")),
        PagerDutyDestination(KEY, "critical"),
        WebhookDestination(receiver.url("/hook")),
        CommandDestination(f"cat > {shlex.quote(str(command_out))}"),
    ), pagerduty_url=receiver.url("/v2/enqueue"))


def assert_golden(name: str, document) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    assert document == json.loads(path.read_text()), f"{name} differs from {path}"


def test_a_failed_run_as_every_destination_receives_it(receiver, tmp_path):
    out = tmp_path / "stdin.json"
    notifications = failure_notifications(settings_for(receiver, out), SUMMARY, SOURCE)
    deliveries = deliver_all(notifications, NOW, build_masks())
    assert [d.outcome for d in deliveries] == [DELIVERED] * 6, [d.detail for d in deliveries]
    # in declaration order: one Slack message, one PagerDuty event per failing asset, the webhook
    assert [r.path for r in receiver.received] == ["/services/T000/B000/SECRET", *["/v2/enqueue"] * 3, "/hook"]
    assert all(r.headers["Content-Type"] == "application/json" for r in receiver.received)
    assert_golden("slack_failure", receiver.bodies("/services/T000/B000/SECRET")[0])
    assert_golden("pagerduty_trigger", receiver.bodies("/v2/enqueue"))
    assert_golden("webhook_failure", receiver.bodies("/hook")[0])
    assert json.loads(out.read_text()) == receiver.bodies("/hook")[0]          # the command got the same JSON


def test_a_recovery_as_every_destination_receives_it(receiver, tmp_path):
    out = tmp_path / "stdin.json"
    deliveries = deliver_all(recovery_notifications(settings_for(receiver, out), RECOVERY), NOW, build_masks())
    assert [d.outcome for d in deliveries] == [DELIVERED] * 5
    assert_golden("slack_recovery", receiver.bodies("/services/T000/B000/SECRET")[0])
    assert_golden("pagerduty_resolve", receiver.bodies("/v2/enqueue"))
    assert_golden("webhook_recovery", receiver.bodies("/hook")[0])
    assert json.loads(out.read_text()) == receiver.bodies("/hook")[0]


def test_on_recovery_false_sends_nothing_on_recovery(receiver, tmp_path):
    settings = AlertSettings(on_failure=settings_for(receiver, tmp_path / "x").on_failure, on_recovery=False)
    assert recovery_notifications(settings, RECOVERY) == ()
    assert recovery_notifications(settings_for(receiver, tmp_path / "x"), Recovery("shop", "r", "manual", ())) == ()


def test_the_payload_is_spec_section_7():
    payload = alert_payload(SUMMARY)
    assert list(payload) == ["project", "run_id", "status", "failures", "blocked", "checks", "trigger"]
    assert payload["failures"][2] == {"asset": "staging.orders", "partition": None, "attempts": 1,
                                      "error": "Binder Error: column \"amount & tax\" not found"}
    assert payload["blocked"][1] == {"asset": "marts.weekly", "partition": "2024-W01",
                                     "reason": "source missing: raw.events"}
    assert payload["checks"] == [{"asset": "marts.daily", "check": "not_null(id)", "error": "3 failing rows"}]


def test_pagerduty_pages_each_failing_asset_once_and_not_the_propagated_blocks():
    # marts.total is blocked only because marts.weekly is: its upstream's incident covers it
    assert SUMMARY.failing_assets == ("marts.daily", "marts.weekly", "staging.orders")
    events = [json.loads(n.body) for n in failure_notifications(
        AlertSettings((PagerDutyDestination(KEY),)), SUMMARY, SOURCE)]
    assert [(e["event_action"], e["dedup_key"], e["payload"]["class"]) for e in events] == [
        ("trigger", "assetflow:shop:marts.daily", "asset_failure"),
        ("trigger", "assetflow:shop:marts.weekly", "asset_blocked"),
        ("trigger", "assetflow:shop:staging.orders", "asset_failure")]
    assert {e["payload"]["severity"] for e in events} == {"error"}
    assert all(e["routing_key"] == KEY for e in events)


def test_a_dedup_key_fits_pagerdutys_limit_and_stays_unique():
    long_a, long_b = "s." + "a" * 300, "s." + "a" * 299 + "b"
    key_a, key_b = dedup_key("shop", long_a), dedup_key("shop", long_b)
    assert len(key_a) == len(key_b) == 255 and key_a != key_b
    assert key_a == dedup_key("shop", long_a)


def test_slack_stays_inside_block_kit_limits():
    failures = tuple(Failure(f"s.asset_{i:02d}", "2024-01-01", "x" * 5000, 1) for i in range(30))
    blocked = tuple(Blocked("s.b", f"2024-01-{d:02d}", "source missing: raw.e") for d in range(1, 29))
    message = slack.failure_message(RunSummary("p" * 200, "r", "manual", failures, blocked))
    blocks = message["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b)
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert "…and 20 more failed assets" in texts
    assert any("…and 18 more" in t for t in texts)
    assert "30 failed assets (30 partitions), 28 blocked partitions" in message["text"]


def test_summarize_keeps_failures_blocks_and_error_checks_only():
    from types import SimpleNamespace as NS
    results = [NS(asset="b", partition="2", status="failed", error="e2", attempts=2),
               NS(asset="b", partition="1", status="failed", error=None, attempts=2),
               NS(asset="a", partition=None, status="success", error=None, attempts=1),
               NS(asset="c", partition=None, status="skipped", error="upstream failed", attempts=0)]
    blocked = [NS(asset="d", partition=None, reasons=("source missing: raw.x", "older than 24h"))]
    checks = [NS(asset="a", result=NS(name="unique(id)", severity="error", passed=False, failing=1)),
              NS(asset="a", result=NS(name="not_null(x)", severity="warn", passed=False, failing=5)),
              NS(asset="a", result=NS(name="c.sql", severity="error", passed=False, failing=-1)),
              NS(asset="a", result=NS(name="ok", severity="error", passed=True, failing=0))]
    summary = summarize("p", "r", "manual", results, blocked, checks)
    assert summary.failures == (Failure("b", "1", "", 2), Failure("b", "2", "e2", 2))
    assert summary.blocked == (Blocked("d", None, "source missing: raw.x; older than 24h"),)
    assert summary.checks == (CheckFailure("a", "c.sql", "the check could not run"),
                              CheckFailure("a", "unique(id)", "1 failing row"))
