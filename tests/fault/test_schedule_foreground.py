"""The real scheduler in the foreground on the real clock (the one slow test of SPEC 11): a
`* * * * *` schedule ticks once a minute, each tick one run, and SIGTERM stops it."""
from __future__ import annotations

import json
import signal
import textwrap
from datetime import datetime

import pytest

from conftest import query
from helpers import Background

TOML = """
[project]
name = "minutely"

[targets.dev]
path = "warehouse.duckdb"
threads = 1

[schedules.minutely]
cron = "* * * * *"
"""


def ticks_printed(bg: Background) -> list[dict]:
    bg._out.flush()
    return [json.loads(line) for line in bg.out_path.read_text().splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_one_tick_per_minute_then_sigterm(project):
    p = project({"assets/one.sql": "select 1 as x\n"}, textwrap.dedent(TOML))
    bg = Background(p, "schedule", "run", "--json", name="fg")
    bg.wait_for(lambda: len([t for t in ticks_printed(bg) if t["run_id"]]) >= 2, timeout=200,
                what="two ticks")
    bg.signal(signal.SIGTERM)
    done = bg.wait(timeout=120)
    assert done.exit_code == 128 + signal.SIGTERM, done.output
    assert "scheduler stopped" in done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    ran = [t for t in printed if t["run_id"]]
    instants = [datetime.fromisoformat(t["tick"].replace("Z", "+00:00")) for t in ran]
    assert len(instants) >= 2 and len(set(instants)) == len(instants)
    assert all(t.second == 0 for t in instants)
    assert all((b - a).total_seconds() == 60 for a, b in zip(instants, instants[1:])), instants
    assert {t["status"] for t in ran} == {"success"}
    assert [t["reason"] for t in ran][:2] == ["built 1 partition", "nothing was stale"]
    stored = query(p, "SELECT t.run_id, r.status FROM _assetflow.schedule_ticks t JOIN _assetflow.runs r "
                      "USING (run_id) ORDER BY tick")
    assert [s[0] for s in stored] == [t["run_id"] for t in ran] and {s[1] for s in stored} == {"success"}
    assert query(p, "SELECT pid FROM _assetflow.scheduler_heartbeat") == [(bg.pid,)]
