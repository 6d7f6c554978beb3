"""Alerts end to end through the CLI (SPEC sections 12 and 13): Slack and PagerDuty configured with
`${VAR}` from the environment, a real receiver on 127.0.0.1, every unsuccessful run (failed,
blocked, failed check) alerting, secrets masked in stdout, stderr, logs and `runs show`, bad
input refused at load without echoing the secret."""
from __future__ import annotations

import json
import textwrap
import time

import pytest

from alert_receiver import Answer, Receiver
from conftest import query

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SLACK_PATH = "/services/T0000/B0000/SLACKSECRETxyz"
PY_TRACEBACK = "Traceback (most recent call last)"

ALERTS = """
[alerts]
on_failure = [
  { slack = "${SLACK_WEBHOOK_URL}" },
  { pagerduty = "${PD_ROUTING_KEY}", severity = "critical" },
]
pagerduty_url = "${PD_URL:-https://events.pagerduty.com/v2/enqueue}"
"""

BAD_SQL = "select cast('n/a' as integer) as v\n"
GOOD_SQL = "select 1 as v\n"


def toml(alerts: str = ALERTS, extra: str = "") -> str:
    return textwrap.dedent("""
        [project]
        name = "shop"
        dialect = "duckdb"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        threads = 2
        """) + textwrap.dedent(extra) + textwrap.dedent(alerts)


def env_for(receiver: Receiver, **more) -> dict:
    return {"SLACK_WEBHOOK_URL": receiver.url(SLACK_PATH), "PD_ROUTING_KEY": KEY,
            "PD_URL": receiver.url("/v2/enqueue"), **more}


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in (SLACK_PATH.rsplit("/", 1)[1], KEY, *secrets):
        assert secret not in text, f"{secret!r} printed:\n{text}"


def test_a_failed_and_blocked_run_reaches_slack_and_pagerduty(af, project, receiver):
    p = project({"assets/orders.sql": BAD_SQL, "assets/events.sql": "select * from raw.events\n",
                 "assets/fine.sql": GOOD_SQL},
                toml(extra='[sources]\n"raw.events" = { path = "data/events/*.csv" }\n'))
    r = af(p, "materialize", "--json", env=env_for(receiver))
    assert r.exit_code == 1, r.output
    run_id = r.json()["run_id"]
    assert "warning" not in r.stderr, r.stderr

    slack = receiver.bodies(SLACK_PATH)
    assert len(slack) == 1                                          # one message per run
    assert slack[0]["text"] == (f"shop: run {run_id} failed (manual): 1 failed asset (1 partition), "
                                "1 blocked partition")
    sections = json.dumps(slack[0]["blocks"])
    for expected in ["*main.orders* failed", "Could not convert string", "`main.events`: source missing: raw.events",
                     f"assetflow runs show {run_id}", "`assetflow materialize --json`"]:
        assert expected in sections, (expected, sections)

    events = receiver.bodies("/v2/enqueue")                         # one per failing asset
    assert [(e["event_action"], e["dedup_key"], e["payload"]["severity"], e["payload"]["class"]) for e in events] == [
        ("trigger", "assetflow:shop:main.events", "critical", "asset_blocked"),
        ("trigger", "assetflow:shop:main.orders", "critical", "asset_failure")]
    assert all(e["routing_key"] == KEY for e in events)
    assert events[1]["payload"]["custom_details"]["run_id"] == run_id
    assert_no_secret(r.output)


def test_a_failed_error_check_alerts_the_webhook(af, project, receiver):
    checked = '/* assetflow\nchecks = ["not_null(v)"]\n*/\nselect null::int as v\n'
    p = project({"assets/checked.sql": checked},
                toml('[alerts]\non_failure = [ { webhook = "${HOOK}" } ]\n'))
    r = af(p, "materialize", "--json", env={"HOOK": receiver.url("/hook")})
    assert r.exit_code == 1, r.output
    payload = receiver.bodies("/hook")[0]
    assert payload["checks"] == [{"asset": "main.checked", "check": "not_null(v)", "error": "1 failing row"}]
    assert [f["asset"] for f in payload["failures"]] == ["main.checked"]
    assert (payload["run_id"], payload["trigger"], payload["blocked"]) == (r.json()["run_id"], "manual", [])


