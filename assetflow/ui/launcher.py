"""Runs launched from the UI: one at a time, in a thread of the serve process, under the project's
run lock (taken by `api.materialize`). Progress comes from `api.RunEvents`; Cancel sets the run's
stop event (what is running finishes, nothing new starts); SIGTERM stops every launch the same way.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable

from assetflow import api
from assetflow.errors import AssetflowError, UsageError

QUEUED, RUNNING = "queued", "running"
# A launch waits this long for the database: a page's read (or serve's background one) holds it
# read-only for a moment, and DuckDB refuses a writer meanwhile, in this process as in another.
OPEN_WAIT = 10.0
_LOG_LINES = 500
_RESULTS = 2000


@dataclass(frozen=True, slots=True)
class Finished:
    """One partition (or batch) that finished in a launch."""

    asset: str
    partition: str | None
    status: str
    attempts: int
    rows: int | None
    error: str | None
    seconds: float
    ended_at: datetime


@dataclass
class Launch:
    """The live state of one launch; written by its thread, read by requests (under `lock`)."""

    launch_id: str
    command: str
    started_at: datetime
    status: str = QUEUED
    run_id: str | None = None
    total: int = 0
    running: dict = field(default_factory=dict)           # (asset, partition) -> started at
    done: deque = field(default_factory=lambda: deque(maxlen=_RESULTS))
    counts: dict = field(default_factory=dict)            # status -> partitions finished so
    logs: deque = field(default_factory=lambda: deque(maxlen=_LOG_LINES))
    error: str | None = None                              # why it could not run (e.g. the lock)
    ended_at: datetime | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False                               # a person clicked Cancel (SIGTERM only stops)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def finished(self) -> bool:
        return self.status not in (QUEUED, RUNNING)

    def snapshot(self) -> dict:
        """A JSON-ready copy for the run page's poll."""
        with self.lock:
            return {"launch_id": self.launch_id, "run_id": self.run_id, "status": self.status,
                    "command": self.command, "total": self.total, "finished": sum(self.counts.values()),
                    "counts": dict(self.counts), "error": self.error, "cancelling": self.stop.is_set(),
                    "running": [{"asset": a, "partition": p} for (a, p) in self.running],
                    "done": [_finished_json(f) for f in list(self.done)[-200:]],
                    "logs": list(self.logs)[-100:]}


def _finished_json(f: Finished) -> dict:
    return {"asset": f.asset, "partition": f.partition, "status": f.status, "attempts": f.attempts,
            "rows": f.rows, "error": f.error, "seconds": round(f.seconds, 3)}


class Busy(UsageError):
    """A launch is already running in this serve process."""


class Launcher:
    """Starts launches (one at a time), finds them by launch or run id, cancels and stops them."""

    def __init__(self, project: Callable[[], object], on_end: Callable[[], None] = lambda: None):
        self._project = project
        self._on_end = on_end
        self._lock = threading.Lock()
        self._launches: dict[str, Launch] = {}
        self._threads: list[threading.Thread] = []

    def launch(self, options: api.MaterializeOptions) -> Launch:
        with self._lock:
            current = next((x for x in self._launches.values() if not x.finished), None)
            if current is not None:
                raise Busy(f"a run launched here is still {current.status}: {current.command}",
                           hint=f"wait for it, or cancel it on /runs/{current.run_id or current.launch_id}")
            launch = Launch(f"ui-{os.urandom(4).hex()}", options.command, _now())
            self._launches[launch.launch_id] = launch
            options = replace(options, trigger="ui", wait=max(options.wait, OPEN_WAIT))
            thread = threading.Thread(target=self._run, args=(launch, options), name=launch.launch_id, daemon=True)
            self._threads.append(thread)
            launch.status = RUNNING
            thread.start()
        return launch

    def find(self, run_or_launch_id: str) -> Launch | None:
        with self._lock:
            if run_or_launch_id in self._launches:
                return self._launches[run_or_launch_id]
            return next((x for x in self._launches.values() if x.run_id == run_or_launch_id), None)

    def launches(self) -> list[Launch]:
        """Every launch of this process, newest first."""
        with self._lock:
            return sorted(self._launches.values(), key=lambda x: x.started_at, reverse=True)

    def cancel(self, run_or_launch_id: str) -> Launch | None:
        launch = self.find(run_or_launch_id)
        if launch is not None and not launch.finished:
            launch.cancelled = True            # (set before the stop: the run reads it once it stops)
            launch.stop.set()
        return launch

    def stop_all(self, timeout: float | None = None) -> None:
        """SIGTERM: set every stop event and wait for the threads (each gets its grace period)."""
        with self._lock:
            threads = list(self._threads)
            for launch in self._launches.values():
                launch.stop.set()
        for thread in threads:
            thread.join(timeout)

    def _run(self, launch: Launch, options: api.MaterializeOptions) -> None:
        events = api.RunEvents(stop=launch.stop, stopped_as=lambda: _stopped_as(launch),
                               on_plan=lambda p: _plan(launch, p), on_start=lambda s: _start(launch, s),
                               on_done=lambda r: _done(launch, r),
                               on_log=lambda line: _log(launch, line), on_run=lambda rid: _run_id(launch, rid))
        try:
            outcome = api.materialize(self._project(), options, events)
            status, run_id, error = outcome.status, outcome.run_id, None
        except AssetflowError as exc:
            status, run_id, error = "failed", launch.run_id, exc.render()
        except Exception as exc:          # noqa: BLE001 - the serve process must outlive a broken run
            status, run_id, error = "failed", launch.run_id, f"error: {type(exc).__name__}: {exc}"
        with launch.lock:
            launch.status, launch.run_id, launch.error, launch.ended_at = status, run_id, error, _now()
            launch.running.clear()
        self._on_end()


def _stopped_as(launch: Launch) -> str:
    """A person clicked Cancel: `cancelled`; SIGTERM to serve: `interrupted`."""
    return api.CANCELLED if launch.cancelled else api.INTERRUPTED


def _plan(launch: Launch, plan) -> None:
    with launch.lock:
        launch.total = sum(step.count for step in plan.steps)


def _start(launch: Launch, step) -> None:
    with launch.lock:
        for key in step.keys:
            launch.running[(step.asset, key)] = _now()


def _done(launch: Launch, result) -> None:
    with launch.lock:
        for part in result.per_partition():
            launch.running.pop((part.asset, part.partition), None)
            launch.done.append(Finished(part.asset, part.partition, part.status, part.attempts, part.rows,
                                        part.error, part.seconds, _now()))
            launch.counts[part.status] = launch.counts.get(part.status, 0) + 1


def _log(launch: Launch, line: str) -> None:
    with launch.lock:
        launch.logs.append(line)


def _run_id(launch: Launch, run_id: str) -> None:
    with launch.lock:
        launch.run_id = run_id


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
