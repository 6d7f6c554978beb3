"""Alerts through the CLI and the outbox, to a real receiver on 127.0.0.1 (SPEC section 12):
golden payloads for every destination (failure and recovery) as the receiver gets them after the
round trip through the state store, the incident lifecycle (fail -> trigger; fail again ->
nothing; succeed -> resolve), every kind of unsuccessful run alerting, and bad `[alerts]` input
refused at load naming the key without echoing the secret.

Set UPDATE_GOLDEN=1 to rewrite tests/fixtures/alerts/cli/*.json after a deliberate change."""
from __future__ import annotations

import json
import os
import re
import shlex
import textwrap
from pathlib import Path

import pytest

from alert_receiver import Receiver
from conftest import query

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "alerts" / "cli"
KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SLACK = "/services/T0000/B0000/SLACKSECRETxyz"
PD = "/v2/enqueue"

BROKEN_PY = """
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    ROOT = Path(__file__).resolve().parents[1]


    @asset()
    def orders():
        if not (ROOT / "fixed").exists():
            raise ValueError("the orders export is empty")
        return pa.table({"id": [1, 2]})
    """


def toml(alerts: str, extra: str = "") -> str:
    return textwrap.dedent("""
        [project]
        name = "shop"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        threads = 1
        """) + textwrap.dedent(extra) + textwrap.dedent(alerts)


def every_destination(out: Path, more: str = "") -> str:
    return textwrap.dedent(f"""
        [alerts]
        on_failure = [
          {{ slack = "${{SLACK_WEBHOOK_URL}}" }},
          {{ pagerduty = "${{PD_ROUTING_KEY}}", severity = "critical" }},
          {{ webhook = "${{HOOK_URL}}" }},
          {{ command = {json.dumps("cat > " + shlex.quote(str(out)))} }},
        ]
        pagerduty_url = "${{PD_URL}}"
        """) + more


def env_for(receiver: Receiver) -> dict:
    return {"SLACK_WEBHOOK_URL": receiver.url(SLACK), "PD_ROUTING_KEY": KEY, "PD_URL": receiver.url(PD),
            "HOOK_URL": receiver.url("/hook")}


def shop(project, receiver, out: Path, more: str = ""):
    files = {"assets/orders.py": textwrap.dedent(BROKEN_PY),
             "assets/events.sql": "select count(*) as n from raw.events\n",
             "assets/fine.sql": "select 1 as x\n"}
    return project(files, toml(every_destination(out, more), '[sources]\n"raw.events" = { path = "data/*.csv" }\n'))


def normalized(document, run_ids: dict[str, str]):
    """Run ids and the host name vary; everything else is the contract."""
    text = json.dumps(document, ensure_ascii=False)
    for run_id, name in run_ids.items():
        text = text.replace(run_id, name)
    text = re.sub(r'"assetflow@[^"]*"', '"assetflow@<host>"', text)
    return json.loads(text)


def assert_golden(name: str, document) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    assert document == json.loads(path.read_text()), f"{name} differs from {path}"


def test_golden_payloads_for_every_destination_failure_then_recovery(af, project, receiver, tmp_path):
    out = tmp_path / "stdin.json"
    p = shop(project, receiver, out)
    env = env_for(receiver)
    failed = af(p, "materialize", "--json", env=env)
    assert failed.exit_code == 1 and "warning" not in failed.stderr, failed.output
    names = {failed.json()["run_id"]: "<run 1>"}
    assert [r.path for r in receiver.received] == [SLACK, PD, PD, "/hook"]
    assert_golden("slack_failure", normalized(receiver.bodies(SLACK)[0], names))
    assert_golden("pagerduty_trigger", normalized(receiver.bodies(PD), names))
    assert_golden("webhook_failure", normalized(receiver.bodies("/hook")[0], names))
    assert json.loads(out.read_text()) == receiver.bodies("/hook")[0]       # the command got the same JSON

    (p / "fixed").write_text("yes")
    (p / "data").mkdir()
    (p / "data/e.csv").write_text("id\n1\n")
    fixed = af(p, "materialize", "--json", env=env)
    assert fixed.exit_code == 0, fixed.output
    names[fixed.json()["run_id"]] = "<run 2>"
    assert [r.path for r in receiver.received[4:]] == [SLACK, PD, PD, "/hook"]
    assert_golden("slack_recovery", normalized(receiver.bodies(SLACK)[1], names))
    assert_golden("pagerduty_resolve", normalized(receiver.bodies(PD)[2:], names))
    assert_golden("webhook_recovery", normalized(receiver.bodies("/hook")[1], names))
    assert json.loads(out.read_text()) == receiver.bodies("/hook")[1]
    # nothing secret was stored on the way: the outbox names receivers by hash
    stored = json.dumps(query(p, "select * from _assetflow.outbox"), default=str)
    assert KEY not in stored and "SLACKSECRET" not in stored and str(out) not in stored


