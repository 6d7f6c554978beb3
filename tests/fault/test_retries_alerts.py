"""Retries with backoff, and failure alerts to a real webhook server and a shell command
(SPEC section 6 "Retries", "Alerts"; section 7 alert payload).
"""
from __future__ import annotations

import json
import shlex
import socket
import textwrap
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import query
from helpers import PY_TRACEBACK, assert_verified, materialize, ok, run_show

# A Python asset that fails on its first two calls (counted in a file in the project), then works.
FLAKY_PY = """
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    ROOT = Path(__file__).resolve().parents[1]


    @asset({settings})
    def flaky():
        counter = ROOT / "calls.txt"
        calls = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(calls))
        if calls <= 2:
            raise RuntimeError(f"transient failure number {{calls}}")
        return pa.table({{"call": [calls]}})
    """

AFTER_SQL = "select call * 10 as call10 from main.flaky\n"


def flaky_project(project, settings: str, toml_extra: str = ""):
    toml = textwrap.dedent("""
        [project]
        name = "retries"
        dialect = "duckdb"
        {extra}

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        threads = 2
        """).format(extra=toml_extra)
    return project({"assets/flaky.py": textwrap.dedent(FLAKY_PY.format(settings=settings)),
                    "assets/after.sql": AFTER_SQL,
                    "assets/unrelated.sql": "select 1 as one\n"}, toml)


def by_asset(res: dict) -> dict[str, dict]:
    return {x["asset"]: x for x in res["results"]}


def calls(p) -> int:
    return int((p / "calls.txt").read_text())


# ------------------------------------------------------------------------------------ retries

def test_enough_retries_turn_a_flaky_asset_into_a_success(af, project):
    p = flaky_project(project, "retries=2, retry_delay=0.1")
    res = materialize(af, p)
    assert res["status"] == "success"
    got = by_asset(res)
    assert (got["main.flaky"]["status"], got["main.flaky"]["attempts"], got["main.flaky"]["error"]) == \
        ("success", 3, None)
    assert got["main.after"]["status"] == "success" and got["main.after"]["attempts"] == 1
    assert calls(p) == 3
    assert query(p, "select call from main.flaky") == [(3,)]
    assert query(p, "select call10 from main.after") == [(30,)]
    # every attempt is in the run's record: two failures with their errors, then the success
    attempts = [a for a in run_show(af, p, res["run_id"])["attempts"] if a["asset"] == "main.flaky"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "failed"), (2, "failed"), (3, "success")]
    assert "transient failure number 1" in attempts[0]["error"]
    assert "transient failure number 2" in attempts[1]["error"]
    assert_verified(af, p)


def test_too_few_retries_fail_the_asset_and_skip_its_downstream(af, project):
    p = flaky_project(project, "retries=1, retry_delay=0.1")
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    assert PY_TRACEBACK not in r.output
    res = r.json()
    assert res["status"] == "failed"
    got = by_asset(res)
    assert (got["main.flaky"]["status"], got["main.flaky"]["attempts"]) == ("failed", 2)
    assert "transient failure number 2" in got["main.flaky"]["error"]
    assert got["main.after"]["status"] == "skipped" and "main.flaky" in got["main.after"]["error"]
    assert got["main.unrelated"]["status"] == "success"          # an unrelated branch goes on
    assert calls(p) == 2
    assert query(p, "select count(*) from duckdb_tables() where table_name in ('flaky', 'after')") == [(0,)]
    assert_verified(af, p)

    # the next run retries the failed asset (its third call succeeds) and builds what was skipped
    res = materialize(af, p)
    got = by_asset(res)
    assert set(got) == {"main.flaky", "main.after"}
    assert (got["main.flaky"]["status"], got["main.flaky"]["attempts"]) == ("success", 1)
    assert query(p, "select call10 from main.after") == [(30,)]


def test_project_wide_retries_and_per_asset_override(af, project):
    p = flaky_project(project, "", toml_extra="retries = 2\nretry_delay = 0.1")
    res = materialize(af, p)
    assert (by_asset(res)["main.flaky"]["status"], by_asset(res)["main.flaky"]["attempts"]) == ("success", 3)

    p = flaky_project(project, "retries=0", toml_extra="retries = 5\nretry_delay = 0.1")
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    assert (by_asset(r.json())["main.flaky"]["status"], by_asset(r.json())["main.flaky"]["attempts"]) == ("failed", 1)
    assert calls(p) == 1


def test_retry_delay_doubles_between_attempts(af, project):
    p = flaky_project(project, "retries=2, retry_delay=0.5")
    res = materialize(af, p)
    attempts = [a for a in run_show(af, p, res["run_id"])["attempts"] if a["asset"] == "main.flaky"]
    starts = [datetime.fromisoformat(a["started_at"]) for a in attempts]
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    # 0.5 s then 1.0 s, each +-20% jitter, plus the (short) attempt itself
    assert 0.4 <= gaps[0] < 0.6 + 1.0, gaps
    assert 0.8 <= gaps[1] < 1.2 + 1.0, gaps


# ------------------------------------------------------------------------------------ alerts

