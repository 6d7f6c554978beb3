"""The scheduler killed (SIGKILL, by ASSETFLOW_FAULT) at each named crash point, then restarted:
every tick has exactly one row and at most one run, a started tick is finished from its run,
a decided tick that had no run yet runs, and nothing is built twice. Real processes throughout."""
from __future__ import annotations

import textwrap

import pytest

from conftest import query
from helpers import KILLED

TOML = """
[project]
name = "crash"

[targets.dev]
path = "warehouse.duckdb"
threads = 1

[schedules.nightly]
cron = "0 2 * * *"
"""
FILES = {
    "assets/daily.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "2026-03-01"
        */
        select $start as day
        """,
    "assets/total.sql": "select count(*) as days from main.daily\n",
}

# point -> (what the restart reports for the 03-03 tick, whether the killed process's run built it)
POINTS = {
    "tick_created": ("success", False),     # decided (pending), no run yet: the restart runs it
    "run_started": ("failed", False),       # its run began and died: finished as failed
    "run_ended": ("success", True),         # its run ended: the tick is finished from it
    "tick_finished": (None, True),          # all done: nothing left to report
}


def once(af, p, at: str, env: dict | None = None):
    return af(p, "schedule", "run", "--once", "--at", at, "--json", env=env)


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_at_a_crash_point_then_restart(af, project, point):
    p = project(FILES, textwrap.dedent(TOML))
    first = once(af, p, "2026-03-03T01:00:00Z")               # first seen: nothing due yet
    assert first.exit_code == 0 and first.json() == {"ticks": []}, first.output

    killed = once(af, p, "2026-03-03T02:00:05Z", env={"ASSETFLOW_FAULT": f"{point}:1"})
    assert killed.exit_code in KILLED, f"expected a SIGKILL at {point}\n{killed.output}"

    restart = once(af, p, "2026-03-03T02:00:06Z")
    assert restart.exit_code in (0, 1), restart.output
    status, ran_before = POINTS[point]
    reported = [(t["tick"], t["status"]) for t in restart.json()["ticks"]]
    assert reported == ([("2026-03-03T02:00:00Z", status)] if status else []), restart.output

    ticks = query(p, "SELECT strftime(tick, '%m-%d %H:%M'), status, run_id FROM _assetflow.schedule_ticks")
    assert len(ticks) == 1 and ticks[0][:2] == ("03-03 02:00", status or "success"), ticks
    runs = query(p, "SELECT run_id, status FROM _assetflow.runs")
    assert len(runs) == 1 and runs[0][0] == ticks[0][2], (runs, ticks)       # exactly one run, the tick's
    expected_run = {"tick_created": "success", "run_started": "abandoned"}.get(point, "success")
    assert runs[0][1] == expected_run, runs
    built = query(p, "SELECT asset, partition, count(*) FROM _assetflow.attempts WHERE status = 'success' "
                     "GROUP BY ALL ORDER BY ALL")
    if point == "run_started":            # killed before building: the next tick builds both days
        assert built == []
    else:
        assert built == [("main.daily", "2026-03-01", 1), ("main.daily", "2026-03-02", 1), ("main.total", None, 1)]
    assert ran_before == (point in ("run_ended", "tick_finished"))

    # the same instant again, and the next day: nothing twice, and what the dead run left is built
    assert once(af, p, "2026-03-03T02:00:07Z").json() == {"ticks": []}
    nxt = once(af, p, "2026-03-04T02:00:01Z")
    assert [(t["tick"], t["status"]) for t in nxt.json()["ticks"]] == [("2026-03-04T02:00:00Z", "success")]
    built = query(p, "SELECT partition, count(*) FROM _assetflow.attempts WHERE status = 'success' "
                     "AND asset = 'main.daily' GROUP BY ALL ORDER BY ALL")
    assert built == [("2026-03-01", 1), ("2026-03-02", 1), ("2026-03-03", 1)], built
    assert query(p, "SELECT days FROM main.total") == [(3,)]


def test_a_tick_whose_scheduler_was_killed_mid_run_alerts_on_restart(af, project, receiver):
    """Killed while the tick's run builds: the restart finishes the tick failed and alerts (a
    webhook gets the tick payload, committed with the row); the next tick's run resolves it."""
    alerts = '\n[alerts]\non_failure = [ { webhook = "${HOOK_URL}" } ]\n'
    p = project(FILES, textwrap.dedent(TOML) + alerts)
    env = {"HOOK_URL": receiver.url("/hook")}
    assert once(af, p, "2026-03-03T01:00:00Z", env).exit_code == 0
    killed = once(af, p, "2026-03-03T02:00:05Z", env={**env, "ASSETFLOW_FAULT": "run_started:1"})
    assert killed.exit_code in KILLED, killed.output
    assert receiver.received == []
    restart = once(af, p, "2026-03-03T02:00:06Z", env)
    (tick,) = restart.json()["ticks"]
    assert tick["status"] == "failed" and "(finished on restart)" in tick["reason"], restart.output
    (payload,) = receiver.bodies("/hook")
    assert (payload["run_id"], payload["trigger"], payload["tick"]) == (
        None, "schedule:nightly", {"schedule": "nightly", "tick": "2026-03-03T02:00:00Z", "reason": tick["reason"]})
    assert query(p, "SELECT asset FROM _assetflow.incidents") == [("schedule:nightly",)]
    after = once(af, p, "2026-03-04T02:00:05Z", env)
    assert [t["status"] for t in after.json()["ticks"]] == ["success"], after.output
    assert receiver.bodies("/hook")[1]["recovered"] == ["schedule:nightly"]
    assert query(p, "SELECT count(*) FROM _assetflow.incidents") == [(0,)]
