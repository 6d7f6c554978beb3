"""The scheduler inside `assetflow serve` (unless --no-schedules), and what the schedules page
reads of it: the heartbeat and the recorded ticks, from the state store (schedule/scheduler.py
writes them)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from assetflow.engines import open_engine
from assetflow.errors import AssetflowError
from assetflow.ui.pages_schedules import Heartbeat

LATE = timedelta(minutes=2)      # a heartbeat older than this: the scheduler is not alive
TICKS_SHOWN = 50


def start_scheduler(root: Path, stop: threading.Event, on_error: Callable[[AssetflowError], None]) -> threading.Thread:
    from assetflow.schedule.scheduler import run_scheduler
    thread = threading.Thread(target=run_scheduler, args=(root, stop), kwargs={"on_error": on_error},
                              name="assetflow-scheduler", daemon=True)
    thread.start()
    return thread


def schedule_state(reads, running: bool) -> Callable[[], tuple[Heartbeat, list]]:
    """The page's reader: (heartbeat, newest ticks first) from the target's state store."""
    def read() -> tuple[Heartbeat, list]:
        try:
            with open_engine(reads.target(), read_only=True) as engine:
                store = engine.schedules() if engine is not None else None
                beat = store.heartbeat() if store is not None else None
                ticks = store.ticks(None, TICKS_SHOWN) if store is not None else []
        except AssetflowError as exc:
            return Heartbeat(None, f"the schedule state cannot be read now: {exc.message}"), []
        return _heartbeat(beat, running), list(ticks)
    return read


def _heartbeat(beat, running: bool) -> Heartbeat:
    where = "in this process" if running else "in no process here (serve --no-schedules)"
    if beat is None:
        return Heartbeat(None if not running else True, f"scheduler {where}; no heartbeat recorded yet")
    last = beat.last_beat if beat.last_beat.tzinfo else beat.last_beat.replace(tzinfo=timezone.utc)
    alive = datetime.now(timezone.utc) - last < LATE
    return Heartbeat(alive, f"scheduler pid {beat.pid} on {beat.host}, started {beat.started_at:%Y-%m-%d %H:%M:%S}"
                            f" UTC; {where}", beat.last_beat)
