"""The scheduler loop in-process, on a real DuckDB file, driven by a fake clock: `wait` moves
time forward instead of sleeping, so days pass in a second and nothing depends on the machine."""
from __future__ import annotations

import textwrap
import threading
from datetime import datetime, timedelta, timezone

import duckdb

from assetflow.schedule.scheduler import SchedulerOptions, TickOutcome, run_once, run_scheduler


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeClock:
    """Time that moves only when the loop waits; the loop is stopped once it passes `until`.
    `jumps` maps an instant to where time leaps when the loop first waits past it (a suspended
    machine: the heartbeat is days late)."""

    def __init__(self, start: datetime, until: datetime, jumps: dict[datetime, datetime] | None = None):
        self.current, self.until, self.jumps = start, until, dict(jumps or {})
        self.waits: list[float] = []

    def now(self) -> datetime:
        return self.current

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        self.current += timedelta(seconds=max(seconds, 0.001))
        for when, to in sorted(self.jumps.items()):
            if self.current >= when:
                self.current = max(self.current, to)
                del self.jumps[when]
        if self.current > self.until:
            stop.set()
        return stop.is_set()


def make_project(tmp_path, cron: str = "0 2 * * *", overlap: str = "skip"):
    root = tmp_path / "p"
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text(textwrap.dedent(f"""
        [project]
        name = "loop"

        [targets.dev]
        path = "warehouse.duckdb"
        threads = 1

        [schedules.nightly]
        cron = "{cron}"
        overlap = "{overlap}"
        """))
    (root / "assets" / "daily.sql").write_text(textwrap.dedent("""
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "2026-03-01"
        */
        select $start as day
        """))
    return root


def ticks_in(root) -> list[tuple[str, str]]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT strftime(tick, '%m-%d %H:%M'), status FROM _assetflow.schedule_ticks "
                           "ORDER BY tick").fetchall()
    finally:
        con.close()


def partitions_in(root) -> list[str]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return [str(r[0]) for r in con.execute("SELECT day FROM main.daily ORDER BY day").fetchall()]
    finally:
        con.close()


def test_the_loop_runs_each_tick_once_as_days_pass(tmp_path):
    root = make_project(tmp_path)
    clock = FakeClock(at("2026-03-02T01:59:58Z"), until=at("2026-03-04T02:00:30Z"))
    seen: list[TickOutcome] = []
    errors = []
    run_scheduler(root, threading.Event(), clock, on_tick=seen.append,
                  options=SchedulerOptions(beat_every=3600), on_error=errors.append)
    assert errors == []
    assert [(o.tick, o.status) for o in seen] == [(at(f"2026-03-0{d}T02:00Z"), "success") for d in (2, 3, 4)]
    assert [o.reason for o in seen] == ["built 1 partition"] * 3
    assert ticks_in(root) == [("03-02 02:00", "success"), ("03-03 02:00", "success"), ("03-04 02:00", "success")]
    assert partitions_in(root) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    # idle, it sleeps a whole beat period (or until the next tick), not in small steps
    assert max(clock.waits) == 3600


def test_a_late_heartbeat_never_stops_the_loop(tmp_path):
    """The machine sleeps for three days between two beats: the loop goes on, one run covers it."""
    root = make_project(tmp_path)
    clock = FakeClock(at("2026-03-02T01:59:00Z"), until=at("2026-03-06T03:00:00Z"),
                      jumps={at("2026-03-02T02:30:00Z"): at("2026-03-05T02:10:00Z")})
    seen: list[TickOutcome] = []
    run_scheduler(root, threading.Event(), clock, on_tick=seen.append, options=SchedulerOptions(beat_every=600))
    assert [(o.tick.strftime("%m-%d"), o.status) for o in seen] == [
        ("03-02", "success"), ("03-03", "missed"), ("03-04", "missed"), ("03-05", "success"), ("03-06", "success")]
    assert partitions_in(root) == [f"2026-03-0{d}" for d in range(1, 6)]


def test_stop_before_anything_is_due_returns_at_once(tmp_path):
    root = make_project(tmp_path)
    stop = threading.Event()
    stop.set()
    run_scheduler(root, stop, FakeClock(at("2026-03-02T01:00:00Z"), until=at("2026-03-03T00:00:00Z")))
    assert not (root / "warehouse.duckdb").exists()


def test_run_once_is_idempotent_at_one_instant(tmp_path):
    root = make_project(tmp_path, cron="0 * * * *")
    first = run_once(root, FakeClock(at("2026-03-02T05:00:00Z"), until=at("2026-03-02T05:00:00Z")))
    assert [(o.tick, o.status) for o in first] == [(at("2026-03-02T05:00Z"), "success")]
    assert run_once(root, FakeClock(at("2026-03-02T05:00:00Z"), until=at("2026-03-02T05:00:00Z"))) == []
    later = run_once(root, FakeClock(at("2026-03-02T08:30:00Z"), until=at("2026-03-02T08:30:00Z")))
    assert [(o.tick.hour, o.status) for o in later] == [(6, "missed"), (7, "missed"), (8, "success")]
    assert later[0].reason == "covered by the tick at 2026-03-02T08:00:00Z"
