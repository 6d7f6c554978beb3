"""`runs show RUN` lists the run's alerts (SPEC section 12): per notification its destination
(masked), kind (alert / recovered / resolve), status (pending / delivered / failed), attempts and
last error, in text and --json, with no secret in either. Real receivers on 127.0.0.1 answer
Slack with a 400 (permanent) and PagerDuty with a 503 (kept for a retry)."""
from __future__ import annotations

import textwrap

from alert_receiver import Answer
from test_alert_lifecycle import BROKEN_PY, KEY, PD, SLACK, env_for, toml

ALERTS = """
[alerts]
on_failure = [
  { slack = "${SLACK_WEBHOOK_URL}" },
  { pagerduty = "${PD_ROUTING_KEY}" },
]
pagerduty_url = "${PD_URL}"
"""


def shown(af, p, run_id: str, env: dict) -> tuple[list[dict], str]:
    data = af(p, "runs", "show", run_id, "--json", env=env)
    text = af(p, "runs", "show", run_id, env=env)
    assert data.exit_code == 0 and text.exit_code == 0, data.output + text.output
    for output in (data.output, text.output):
        assert KEY not in output and "SLACKSECRET" not in output and "/v2/enqueue" not in output
    return data.json()["alerts"], text.stdout


def test_runs_show_lists_the_runs_alerts_masked(af, project, receiver):
    p = project({"assets/orders.py": textwrap.dedent(BROKEN_PY)}, toml(ALERTS))
    env = env_for(receiver)
    host = receiver.base
    receiver.answer(SLACK, Answer(400, "invalid_blocks"), Answer(200))
    receiver.answer(PD, Answer(503, "try later"), Answer(202))
    failed = af(p, "materialize", "--json", env=env)
    assert failed.exit_code == 1, failed.output
    first = failed.json()["run_id"]

    alerts, text = shown(af, p, first, env)
    assert [(a["destination"], a["kind"], a["status"], a["attempts"]) for a in alerts] == [
        (f"slack {host}/***", "alert", "failed", 1),
        (f"pagerduty {host}/*** (routing key ***)", "alert", "pending", 1)]
    assert "400" in alerts[0]["last_error"] and "503" in alerts[1]["last_error"]
    assert alerts[0]["next_attempt"] is None and alerts[1]["next_attempt"].endswith("Z")
    assert alerts[1]["subject"] == "assetflow:shop:main.orders trigger"
    assert "alerts (2):" in text
    assert f"failed     alert      slack {host}/***  1 attempt" in text
    assert f"pending    alert      pagerduty {host}/*** (routing key ***)  1 attempt" in text
    assert "last error: HTTP 503" in text

    (p / "fixed").write_text("yes")
    fixed = af(p, "materialize", "--json", env=env)
    assert fixed.exit_code == 0, fixed.output
    alerts, text = shown(af, p, fixed.json()["run_id"], env)
    # the resolve waits behind the trigger PagerDuty asked to be sent again later (not yet due)
    assert [(a["kind"], a["status"], a["attempts"], a["last_error"]) for a in alerts] == [
        ("recovered", "delivered", 1, None), ("resolve", "pending", 0, None)]

    quiet = project({"assets/fine.sql": "select 1 as x\n"}, toml(ALERTS))
    ok = af(quiet, "materialize", "--json", env=env)
    alerts, text = shown(af, quiet, ok.json()["run_id"], env)
    assert alerts == [] and "alerts" not in text


def test_schedule_run_once_warns_about_alerts_that_did_not_arrive(af, project, receiver):
    """A tick's run whose PagerDuty receiver is down: the tick line, then a masked warning."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}{PD}"
    schedule = '\n[schedules.nightly]\ncron = "0 2 * * *"\n'
    env = {**env_for(receiver), "PD_URL": closed}
    for args in ([], ["--json"]):          # (a project each: a second failure would be quiet)
        p = project({"assets/orders.py": textwrap.dedent(BROKEN_PY)}, toml(ALERTS, schedule))
        first = af(p, "schedule", "run", "--once", "--at", "2026-03-01T01:00Z", *args, env=env)
        assert first.exit_code == 0, first.output
        if not args:
            assert first.stdout == "" and first.stderr.strip() == (
                "no tick due at 2026-03-01T01:00:00Z; next: nightly at 2026-03-01T02:00:00Z")
        r = af(p, "schedule", "run", "--once", "--at", "2026-03-01T02:00:05Z", *args, env=env)
        assert r.exit_code == 1, r.output
        assert "warning: alert to pagerduty http://127.0.0.1:" in r.stderr and "connection refused" in r.stderr
        assert KEY not in r.output and "SLACKSECRET" not in r.output
