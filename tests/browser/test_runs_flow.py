"""Issue 17 items 2, 3, 5, 6: a run cancelled from its page, a failing run's error on its page and
Retry failed, the schedules page, and state-changing requests refused without the token."""
from __future__ import annotations

import fcntl
import json
import re
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from ui_helpers import TOML, daily_project, run_cli, write_project

pytestmark = pytest.mark.xdist_group("browser")

GATED_PY = """\
import fcntl

import pyarrow as pa

from assetflow import AssetContext, asset


@asset(partition_by="day", start="2024-01-01", end="2024-01-06", time_column="day")
def gated(context: AssetContext) -> pa.Table:
    with open({gate!r}, "a") as gate:
        fcntl.flock(gate, fcntl.LOCK_SH)        # waits while the test holds the gate
    return pa.table({{"day": [context.start], "n": [1]}})
"""

FLAKY_PY = """\
import os

import pyarrow as pa

from assetflow import asset


@asset()
def flaky() -> pa.Table:
    if os.path.exists({flag!r}):
        raise RuntimeError("the upstream feed is late")
    return pa.table({{"n": [1]}})
"""


def one_thread(toml: str) -> str:
    return toml.replace("threads = 2", "threads = 1")


def test_cancel_stops_a_running_run_after_its_running_partition(tmp_path, serve, page):
    gate = tmp_path / "gate"
    root = write_project(tmp_path / "p", {"assets/gated.py": GATED_PY.format(gate=str(gate))}, one_thread(TOML))
    served = serve(root)
    with open(gate, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        page.goto(served.url + "/assets/main.gated")
        page.get_by_role("button", name="Materialize").click()
        expect(page).to_have_url(re.compile(r"/runs/ui-"))
        expect(page.locator("#run-status")).to_have_text("running")
        expect(page.locator("#progress .running")).to_contain_text("main.gated 2024-01-01")
        page.get_by_role("button", name="Cancel").click()
        expect(page.locator(".progress-text")).to_contain_text("cancelling")
        fcntl.flock(held, fcntl.LOCK_UN)
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=60_000)   # a person cancelled it
    expect(page.locator("tr.attempt")).to_have_count(1)           # nothing new started after Cancel
    listed = run_cli(root, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    (record,) = json.loads(listed.stdout)["runs"]
    assert record["status"] == "cancelled", record
    shown = run_cli(root, "runs", "show", record["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert "cancelled" in shown.stdout.splitlines()[0], shown.stdout
    page.goto(served.url + "/runs")
    expect(page.locator("body")).to_contain_text(f"{record['run_id']}")
    expect(page.locator("tr", has_text=record["run_id"]).first).to_contain_text("cancelled")
    page.goto(served.url + "/assets/main.gated")
    expect(page.locator(".summary").first).to_contain_text("6 partitions")
    expect(page.locator("table.why")).to_contain_text("2024-01-02")


def test_a_failing_run_shows_its_error_and_retry_failed_rebuilds_it(tmp_path, serve, page):
    flag = tmp_path / "fail-now"
    flag.write_text("")
    root = write_project(tmp_path / "p", {"assets/flaky.py": FLAKY_PY.format(flag=str(flag))}, TOML)
    served = serve(root)
    page.goto(served.url + "/assets/main.flaky")
    page.get_by_role("button", name="Materialize").click()
    expect(page.locator("#run-status")).to_have_text("failed", timeout=60_000)
    attempt = page.locator("tr.attempt")
    expect(attempt).to_have_count(1)
    expect(attempt.locator("summary")).to_have_text("RuntimeError: the upstream feed is late")
    attempt.locator("summary").click()
    expect(attempt.locator("pre.error")).to_contain_text("raise RuntimeError")
    failed_url = page.url

    page.goto(served.url + "/assets/main.flaky")
    expect(page.locator("h1 .badge")).to_have_text("failed")
    expect(page.locator("table.runs")).to_contain_text("failed")

    flag.unlink()
    page.goto(failed_url)
    page.get_by_role("button", name="Retry failed").click()
    expect(page).not_to_have_url(failed_url)
    expect(page.locator("#run-status")).to_have_text("success", timeout=60_000)
    expect(page.locator(".mono").nth(1)).to_contain_text("retry failed of")
    page.goto(served.url + "/")
    expect(page.locator('tr[data-asset="main.flaky"] .badge')).to_have_text("fresh")


def test_the_schedules_page_shows_next_ticks_in_local_time_and_utc(tmp_path, serve, page):
    toml = TOML + '\n[schedules.nightly]\ncron = "30 2 * * *"\ntimezone = "America/New_York"\nselect = "marts.daily"\n'
    served = serve(daily_project(tmp_path / "p", toml=toml))
    page.goto(served.url + "/schedules")
    section = page.locator('section[data-schedule="nightly"]')
    expect(section.locator("h2")).to_have_text("nightly")
    rows = section.locator("table.ticks tbody tr")
    expect(rows).to_have_count(5)
    zone = ZoneInfo("America/New_York")
    first_local = rows.nth(0).locator("td").nth(0).inner_text()
    first_utc = rows.nth(0).locator("td").nth(1).inner_text()
    local = datetime.strptime(first_local.rsplit(" ", 1)[0], "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    assert local.strftime("%H:%M") == "02:30" and first_local.endswith(("EST", "EDT"))
    assert first_utc == local.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    assert timedelta(0) < local - datetime.now(timezone.utc) <= timedelta(days=1, hours=1)
    expect(section).to_contain_text("marts.daily")
    expect(page.locator("#heartbeat")).to_contain_text("in this process")
    for _ in range(3):        # the scheduler's first heartbeat comes with its first iteration
        if "alive" in page.locator("#heartbeat .badge").inner_text():
            break
        page.reload()
    expect(page.locator("#heartbeat .badge")).to_have_text("alive")


def _post(url: str, headers: dict, body: bytes = b"{}") -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_state_changing_request_without_the_token_is_403(tmp_path, serve, page):
    served = serve(daily_project(tmp_path / "p"))
    page.goto(served.url + "/")
    token = page.locator('meta[name="assetflow-token"]').get_attribute("content")
    assert len(token) >= 32
    action = served.url + "/api/materialize"
    json_type = {"Content-Type": "application/json"}
    # a replay of the button's request without its header, from the browser and from outside it
    assert page.request.post(action, data=json.dumps({"selection": ""}), headers=json_type).status == 403
    assert _post(action, json_type) == 403
    assert _post(action, {**json_type, "X-Assetflow-Token": token[:-1]}) == 403
    assert _post(action, {**json_type, "X-Assetflow-Token": token, "Origin": "http://evil.example"}) == 403
    assert _post(action, {"Content-Type": "text/plain", "X-Assetflow-Token": token}) == 403
    page.goto(served.url + "/runs")
    expect(page.locator("main")).to_contain_text("No runs yet.")          # none of them started one
    # the page's own button, which sends the token, works
    page.goto(served.url + "/")
    page.locator("#materialize-form input").fill("staging.events_day")
    page.get_by_role("button", name="Materialize").click()
    expect(page.locator("#run-status")).to_have_text("success", timeout=60_000)
