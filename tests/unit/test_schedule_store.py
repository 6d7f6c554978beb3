"""The scheduler's tables in a real DuckDB state file (engines/duckdb_schedule_state), through
the engine's `schedules()`: one row per tick under its key, the run row with it, recovery."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assetflow.engines.duckdb import open_duckdb
from assetflow.schedule_records import Heartbeat, ScheduleState, TickRecord, TickRef, TickStatus, TickTaken
from assetflow.state import RunRecord

T = datetime(2026, 3, 5, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(tmp_path):
    e = open_duckdb(str(tmp_path / "w.duckdb"))
    e.fold_runs()
    yield e
    e.close()


def run_record(run_id: str, status: str = "running") -> RunRecord:
    return RunRecord(run_id, "schedule run (nightly)", T.replace(tzinfo=None), status, pid=1, target="dev")


def test_a_tick_has_one_row_and_its_run_row_is_written_with_it(engine):
    store = engine.schedules()
    store.save({"nightly": ScheduleState("h", True, T, T, pending=T)}, [], T)
    store.start_tick(run_record("r1"), TickRef("nightly", T))
    assert [r.run_id for r in engine.list_runs(10)] == ["r1"]
    assert store.states()["nightly"].pending is None          # the start clears the pending mark
    with pytest.raises(TickTaken, match="already recorded"):
        store.start_tick(run_record("r2"), TickRef("nightly", T))
    assert [r.run_id for r in engine.list_runs(10)] == ["r1"]   # nothing of the second start was written
    (row,) = store.ticks()
    assert (row.schedule, row.tick, row.status, row.run_id) == ("nightly", T, "started", "r1")
    assert store.ticks_of_runs(["r1", "r9"])["r1"].tick == T


def test_records_never_overwrite_a_tick_and_pending_never_names_a_recorded_one(engine):
    store = engine.schedules()
    store.start_tick(run_record("r1"), TickRef("nightly", T))
    store.save({"nightly": ScheduleState("h", True, T, T, pending=T)},
               [("nightly", TickRecord(T, TickStatus.SKIPPED, "someone holds the project")),
                ("nightly", TickRecord(T - timedelta(days=1), TickStatus.MISSED, "covered", T))], T)
    assert store.states()["nightly"].pending is None
    assert [(r.tick, r.status, r.covered_by) for r in store.ticks()] == [
        (T, "started", None), (T - timedelta(days=1), "missed", T)]
    assert store.last_ticks()["nightly"].status == "started"


def test_recovery_finishes_started_ticks_from_their_runs(engine):
    store = engine.schedules()
    later = T + timedelta(hours=1)
    store.start_tick(run_record("done"), TickRef("a", T))
    engine.record_run(run_record("done", "success"))
    store.start_tick(run_record("died"), TickRef("b", T))
    engine.mark_abandoned_runs(later.replace(tzinfo=None))       # what a restart does under the lock
    recovered = {r.schedule: (r.status, r.reason) for r in store.recover(later)}
    assert recovered == {"a": ("success", "run done success (finished on restart)"),
                         "b": ("failed", "run died abandoned (finished on restart)")}
    assert {r.schedule: r.status for r in store.ticks()} == {"a": "success", "b": "failed"}
    assert store.recover(later) == []


def test_heartbeat_is_one_row(engine):
    store = engine.schedules()
    assert store.heartbeat() is None
    for n in range(3):
        store.save({}, [], T, Heartbeat(7, "host", T, T + timedelta(seconds=n)))
    assert store.heartbeat() == Heartbeat(7, "host", T, T + timedelta(seconds=2))


def test_a_store_without_scheduler_tables_reads_empty(tmp_path):
    e = open_duckdb(str(tmp_path / "x.duckdb"))
    try:
        store = e.schedules()
        assert (store.states(), store.ticks(), store.last_ticks(), store.heartbeat(), store.recover(T)) == \
            ({}, [], {}, None, [])
    finally:
        e.close()
