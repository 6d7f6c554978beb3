"""Looking at a target while another process holds its DuckDB file (SPEC section 14, last bullet).

DuckDB lets no other process open a file that one process writes, not even read-only. A real
`assetflow materialize` is started in a subprocess; its Python asset tells the test it has started
(through a FIFO, once the six partitions it reads have committed) and then waits for a file the
test creates. Meanwhile `status`, `runs`, `runs show` and `materialize --dry-run` run in other
processes: they exit 0, say that they show a snapshot plus the run's progress, and count right.
"""
from __future__ import annotations

import json
import os
import signal
import threading

import duckdb
import pytest

from helpers import Background

from conftest import run_cli, write_project


DAYS = """
/* assetflow
kind = "partitioned"
partition_by = "day"
time_column = "day"
start = "2024-01-01"
end = "2024-01-06"
*/
select d::date as day, 1 as n from range(date '2024-01-01', date '2024-01-07', interval 1 day) t(d)
where d >= $start and d < $end
"""

SLOW = '''
import time
from pathlib import Path

import pyarrow as pa
from assetflow import asset


@asset
def slow(days: pa.Table) -> pa.Table:
    """Tells the test it runs (every partition of `days` has committed), then waits for `gate`."""
    here = Path(__file__).resolve().parents[1]
    with open(here / "ready.fifo", "w") as f:      # blocks until the test reads it
        f.write("entered\\n")
    while not (here / "gate").exists():
        time.sleep(0.01)
    return pa.table({"total": [len(days)]})
'''


@pytest.fixture
def slow_project(tmp_path):
    p = write_project(tmp_path / "p", {"assets/days.sql": DAYS, "assets/slow.py": SLOW})
    os.mkfifo(p / "ready.fifo")
    return p


