"""A scheduled tick that fails before its run begins alerts (SPEC section 12, issue 15 item 2).

The scheduler loop runs in-process on a real DuckDB file, driven by a clock that moves only when
the loop waits (days pass in seconds); real receivers on 127.0.0.1 play Slack and PagerDuty.
Between ticks the project is edited: it stops loading (a bad header), then loads but the
schedule's selection matches nothing, then is fixed. Each broken tick is recorded `failed` with
its reason; the first pages (Slack message, PagerDuty trigger keyed on the schedule), the second
is within `repeat_after` and sends nothing, and the next tick whose run begins resolves it.
"""
from __future__ import annotations

import textwrap
import threading
from datetime import datetime, timedelta, timezone

import duckdb

from assetflow.schedule.scheduler import SchedulerOptions, run_scheduler

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SLACK, PD = "/services/T0/B0/TICKSECRET", "/v2/enqueue"

TOML = """
[project]
name = "loop"

[targets.dev]
path = "warehouse.duckdb"
threads = 1

[schedules.nightly]
cron = "0 2 * * *"
select = "SELECT"

[alerts]
on_failure = [ { slack = "${SLACK_URL}" }, { pagerduty = "${PD_KEY}" } ]
pagerduty_url = "${PD_URL}"
"""
DAILY = """
/* assetflow
kind = "partitioned"
partition_by = "day"
time_column = "day"
start = "2026-03-01"
*/
select $start as day
"""
BAD_HEADER = '/* assetflow\nkind = "table"\nbogus = 1\n*/\nselect 1 as x\n'


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


class EditingClock:
    """Time moves only when the loop waits (at most `step` at a time); `edits` run once the time
    passes their instant, as a person editing the project between ticks."""

    def __init__(self, start: datetime, until: datetime, edits: dict[datetime, callable], step: timedelta):
        self.current, self.until, self.edits, self.step = start, until, dict(edits), step

    def now(self) -> datetime:
        return self.current

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self.current += min(timedelta(seconds=max(seconds, 0.001)), self.step)
        for when in sorted(w for w in self.edits if w <= self.current):
            self.edits.pop(when)()
        if self.current > self.until:
            stop.set()
        return stop.is_set()


def test_ticks_that_fail_before_their_run_alert_once_and_resolve(tmp_path, receiver):
    root = tmp_path / "p"
    (root / "assets").mkdir(parents=True)
    config = root / "assetflow.toml"
    config.write_text(TOML.replace("SELECT", "main.daily"))
    (root / "assets/daily.sql").write_text(DAILY)
    edits = {
        at("2026-03-01T10:00Z"): lambda: (root / "assets/bad.sql").write_text(BAD_HEADER),
        at("2026-03-02T10:00Z"): lambda: ((root / "assets/bad.sql").unlink(),
                                          config.write_text(TOML.replace("SELECT", "tag:nothing"))),
        at("2026-03-03T10:00Z"): lambda: config.write_text(TOML.replace("SELECT", "main.daily")),
    }
    clock = EditingClock(at("2026-03-01T00:30Z"), at("2026-03-04T03:00Z"), edits, timedelta(hours=3))
    env = {"SLACK_URL": receiver.url(SLACK), "PD_KEY": KEY, "PD_URL": receiver.url(PD)}
    errors: list[str] = []
    run_scheduler(root, threading.Event(), clock, options=SchedulerOptions(beat_every=3 * 3600, environ=env),
                  on_error=lambda exc: errors.append(exc.render()))

    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        ticks = con.execute("SELECT strftime(tick, '%m-%d %H:%M'), status, run_id IS NULL, reason "
                            "FROM _assetflow.schedule_ticks ORDER BY tick").fetchall()
        incidents = con.execute("SELECT count(*) FROM _assetflow.incidents").fetchall()
        outbox = con.execute("SELECT run_id, status FROM _assetflow.outbox ORDER BY created_at, id").fetchall()
    finally:
        con.close()
    assert [t[:3] for t in ticks] == [("03-01 02:00", "success", False), ("03-02 02:00", "failed", True),
                                      ("03-03 02:00", "failed", True), ("03-04 02:00", "success", False)]
    assert ticks[1][3].startswith("the project did not load: assets/bad.sql:3: unknown setting 'bogus'")
    assert ticks[2][3].startswith("assetflow.toml:11: schedules.nightly.select: selection 'tag:nothing' matches no")
    assert any("assets/bad.sql" in e for e in errors)                # the loop said why, and went on

    # the first failure pages; the second (same incident, within repeat_after) is quiet; the fix resolves
    (trigger, resolve) = receiver.bodies(PD)
    assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", "assetflow:loop:schedule:nightly")
    assert trigger["payload"]["class"] == "tick_failure" and trigger["payload"]["component"] == "schedule:nightly"
    assert trigger["payload"]["custom_details"]["tick"] == "2026-03-02T02:00:00Z"
    assert "assets/bad.sql" in trigger["payload"]["summary"]
    assert (resolve["event_action"], resolve["dedup_key"]) == ("resolve", "assetflow:loop:schedule:nightly")
    failure, recovered = receiver.bodies(SLACK)
    assert "the nightly tick at 2026-03-02T02:00:00Z failed: the project did not load: " in failure["text"]
    assert "assets/bad.sql" in failure["blocks"][2]["text"]["text"]
    assert recovered["text"].startswith("loop: recovered in run ") and "schedule:nightly" in recovered["text"]
    assert incidents == [(0,)]
    assert [s for _, s in outbox] == ["delivered"] * 4
    assert outbox[0][0] == outbox[1][0] == "tick:nightly:2026-03-02T02:00:00Z"