def test_a_successful_run_sends_nothing(af, project, receiver):
    p = project({"assets/fine.sql": GOOD_SQL}, toml())
    r = af(p, "materialize", env=env_for(receiver))
    assert r.exit_code == 0, r.output
    assert receiver.received == []


def test_an_undelivered_alert_is_a_masked_warning_and_changes_nothing(af, project, receiver):
    receiver.answer(SLACK_PATH, Answer(404, "channel_not_found"))
    receiver.answer("/v2/enqueue", Answer(503, "try later"))
    p = project({"assets/orders.sql": BAD_SQL}, toml())
    r = af(p, "materialize", "--json", env=env_for(receiver))
    assert r.exit_code == 1, r.output                               # from the failure, not from the alerts
    assert r.json()["status"] == "failed" and PY_TRACEBACK not in r.output
    host = receiver.base
    assert f"warning: alert to slack {host}/*** (run {r.json()['run_id']}) not delivered, and not retried " \
           f"(permanent): HTTP 404: channel_not_found" in r.stderr, r.stderr
    assert f"warning: alert to pagerduty {host}/*** (assetflow:shop:main.orders trigger) not delivered: " \
           f"HTTP 503: try later" in r.stderr, r.stderr
    assert_no_secret(r.output, "/v2/enqueue")


def test_secrets_are_masked_in_stdout_stderr_logs_and_runs_show(af, project, receiver):
    leaky = """
        import os

        from assetflow import asset


        @asset()
        def leaky(context):
            url = os.environ["SLACK_WEBHOOK_URL"]
            context.log.warning(f"about to post to {url} with {os.environ['PD_ROUTING_KEY']}")
            raise RuntimeError(f"could not reach {url}")
        """
    p = project({"assets/leaky.py": textwrap.dedent(leaky)}, toml())
    env = env_for(receiver)
    outputs = []
    for args in [("materialize",), ("materialize", "--json")]:
        r = af(p, *args, env=env)
        assert r.exit_code == 1, r.output
        outputs.append(r)
    run_id = outputs[1].json()["run_id"]
    assert "about to post to" in outputs[0].stderr                   # the log line is printed, masked
    assert f"{receiver.base}/***" in outputs[0].output
    for args in [("runs", "show", run_id), ("runs", "show", run_id, "--json"), ("runs",), ("status", "--json")]:
        outputs.append(af(p, *args, env=env))
    for r in outputs:
        assert_no_secret(r.output, SLACK_PATH)
    assert "could not reach" in outputs[2].output and "***" in outputs[2].output
    # the receiver itself gets the real error: the alert is for people who may see the secret
    assert any(SLACK_PATH in json.dumps(body) for body in receiver.bodies(SLACK_PATH))


def test_an_unset_variable_is_an_error_naming_the_key_and_the_variable(af, project):
    p = project({"assets/fine.sql": GOOD_SQL}, toml())
    for command in [("materialize",), ("status",), ("runs",)]:
        r = af(p, *command, env={"PD_ROUTING_KEY": KEY})
        assert r.exit_code == 2, r.output
        line = toml().lstrip().splitlines().index('  { slack = "${SLACK_WEBHOOK_URL}" },') + 1
        assert (f"error: assetflow.toml:{line}: alerts.on_failure[0].slack uses ${{SLACK_WEBHOOK_URL}}, "
                "but the environment variable SLACK_WEBHOOK_URL is not set") in r.stderr, r.stderr
        assert "${SLACK_WEBHOOK_URL:-" in r.stderr and PY_TRACEBACK not in r.output
        assert_no_secret(r.output)