class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):                                    # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                     "payload": json.loads(body)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Day-partitioned Python asset: 2024-01-01 always works; the other two days fail until `fixed` exists.
BROKEN_PY = """
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    ROOT = Path(__file__).resolve().parents[1]


    @asset(partition_by="day", time_column="day", start="2024-01-01", end="2024-01-03", retries=1,
           retry_delay=0.05)
    def broken(context):
        if context.partition != "2024-01-01" and not (ROOT / "fixed").exists():
            raise ValueError(f"boom on {context.partition}")
        return pa.table({"day": pa.array([context.start], pa.date32()), "v": [1]})
    """

AFTER_BROKEN_SQL = """
    /* assetflow
    kind = "partitioned"
    partition_by = "day"
    time_column = "day"
    start = "2024-01-01"
    end = "2024-01-03"
    */
    select day, v * 2 as v2 from main.broken where day >= $start and day < $end
    """


def alert_project(project, alerts: list[dict]):
    entries = ", ".join("{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in a.items()) + " }" for a in alerts)
    toml = textwrap.dedent("""
        [project]
        name = "alerting"
        dialect = "duckdb"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        threads = 2

        [alerts]
        """) + f"on_failure = [ {entries} ]\n"
    return project({"assets/broken.py": textwrap.dedent(BROKEN_PY), "assets/after.sql": AFTER_BROKEN_SQL,
                    "assets/fine.sql": "select 1 as one\n"}, toml)


def check_payload(payload: dict, run_id: str) -> None:
    # SPEC section 7: the payload also says what was blocked, which checks failed and what started the run
    assert set(payload) == {"project", "run_id", "status", "failures", "blocked", "checks", "trigger"}, payload
    assert (payload["project"], payload["run_id"], payload["status"]) == ("alerting", run_id, "failed")
    assert (payload["blocked"], payload["checks"], payload["trigger"]) == ([], [], "manual")
    failures = sorted(payload["failures"], key=lambda f: f["partition"])
    assert all(set(f) == {"asset", "partition", "error", "attempts"} for f in failures), failures
    assert [(f["asset"], f["partition"], f["attempts"]) for f in failures] == [
        ("main.broken", "2024-01-02", 2), ("main.broken", "2024-01-03", 2)]
    for f in failures:
        assert f"boom on {f['partition']}" in f["error"], f


def test_webhook_and_command_alerts_fire_once_per_failed_run(af, project, webhook, tmp_path):
    out = tmp_path / "alert.json"
    url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    p = alert_project(project, [{"webhook": url}, {"command": f"cat > {shlex.quote(str(out))}"}])

    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    assert "warning" not in r.stderr, r.stderr
    res = r.json()
    statuses = {(x["asset"], x["partition"]): x["status"] for x in res["results"]}
    assert statuses[("main.after", "2024-01-01")] == "success"
    assert statuses[("main.after", "2024-01-02")] == statuses[("main.after", "2024-01-03")] == "skipped"

    assert len(webhook.received) == 1, webhook.received          # once per run, after the retries
    hit = webhook.received[0]
    assert hit["path"] == "/hook" and hit["content_type"] == "application/json"
    check_payload(hit["payload"], res["run_id"])
    assert json.loads(out.read_text()) == hit["payload"]           # the command got the same JSON

    # a second failing run finds the incident open (notified less than repeat_after ago): nothing
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1 and "warning" not in r.stderr, r.stderr
    assert len(webhook.received) == 1

    # the run that fixes it announces the recovery, once, to both
    (p / "fixed").write_text("yes")
    out.unlink()
    res = materialize(af, p)
    assert res["status"] == "success" and res["results"]
    recovered = {"project": "alerting", "run_id": res["run_id"], "status": "recovered",
                 "recovered": ["main.broken"], "trigger": "manual"}
    assert [h["payload"] for h in webhook.received[1:]] == [recovered]
    assert json.loads(out.read_text()) == recovered
    assert_verified(af, p)


def test_a_failing_alert_never_changes_the_outcome(af, project, webhook, tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}/hook"
    live = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    p = alert_project(project, [{"webhook": dead}, {"command": "exit 3"}, {"webhook": live}])
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output                       # from the asset failure only
    assert PY_TRACEBACK not in r.output
    res = r.json()                                          # stdout is still clean JSON
    assert res["status"] == "failed"
    # the warning names the receiver by scheme and host only: a webhook's path is its secret
    dead_host = dead.removesuffix("/hook")
    assert "warning" in r.stderr and f"{dead_host}/***" in r.stderr and dead not in r.stderr, r.stderr
    assert "connection refused" in r.stderr, r.stderr
    assert "exit 3" in r.stderr and "exit code 3" in r.stderr, r.stderr
    assert len(webhook.received) == 1                       # the other alerts still fired
    check_payload(webhook.received[0]["payload"], res["run_id"])

    # the run that recovers tells the live receiver; the broken ones keep their recovery queued
    # behind the failure they have not taken yet (a recovery never overtakes its failure); exit 0
    (p / "fixed").write_text("yes")
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    assert [h["payload"]["status"] for h in webhook.received] == ["failed", "recovered"]
    assert query(p, "select kind, status from _assetflow.outbox where subject like 'recovery%' order by id") == [
        ("webhook", "pending"), ("command", "pending"), ("webhook", "delivered")]


def test_unreachable_webhook_on_a_successful_run_is_not_contacted(af, project):
    p = alert_project(project, [{"webhook": f"http://127.0.0.1:{closed_port()}/hook"}])
    (p / "fixed").write_text("yes")
    r = ok(af(p, "materialize"))
    assert "warning" not in r.stderr
