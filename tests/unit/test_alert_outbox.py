"""The outbox and incidents on a real DuckDB state store, sent to a real receiver on 127.0.0.1
(SPEC section 12): entries are written with the run's end row and keep no secret; what a send
answers decides the row (delivered, given up on a 4xx, pending again at Retry-After or with
backoff); incidents are notified once per repeat_after and close with a resolve."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from alert_receiver import Answer, Receiver, closed_port
from assetflow.alert_state import GIVEN_UP, PENDING, SENT, Incident
from assetflow.alerts import outbox
from assetflow.alerts.dispatch import end_run, flush_due
from assetflow.alerts.incidents import RunEnd, decide
from assetflow.alerts.notifications import failure_notifications
from assetflow.alerts.summary import Failure, RunSummary
from assetflow.engines.duckdb import open_duckdb
from assetflow.project.alert_settings import (AlertSettings, CommandDestination, PagerDutyDestination,
                                              SlackDestination, WebhookDestination)
from assetflow.project.interpolate import build_masks
from assetflow.state import FAILED, SUCCESS, RunRecord

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
NOW = datetime(2024, 1, 5, 2, 0, 0)
SOURCE = "assetflow@host"


@pytest.fixture
def engine(tmp_path):
    eng = open_duckdb(str(tmp_path / "w.duckdb"))
    eng.fold_runs()                      # creates the state store
    try:
        yield eng
    finally:
        eng.close()


def settings(receiver: Receiver, **more) -> AlertSettings:
    return AlertSettings(on_failure=(SlackDestination(receiver.url("/slack/SECRET")),
                                     PagerDutyDestination(KEY, "critical")),
                         pagerduty_url=receiver.url("/v2/enqueue"), **more)


def failed(run_id: str, *assets: str) -> RunSummary:
    return RunSummary("shop", run_id, "manual", tuple(Failure(a, None, f"{a} broke", 1) for a in assets))


def masks(s: AlertSettings):
    return build_masks((), s.secret_urls(), s.secret_keys())


def finish(engine, s: AlertSettings, run_id: str, summary: RunSummary | None, examined=(), now=NOW):
    record = RunRecord(run_id, "materialize", now, FAILED if summary else SUCCESS, now)
    return end_run(engine.outbox(), s, masks(s), record, summary, examined, "shop", "manual", now)


def rows(engine):
    return {e.subject: (e.status, e.attempts, e.next_attempt, e.last_error) for e in engine.outbox().entries()}


# ------------------------------------------------------------------------------------ entries

def test_an_entry_keeps_no_secret_and_restores_the_exact_notification(receiver):
    s = AlertSettings(on_failure=(SlackDestination(receiver.url("/slack/SECRET")), PagerDutyDestination(KEY),
                                  WebhookDestination(receiver.url("/hook/TOKEN")), CommandDestination("cat > x")))
    notifications = failure_notifications(s, failed("r1", "main.a"), SOURCE)
    entries = outbox.to_entries(notifications, "r1", NOW)
    assert [e.kind for e in entries] == ["slack", "pagerduty", "webhook", "command"]
    for entry in entries:
        stored = json.dumps([entry.destination, entry.body, entry.subject])
        assert KEY not in stored and "SECRET" not in stored and "TOKEN" not in stored and "cat > x" not in stored
    assert [outbox.restore(e, s) for e in entries] == list(notifications)
    # a receiver removed from [alerts] is not guessed at
    assert outbox.restore(entries[0], AlertSettings(on_failure=(SlackDestination(receiver.url("/other")),))) is None


# ------------------------------------------------------------------------------------ sends

def test_the_end_row_and_its_alerts_are_stored_together_then_sent(engine, receiver):
    s = settings(receiver)
    assert finish(engine, s, "r1", failed("r1", "main.a"), {"main.a"}) == ()
    assert [r.status for r in engine.list_runs(5)] == [FAILED]
    assert {k: v[0] for k, v in rows(engine).items()} == {"run r1": SENT, "assetflow:shop:main.a trigger": SENT}
    assert receiver.bodies("/v2/enqueue")[0]["routing_key"] == KEY          # restored at send time
    assert engine.outbox().due(NOW + timedelta(days=1)) == []


@pytest.mark.parametrize("answer, status, wait, detail", [
    (Answer(503, "busy"), PENDING, 30, "HTTP 503: busy"),
    (Answer(429, "slow down", {"Retry-After": "120"}), PENDING, 120, "HTTP 429: slow down"),
    (Answer(400, "invalid_payload"), GIVEN_UP, None, "HTTP 400: invalid_payload"),
])
def test_the_answer_decides_the_row(engine, receiver, answer, status, wait, detail):
    receiver.answer("/slack/SECRET", answer)
    s = settings(receiver)
    problems = finish(engine, s, "r1", failed("r1", "main.a"), {"main.a"})
    assert len(problems) == 1 and detail in problems[0] and "SECRET" not in problems[0]
    assert rows(engine)["run r1"] == (status, 1, NOW + timedelta(seconds=wait) if wait else None, detail)
    assert rows(engine)["assetflow:shop:main.a trigger"][0] == SENT


def test_a_receiver_down_then_up_gets_the_alert_at_the_next_flush(engine):
    port = closed_port()
    s = AlertSettings(on_failure=(WebhookDestination(f"http://127.0.0.1:{port}/hook"),))
    problems = finish(engine, s, "r1", failed("r1", "main.a"), {"main.a"})
    assert "connection refused" in problems[0] and "retry due at 2024-01-05 02:00:30Z" in problems[0]
    assert flush_due(engine.outbox(), s, masks(s), NOW + timedelta(seconds=10)) == ()    # not due yet
    (entry,) = engine.outbox().entries()
    assert (entry.status, entry.attempts) == (PENDING, 1)
    up = Receiver(port)
    try:
        assert flush_due(engine.outbox(), s, masks(s), NOW + timedelta(seconds=31)) == ()
        assert [b["run_id"] for b in up.bodies("/hook")] == ["r1"]
    finally:
        up.close()
    assert [(e.status, e.attempts) for e in engine.outbox().entries()] == [(SENT, 2)]


def test_the_budget_leaves_the_rest_pending_and_due(engine, receiver):
    receiver.answer("/slack/SECRET", Answer(hold=True))
    s = settings(receiver)
    record = RunRecord("r1", "materialize", NOW, FAILED, NOW)
    store = engine.outbox()
    entries = outbox.to_entries(failure_notifications(s, failed("r1", "main.a"), SOURCE), "r1", NOW)
    store.end_run(record, entries, (), ())
    clock = iter([0.0, 0.0, 5.0, 5.0, 5.0]).__next__           # the Slack send used the whole budget
    problems = outbox.flush(store, s, masks(s), NOW, budget=1.0, run_id="r1", clock=clock)
    assert "budget" in problems[-1] and "kept for the next run" in problems[-1]
    assert [e.subject for e in store.due(NOW)] == ["assetflow:shop:main.a trigger"]


def test_an_entry_whose_destination_left_alerts_is_given_up(engine, receiver):
    s = settings(receiver)
    receiver.answer("/slack/SECRET", Answer(503))
    finish(engine, s, "r1", failed("r1", "main.a"), {"main.a"})
    only_pd = AlertSettings(on_failure=(PagerDutyDestination(KEY),), pagerduty_url=receiver.url("/v2/enqueue"))
    problems = flush_due(engine.outbox(), only_pd, masks(only_pd), NOW + timedelta(hours=1))
    assert problems == ("alert slack (run r1) of run r1 given up: that destination is no longer in [alerts]",)
    assert rows(engine)["run r1"][0] == GIVEN_UP


# ------------------------------------------------------------------------------------ incidents

def test_incident_lifecycle_trigger_quiet_repeat_resolve(engine, receiver):
    s = settings(receiver, repeat_after=3600.0)
    finish(engine, s, "r1", failed("r1", "main.a"), {"main.a"})
    assert [e["event_action"] for e in receiver.bodies("/v2/enqueue")] == ["trigger"]
    (incident,) = engine.outbox().open_incidents("shop").values()
    assert (incident.asset, incident.opened_run, incident.notified_at) == ("main.a", "r1", NOW)

    later = NOW + timedelta(minutes=10)
    finish(engine, s, "r2", failed("r2", "main.a"), {"main.a"}, later)          # still open: nothing
    assert len(receiver.received) == 2
    assert engine.outbox().open_incidents("shop")["main.a"].last_run == "r2"

    much_later = NOW + timedelta(hours=2)                                       # past repeat_after
    finish(engine, s, "r3", failed("r3", "main.a", "main.b"), {"main.a", "main.b"}, much_later)
    assert [e["dedup_key"] for e in receiver.bodies("/v2/enqueue")] == [
        "assetflow:shop:main.a", "assetflow:shop:main.a", "assetflow:shop:main.b"]

    # a run that did not look at main.a leaves it open; one that built it cleanly resolves it
    finish(engine, s, "r4", None, {"main.b"}, much_later)
    finish(engine, s, "r5", None, {"main.a"}, much_later)
    resolves = [e for e in receiver.bodies("/v2/enqueue") if e["event_action"] == "resolve"]
    assert resolves == [{"routing_key": KEY, "event_action": "resolve", "dedup_key": "assetflow:shop:main.b"},
                        {"routing_key": KEY, "event_action": "resolve", "dedup_key": "assetflow:shop:main.a"}]
    assert [b["text"] for b in receiver.bodies("/slack/SECRET")][-2:] == [
        "shop: recovered in run r4: main.b", "shop: recovered in run r5: main.a"]
    assert engine.outbox().open_incidents("shop") == {}


def test_on_recovery_false_closes_quietly():
    s = AlertSettings(on_failure=(PagerDutyDestination(KEY),), on_recovery=False)
    opened = {"main.a": Incident("shop", "main.a", NOW, "r1", NOW, "r1")}
    decision = decide(s, RunEnd("shop", "r2", "manual", None, frozenset({"main.a"}), frozenset()), opened, NOW, SOURCE)
    assert (decision.notifications, decision.closed) == ((), ("main.a",))


def test_an_asset_with_a_failed_partition_left_stays_open():
    s = AlertSettings(on_failure=(PagerDutyDestination(KEY),))
    opened = {"main.a": Incident("shop", "main.a", NOW, "r1", NOW, "r1")}
    end = RunEnd("shop", "r2", "manual", None, frozenset({"main.a"}), frozenset({"main.a"}))
    assert decide(s, end, opened, NOW, SOURCE).closed == ()


def test_a_resolve_never_overtakes_its_trigger(engine, receiver):
    receiver.answer("/v2/enqueue", Answer(429, "slow down", {"Retry-After": "120"}), Answer(202))
    s = AlertSettings(on_failure=(PagerDutyDestination(KEY),), pagerduty_url=receiver.url("/v2/enqueue"))
    finish(engine, s, "r1", failed("r1", "main.a"), {"main.a"})                # the trigger waits 120 s
    soon = NOW + timedelta(seconds=10)
    finish(engine, s, "r2", None, {"main.a"}, soon)                            # recovered: a resolve queued
    assert [e["event_action"] for e in receiver.bodies("/v2/enqueue")] == ["trigger"]
    assert [e.subject for e in engine.outbox().due(soon)] == []                # held behind the trigger
    later = NOW + timedelta(seconds=121)
    assert flush_due(engine.outbox(), s, masks(s), later) == ()
    assert [e["event_action"] for e in receiver.bodies("/v2/enqueue")] == ["trigger", "trigger", "resolve"]
