"""The alert outbox through the CLI, with real processes and a real receiver on 127.0.0.1 (SPEC
section 12): a SIGKILL between the COMMIT of a run's end (with its alerts) and the send delivers
the alert at the next start; a receiver that was down gets it at the next run; an undelivered
alert never changes the exit code."""
from __future__ import annotations

import json
import textwrap

from alert_receiver import Answer
from conftest import query
from helpers import KILLED

BAD_SQL = "select cast('n/a' as integer) as v\n"


def toml(alerts: str) -> str:
    return textwrap.dedent("""
        [project]
        name = "shop"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        threads = 1
        """) + textwrap.dedent(alerts)


def hook_project(project, receiver, files: dict[str, str]):
    return project(files, toml('[alerts]\non_failure = [ { webhook = "${HOOK}" } ]\n')), {"HOOK": receiver.url("/hook")}


def outbox_rows(p):
    return query(p, "select run_id, status, attempts from _assetflow.outbox order by created_at, id")


def test_a_kill_between_commit_and_send_delivers_at_the_next_start(af, project, receiver):
    p, env = hook_project(project, receiver, {"assets/orders.sql": BAD_SQL, "assets/fine.sql": "select 1 as x\n"})
    r = af(p, "materialize", "--json", env={**env, "ASSETFLOW_FAULT": "after_run_end:1"})
    assert r.exit_code in KILLED, r.output
    assert receiver.received == []                                   # killed before anything was sent
    (run_id, status), = query(p, "select run_id, status from _assetflow.runs")
    assert status == "failed"                                        # the end row committed, with its alert
    assert outbox_rows(p) == [(run_id, "pending", 0)]

    again = af(p, "materialize", "--json", env=env)                  # still failing
    assert again.exit_code == 1, again.output
    # the start sent the crashed run's alert; this run's failure is the same open incident: nothing more
    assert [b["run_id"] for b in receiver.bodies("/hook")] == [run_id]
    assert receiver.bodies("/hook")[0]["failures"][0]["asset"] == "main.orders"
    assert outbox_rows(p) == [(run_id, "delivered", 1)]


def test_a_receiver_that_was_down_gets_the_alert_at_the_next_run(af, project, receiver):
    receiver.answer("/hook", Answer(503, "maintenance", {"Retry-After": "0"}), Answer(200))
    p, env = hook_project(project, receiver, {"assets/orders.sql": BAD_SQL})
    first = af(p, "materialize", "--json", env=env)
    assert first.exit_code == 1, first.output                        # from the asset, not the alert
    assert "not delivered: HTTP 503: maintenance; retry due at" in first.stderr, first.stderr
    (p / "assets/orders.sql").write_text("select 1 as v\n")
    second = af(p, "materialize", "--json", env=env)
    assert second.exit_code == 0, second.output
    bodies = receiver.bodies("/hook")
    assert [(b["run_id"], b["status"]) for b in bodies] == [
        (first.json()["run_id"], "failed"),                          # the refused one, again
        (first.json()["run_id"], "failed"),                          # delivered at the next start
        (second.json()["run_id"], "recovered")]
    assert [row[1:] for row in outbox_rows(p)] == [("delivered", 2), ("delivered", 1)]
    assert "warning" not in second.stderr, second.stderr


def test_a_4xx_is_given_up_and_never_sent_again(af, project, receiver):
    receiver.answer("/hook", Answer(410, "gone"))
    p, env = hook_project(project, receiver, {"assets/orders.sql": BAD_SQL})
    r = af(p, "materialize", env=env)
    assert r.exit_code == 1 and "not retried (permanent): HTTP 410: gone" in r.stderr, r.stderr
    assert af(p, "materialize", env=env).exit_code == 1
    assert len(receiver.received) == 1
    assert [row[1:] for row in outbox_rows(p)] == [("given_up", 1)]
    last_error = query(p, "select last_error from _assetflow.outbox")[0][0]
    assert json.dumps(last_error) == json.dumps("HTTP 410: gone")