def test_incident_lifecycle_trigger_nothing_resolve(af, project, receiver):
    alerts = '[alerts]\non_failure = [ { pagerduty = "${PD_ROUTING_KEY}" } ]\npagerduty_url = "${PD_URL}"\n'
    p = project({"assets/orders.py": textwrap.dedent(BROKEN_PY)}, toml(alerts))
    env = env_for(receiver)
    actions = lambda: [(e["event_action"], e["dedup_key"]) for e in receiver.bodies(PD)]  # noqa: E731
    assert af(p, "materialize", env=env).exit_code == 1
    assert actions() == [("trigger", "assetflow:shop:main.orders")]
    assert af(p, "materialize", env=env).exit_code == 1                       # still open: not paged again
    assert actions() == [("trigger", "assetflow:shop:main.orders")]
    assert query(p, "select asset from _assetflow.incidents") == [("main.orders",)]
    (p / "fixed").write_text("yes")
    assert af(p, "materialize", env=env).exit_code == 0
    assert actions() == [("trigger", "assetflow:shop:main.orders"), ("resolve", "assetflow:shop:main.orders")]
    assert query(p, "select count(*) from _assetflow.incidents") == [(0,)]
    assert af(p, "materialize", env=env).exit_code == 0                       # nothing open, nothing to say
    (p / "fixed").unlink()
    (p / "assets/orders.py").write_text(textwrap.dedent(BROKEN_PY).replace("is empty", "is late"))
    assert af(p, "materialize", env=env).exit_code == 1                       # a new incident pages anew
    assert [a for a, _ in actions()] == ["trigger", "resolve", "trigger"]


def test_on_recovery_false_closes_the_incident_without_a_message(af, project, receiver, tmp_path):
    p = shop(project, receiver, tmp_path / "stdin.json", "on_recovery = false\n")
    env = env_for(receiver)
    assert af(p, "materialize", env=env).exit_code == 1
    sent = len(receiver.received)
    (p / "fixed").write_text("yes")
    (p / "data").mkdir()
    (p / "data/e.csv").write_text("id\n1\n")
    assert af(p, "materialize", env=env).exit_code == 0
    assert len(receiver.received) == sent
    assert query(p, "select count(*) from _assetflow.incidents") == [(0,)]


def test_a_failing_custom_check_in_a_run_alerts(af, project, receiver):
    p = project({"assets/orders.sql": "select 1 as id union all select 1\n",
                 "checks/orders_unique.sql": "select id from main.orders group by id having count(*) > 1\n"},
                toml('[alerts]\non_failure = [ { webhook = "${HOOK_URL}" } ]\n'))
    r = af(p, "materialize", "--json", env=env_for(receiver))
    assert r.exit_code == 1, r.output
    (payload,) = receiver.bodies("/hook")
    assert payload["checks"] == [{"asset": "main.orders", "check": "orders_unique (checks/orders_unique.sql)",
                                  "error": "1 failing row"}]
    assert (payload["run_id"], payload["failures"], payload["blocked"]) == (r.json()["run_id"], [], [])


