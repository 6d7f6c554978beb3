"""`schedule list` and `runs` while a scheduled run holds the DuckDB file (SPEC sections 11, 14).

A real `schedule run --once` runs a tick whose Python asset waits for a file the test creates;
meanwhile `schedule list` and `runs` run in other processes. They answer from the snapshot the
run published (with the tick rows in it), say so, and show the running tick with its run. A
snapshot published before the scheduler ever ran (no schedule tables in it) answers too.
"""
from __future__ import annotations

import os

import duckdb

from helpers import Background

from conftest import write_project
from test_reads_while_held import DAYS, SLOW, ok, wait_until_entered

TOML = """
[project]
name = "t"

[targets.dev]
path = "warehouse.duckdb"
threads = 2

[schedules.nightly]
cron = "0 2 * * *"
select = "main.days main.slow"
"""


def test_schedule_list_and_runs_while_a_tick_holds_the_database(tmp_path):
    p = write_project(tmp_path / "p", {"assets/days.sql": DAYS, "assets/slow.py": SLOW}, TOML)
    os.mkfifo(p / "ready.fifo")
    ok(p, "materialize", "main.days", "--partition", "2024-01-01")   # a snapshot without schedule tables

    con = duckdb.connect(str(p / "warehouse.duckdb"))                 # someone else holds it
    try:
        before = ok(p, "schedule", "list", "--json", "--at", "2024-01-02T00:00Z").json()
        assert before["snapshot"]["held_by"]["pid"] == os.getpid()
        assert [(s["name"], s["last"]) for s in before["schedules"]] == [("nightly", None)]
        assert before["heartbeat"] is None
        text = ok(p, "schedule", "list", "--at", "2024-01-02T00:00Z").stdout
        assert text.startswith("Note: database held by ") and "last  (no tick yet)" in text
    finally:
        con.close()

    ok(p, "schedule", "run", "--once", "--at", "2024-01-02T01:00Z")     # first seen: nothing runs
    tick = Background(p, "schedule", "run", "--once", "--at", "2024-01-07T02:00:05Z", "--json", name="tick")
    try:
        wait_until_entered(p, tick)
        listed = ok(p, "schedule", "list", "--json", "--at", "2024-01-07T02:00:06Z").json()
        snap = listed["snapshot"]
        assert snap["held_by"]["pid"] == tick.pid and snap["progress"]["running"]
        last = listed["schedules"][0]["last"]
        assert (last["tick"], last["status"]) == ("2024-01-07T02:00:00Z", "started")
        assert last["run_id"] == snap["held_by"]["run_id"]
        assert listed["heartbeat"]["pid"] == tick.pid
        text = ok(p, "schedule", "list", "--at", "2024-01-07T02:00:06Z").stdout
        assert text.startswith("Note: database held by run ") and "plus its progress" in text
        assert "last  2024-01-07T02:00:00Z  started run " in text

        runs = {r["run_id"]: r for r in ok(p, "runs", "--json").json()["runs"]}
        held = runs[last["run_id"]]
        assert (held["status"], held["trigger"], held["tick"]) == ("running", "schedule:nightly",
                                                                   "2024-01-07T02:00:00Z")
        assert "[schedule:nightly tick 2024-01-07T02:00Z]" in ok(p, "runs").stdout
    finally:
        (p / "gate").touch()
    done = tick.wait()
    assert done.exit_code == 0, done.stderr
    ran = [t for t in done.json()["ticks"] if t["status"] == "success"]
    assert [t["tick"] for t in ran] == ["2024-01-07T02:00:00Z"]

    con = duckdb.connect(str(p / "warehouse.duckdb"))     # held again: the run's end snapshot answers
    try:
        last = ok(p, "schedule", "list", "--json", "--at", "2024-01-07T03:00Z").json()["schedules"][0]["last"]
        assert (last["status"], last["run_id"]) == ("success", ran[0]["run_id"])
    finally:
        con.close()
