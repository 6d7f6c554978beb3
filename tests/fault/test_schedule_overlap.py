"""Overlap with a real concurrent process (SPEC 11): a `materialize` holds the project while a
tick comes due. `overlap = "skip"` records the tick `skipped`, naming the holder; `"wait"` runs
the tick once the holder is done. Either way the scheduler first says it is waiting."""
from __future__ import annotations

import textwrap

import pytest

from conftest import query
from helpers import Background

GATE_PY = """
    import time
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    ROOT = Path(__file__).resolve().parents[1]


    @asset
    def gate():
        (ROOT / "entered").write_text("in")
        deadline = time.time() + 90
        while not (ROOT / "release").exists() and time.time() < deadline:
            time.sleep(0.02)
        return pa.table({"ok": [1]})
    """

TOML = """
[project]
name = "overlap"

[targets.dev]
path = "warehouse.duckdb"
threads = 1

[schedules.nightly]
cron = "0 2 * * *"
select = "main.daily"
overlap = "{overlap}"
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


@pytest.mark.parametrize("overlap", ["skip", "wait"])
def test_a_tick_while_another_process_holds_the_project(af, project, overlap):
    p = project({"assets/gate.py": textwrap.dedent(GATE_PY), "assets/daily.sql": DAILY},
                textwrap.dedent(TOML.format(overlap=overlap)))
    first = af(p, "schedule", "run", "--once", "--at", "2026-03-03T01:00:00Z", "--json")
    assert first.exit_code == 0 and first.json() == {"ticks": []}, first.output

    holder = Background(p, "materialize", "main.gate", name="holder")
    holder.wait_for(lambda: (p / "entered").exists(), what="the gate asset to hold the project")
    tick = Background(p, "schedule", "run", "--once", "--at", "2026-03-03T02:00:05Z", "--json", name="tick")
    tick.wait_for(lambda: "waiting for the project" in tick.stderr(), what="the scheduler to see the holder")
    assert f"pid {holder.pid}" in tick.stderr(), tick.stderr()
    (p / "release").write_text("go")
    assert holder.wait().exit_code == 0
    done = tick.wait()
    assert done.exit_code == 0, done.output
    (row,) = done.json()["ticks"]
    assert row["tick"] == "2026-03-03T02:00:00Z"
    stored = query(p, "SELECT status, run_id, reason FROM _assetflow.schedule_ticks")
    runs = query(p, "SELECT command FROM _assetflow.runs ORDER BY started_at")
    if overlap == "skip":
        assert (row["status"], row["run_id"]) == ("skipped", None), row
        assert f"pid {holder.pid}" in row["reason"] and "materialize main.gate" in row["reason"], row
        assert stored == [("skipped", None, row["reason"])]
        assert [c for c in runs] == [("materialize main.gate",)]       # the tick made no run
        assert query(p, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'daily'") == [(0,)]
    else:
        assert row["status"] == "success" and row["run_id"], row
        assert stored == [("success", row["run_id"], row["reason"])]
        assert query(p, "SELECT strftime(day, '%m-%d') FROM main.daily ORDER BY day") == [("03-01",), ("03-02",)]