def test_a_blocked_partition_alerts_with_its_reason_and_resolves_when_the_file_arrives(af, project, receiver):
    day = ('/* assetflow\nkind = "partitioned"\npartition_by = "day"\ntime_column = "day"\nstart = "2024-01-01"\n'
           'end = "2024-01-02"\n*/\nselect day, count(*) as n from raw.events '
           'where day >= $start and day < $end group by day\n')
    alerts = '[alerts]\non_failure = [ { pagerduty = "${PD_ROUTING_KEY}" } ]\npagerduty_url = "${PD_URL}"\n'
    p = project({"assets/daily.sql": day},
                toml(alerts, '[sources]\n"raw.events" = { path = "data/*.csv" }\n'))
    env = env_for(receiver)
    assert af(p, "materialize", env=env).exit_code == 1
    (event,) = receiver.bodies(PD)
    assert (event["payload"]["class"], event["payload"]["custom_details"]["blocked_reason"]) == \
        ("asset_blocked", "source missing: raw.events")
    assert event["payload"]["custom_details"]["blocked_partitions"] == ["2024-01-01", "2024-01-02"]
    (p / "data").mkdir()
    (p / "data/e.csv").write_text("day,id\n2024-01-01,1\n2024-01-02,2\n")
    assert af(p, "materialize", env=env).exit_code == 0
    assert [e["event_action"] for e in receiver.bodies(PD)] == ["trigger", "resolve"]


@pytest.mark.parametrize("entry, words", [
    ('{ slak = "${SLACK_WEBHOOK_URL}" }', ["alerts.on_failure[0]", "unknown key 'slak'", "did you mean 'slack'"]),
    ('{ webhook = "${HOOK_URL}" }', ["alerts.on_failure[0].webhook", "http:// or https://", "${HOOK_URL}"]),
    ('{ pagerduty = "${PD_ROUTING_KEY}" }', ["alerts.on_failure[0].pagerduty", "32-character", "not 31"]),
    ('{ pagerduty = "${PD_ROUTING_KEY}", severity = "urgent" }', ["alerts.on_failure[0].severity",
                                                                   "critical, error, warning, info"]),
])
def test_bad_alert_settings_are_exit_2_at_load_naming_the_key(af, project, receiver, entry, words):
    p = project({"assets/fine.sql": "select 1 as x\n"}, toml(f"[alerts]\non_failure = [ {entry} ]\n"))
    env = {**env_for(receiver), "HOOK_URL": "file:///etc/SECRETPATH", "PD_ROUTING_KEY": KEY[:31]}
    if "severity" in entry:
        env["PD_ROUTING_KEY"] = KEY
    r = af(p, "materialize", env=env)
    assert r.exit_code == 2, r.output
    for word in words:
        assert word in r.stderr, (word, r.stderr)
    assert "Traceback" not in r.output and "SECRETPATH" not in r.output and KEY[:31] not in r.output
    assert "assetflow.toml:" in r.stderr
    assert not (p / "warehouse.duckdb").exists()


def test_a_failed_scheduled_tick_alerts_with_its_trigger(af, project, receiver):
    schedule = '[schedules.nightly]\ncron = "0 2 * * *"\n'
    p = project({"assets/orders.py": textwrap.dedent(BROKEN_PY)},
                toml('[alerts]\non_failure = [ { webhook = "${HOOK_URL}" } ]\n', schedule))
    env = env_for(receiver)
    first = af(p, "schedule", "run", "--once", "--at", "2024-01-02T01:00:00Z", "--json", env=env)
    assert first.exit_code == 0 and first.json()["ticks"] == [], first.output      # first sight: nothing runs
    r = af(p, "schedule", "run", "--once", "--at", "2024-01-02T02:00:10Z", "--json", env=env)
    (tick,) = r.json()["ticks"]
    assert (tick["schedule"], tick["status"]) == ("nightly", "failed"), r.output
    (payload,) = receiver.bodies("/hook")
    assert (payload["trigger"], payload["run_id"]) == ("schedule:nightly", tick["run_id"])
    assert payload["failures"][0]["error"].startswith("ValueError: the orders export is empty")
