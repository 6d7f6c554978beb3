"""A tick that failed before its run: the webhook payload (SPEC section 7 plus `tick`) and the
incident it opens, repeats quietly and closes (pure)."""
from __future__ import annotations

from datetime import datetime, timedelta

from assetflow.alerts.summary import TickFailure, alert_payload, tick_failure_summary
from assetflow.alerts.tick_alerts import tick_failure_alerts, tick_recovery_alerts
from assetflow.project.alert_settings import AlertSettings, WebhookDestination

FAILURE = TickFailure("nightly", "2026-03-02T01:00:00Z", "the project did not load: assets/bad.sql:3: boom")
NOW = datetime(2026, 3, 2, 1, 0, 5)


def test_the_payload_has_no_run_and_says_which_tick():
    assert alert_payload(tick_failure_summary("shop", FAILURE)) == {
        "project": "shop", "run_id": None, "status": "failed", "failures": [], "blocked": [], "checks": [],
        "trigger": "schedule:nightly",
        "tick": {"schedule": "nightly", "tick": "2026-03-02T01:00:00Z", "reason": FAILURE.reason}}


def test_told_once_quiet_within_repeat_after_then_recovered():
    settings = AlertSettings(on_failure=(WebhookDestination("https://hooks.example/x"),), repeat_after=3600)
    first = tick_failure_alerts(settings, "shop", FAILURE, {}, NOW)
    assert [e.id for e in first.entries] == ["tick:nightly:2026-03-02T01:00:00Z:000"]
    (incident,) = first.incidents
    assert incident.asset == "schedule:nightly"
    again = tick_failure_alerts(settings, "shop", FAILURE, {incident.asset: incident}, NOW + timedelta(minutes=5))
    assert again.entries == ()
    later = tick_failure_alerts(settings, "shop", FAILURE, {incident.asset: incident}, NOW + timedelta(hours=2))
    assert len(later.entries) == 1                                   # repeat_after passed: told again
    back = tick_recovery_alerts(settings, "shop", "nightly", "R1", {incident.asset: incident}, NOW)
    assert back.closed == (("shop", "schedule:nightly"),)
    assert [(e.run_id, e.id, e.subject) for e in back.entries] == [
        ("R1", "R1:schedule:nightly:000", "recovery in run R1")]