@pytest.mark.parametrize("variable, value, words", [
    ("PD_ROUTING_KEY", KEY + "\n", ["alerts.on_failure[1].pagerduty", "32-character", "not 33 characters",
                                         "${PD_ROUTING_KEY}"]),
    ("SLACK_WEBHOOK_URL", "hooks.slack.com" + SLACK_PATH, ["alerts.on_failure[0].slack", "http",
                                                           "${SLACK_WEBHOOK_URL}"]),
    ("PD_URL", "ftp://events.example/SLACKSECRETxyz", ["alerts.pagerduty_url", "http"]),
])
def test_a_bad_secret_is_refused_at_load_without_echoing_it(af, project, receiver, variable, value, words):
    p = project({"assets/fine.sql": GOOD_SQL}, toml())
    r = af(p, "materialize", env=env_for(receiver, **{variable: value}))
    assert r.exit_code == 2, r.output
    for word in words:
        assert word in r.stderr, (word, r.stderr)
    assert_no_secret(r.output, value.strip())
    assert not (p / "warehouse.duckdb").exists()                    # refused before anything ran


def test_defaults_and_dollar_escapes_reach_the_shell(af, project, tmp_path):
    out = tmp_path / "alert.json"
    alerts = '[alerts]\non_failure = [ { command = "cat > \\"$${ALERT_OUT}\\"" } ]\n'
    p = project({"assets/orders.sql": BAD_SQL},
                toml(alerts).replace('name = "shop"', 'name = "${PROJECT_NAME:-shop}"'))
    r = af(p, "materialize", env={"ALERT_OUT": str(out)})           # the shell expands ${ALERT_OUT}
    assert r.exit_code == 1, r.output
    payload = json.loads(out.read_text())
    assert payload["project"] == "shop" and payload["failures"][0]["asset"] == "main.orders"
    assert query(p, "select count(*) from _assetflow.runs") == [(1,)]


def test_hung_receivers_hold_the_exit_for_a_few_seconds_at_most(af, project, receiver):
    receiver.answer(SLACK_PATH, Answer(hold=True))
    receiver.answer("/v2/enqueue", Answer(hold=True))
    p = project({"assets/orders.sql": BAD_SQL, "assets/other.sql": "select cast('x' as integer) as w\n"}, toml())
    started = time.monotonic()
    r = af(p, "materialize", env=env_for(receiver))
    elapsed = time.monotonic() - started
    assert r.exit_code == 1, r.output
    # Slack and the first PagerDuty event time out (3 s each); the budget (6 s) leaves the second unsent
    assert r.stderr.count("not delivered: timed out") == 2, r.stderr
    assert "not delivered: not sent: the 6 s alert budget of this run was used up" in r.stderr, r.stderr
    assert elapsed < 6 + 8, elapsed                                  # the budget plus the run itself


def test_a_failed_assetflow_check_alerts(af, project, receiver):
    p = project({"assets/orders.sql": "select 1 as id union all select 1\n"},
                toml('[alerts]\non_failure = [ { webhook = "${HOOK}" }, { command = "exit 5" } ]\n'))
    env = {"HOOK": receiver.url("/hook")}
    assert af(p, "materialize", env=env).exit_code == 0
    (p / "checks").mkdir()
    (p / "checks/orders_unique.sql").write_text("select id from main.orders group by id having count(*) > 1\n")
    r = af(p, "check", env=env)
    assert r.exit_code == 1, r.output
    payload = receiver.bodies("/hook")[0]
    assert payload["checks"] == [{"asset": "main.orders", "check": "orders_unique (checks/orders_unique.sql)",
                                  "error": "1 failing row"}]
    assert (payload["failures"], payload["blocked"], payload["trigger"]) == ([], [], "manual")
    assert payload["run_id"] in r.stdout
    assert "warning: alert command `exit 5`" in r.stderr and "exit code 5" in r.stderr, r.stderr
    (p / "checks/orders_unique.sql").write_text("select id from main.orders where id < 0\n")
    fixed = af(p, "check", env=env)
    assert fixed.exit_code == 0, fixed.output                       # the alert command failing changes nothing
    recovered = receiver.bodies("/hook")[1]                         # the passing check closes the incident
    assert (recovered["status"], recovered["recovered"]) == ("recovered", ["main.orders"])
    assert af(p, "check", env=env).exit_code == 0
    assert len(receiver.received) == 2                              # nothing open: a passing check sends nothing