def wait_until_entered(p, run: Background, timeout: float = 120) -> None:
    """Block until the slow asset writes to the FIFO (a reader thread, so a dead run cannot hang us)."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append((p / "ready.fifo").read_text()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert got == ["entered\n"], f"the slow asset never started:\n{run.stderr()}"


def ok(p, *args: str):
    result = run_cli(p, *args)
    assert result.exit_code == 0, result.output
    assert "in use" not in result.output
    return result


def test_reads_while_a_run_holds_the_database(slow_project):
    p = slow_project
    ok(p, "materialize", "main.days", "--partition", "2024-01-01")    # publishes a snapshot as it ends
    run = Background(p, "materialize", name="slow")
    try:
        wait_until_entered(p, run)
        notice = "showing state as of"

        text = ok(p, "status").stdout
        assert text.startswith("Note: database held by run ")
        assert f"(pid {run.pid})" in text and notice in text
        assert "plus its progress: 5 of 6 partitions done, 1 running" in text

        data = ok(p, "status", "--json").json()
        assets = {a["name"]: a["partitions"] for a in data["assets"]}
        assert assets["main.days"]["fresh"] == 6 and assets["main.slow"]["stale"] == 1   # 1 + 5 journaled
        snap = data["snapshot"]
        assert snap["held_by"]["pid"] == run.pid and snap["as_of"].endswith("Z")
        # the first run's snapshot was current: the held run did not copy the state again
        assert snap["as_of"] < snap["held_by"]["since"]
        assert snap["progress"] == {"run_id": snap["held_by"]["run_id"], "running": True, "planned": 6, "done": 5,
                                    "failed": 0, "skipped": 0, "in_progress": 1, "ended": None}
        run_id = snap["held_by"]["run_id"]

        runs = ok(p, "runs", "--json").json()
        assert runs["snapshot"]["progress"]["done"] == 5
        assert [(r["run_id"], r["status"]) for r in runs["runs"]][0] == (run_id, "running")
        assert [r["status"] for r in runs["runs"]] == ["running", "success"]
        assert notice in ok(p, "runs").stdout

        shown = ok(p, "runs", "show", run_id[:-2], "--json").json()
        assert shown["run"]["status"] == "running" and shown["snapshot"]["progress"]["running"]
        assert sorted((a["asset"], a["partition"], a["status"]) for a in shown["attempts"]) == [
            ("main.days", f"2024-01-0{d}", "success") for d in range(2, 7)]
        assert notice in ok(p, "runs", "show", run_id).stdout

        planned = ok(p, "materialize", "--dry-run", "--json").json()
        assert [(r["asset"], r["partition"]) for r in planned["results"]] == [("main.slow", None)]
        assert planned["snapshot"]["progress"]["planned"] == 6
        assert notice in ok(p, "materialize", "--dry-run").stdout
    finally:
        (p / "gate").touch()
    assert run.wait().exit_code == 0
    # the snapshot published at the end holds the whole run: its journal was cut to the header and the end
    lines = [json.loads(line) for line in (p / "warehouse.duckdb.journal").read_text().splitlines()]
    assert [(line["event"], line.get("run_id"), line.get("status")) for line in lines] == [
        ("run", run_id, None), ("end", None, "success")]
    assert lines[1]["seq"] > 7               # numbered as written: the six attempts and more came between

    after = ok(p, "status", "--json").json()
    assert after["snapshot"] is None
    assert all(a["partitions"]["fresh"] == a["partitions"]["total"] for a in after["assets"])
    runs = ok(p, "runs", "--json").json()
    assert runs["snapshot"] is None and runs["runs"][0]["status"] == "success"
    assert "Note:" not in ok(p, "status").stdout

    # and while another process holds it now, the snapshot the run published at its end answers
    con = duckdb.connect(str(p / "warehouse.duckdb"))
    try:
        held = ok(p, "status", "--json").json()
        assert held["snapshot"]["progress"]["running"] is False
        assert all(a["partitions"]["fresh"] == a["partitions"]["total"] for a in held["assets"])
        assert ok(p, "runs", "--json").json()["runs"][0]["status"] == "success"
    finally:
        con.close()


def test_a_killed_runs_journal_does_not_mislead(slow_project):
    p = slow_project
    run = Background(p, "materialize", name="doomed")
    wait_until_entered(p, run)
    run.signal(signal.SIGKILL)
    run.wait()
    assert (p / "warehouse.duckdb.journal").exists()          # left behind by the dead run

    # The database can be opened again: the answer comes from it, and the run is not running.
    runs = ok(p, "runs", "--json").json()
    assert runs["snapshot"] is None and runs["runs"][0]["status"] == "abandoned"

    # Now another process (a notebook, here this test) holds the database: the snapshot and the
    # dead run's journal answer, its committed partitions count, and nothing says it is running.
    con = duckdb.connect(str(p / "warehouse.duckdb"))
    try:
        data = ok(p, "status", "--json").json()
        snap = data["snapshot"]
        assert snap["held_by"] == {"pid": os.getpid(), "run_id": None, "command": None, "since": None}
        assert snap["progress"]["running"] is False
        assert {a["name"]: a["partitions"]["fresh"] for a in data["assets"]} == {"main.days": 6, "main.slow": 0}
        text = ok(p, "status").stdout
        assert "is not running" in text and "progress:" not in text
        held = ok(p, "runs", "--json").json()
        assert held["runs"][0]["status"] == "abandoned" and held["snapshot"] is not None
    finally:
        con.close()


def test_a_database_held_before_any_run_answers_empty(tmp_path):
    """No snapshot yet (the database was made by someone else): nothing is built, and it says so."""
    p = write_project(tmp_path / "p", {"assets/days.sql": DAYS})
    con = duckdb.connect(str(p / "warehouse.duckdb"))
    try:
        data = ok(p, "status", "--json").json()
        assert data["assets"][0]["partitions"]["stale"] == 6
        assert data["snapshot"]["as_of"] is None
        assert "an empty state (no snapshot was published before)" in ok(p, "status").stdout
        assert ok(p, "runs", "--json").json()["runs"] == []
    finally:
        con.close()
