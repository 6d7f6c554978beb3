"""The scheduler: decides ticks (decide.py), records them, and runs each due tick's build.

Two entry points, both driven by a `Clock` that is passed in (nothing here reads the wall clock):

- `run_once(root, clock=...)`: what `schedule run --once [--at]` does. It waits for the project
  to be free, decides every schedule's ticks up to now (the run holding the project when it was
  called is the holder a `skip` tick names), runs the due ones one after another and returns
  every tick it recorded.
- `run_scheduler(root, stop_event, clock=..., on_tick=...)`: the long-lived loop of `schedule
  run` and `assetflow serve`. Call it in the foreground or in a thread; set `stop_event` to stop
  it (the running build gets its grace period: the event is also the build's stop). It returns
  when stopped. A tick's build runs in a worker thread, so the loop keeps deciding (and beating)
  while it runs.

Durability (SPEC 11): the decision (cursors, `missed`/`skipped` rows, and the tick about to run
marked `pending`) commits in one transaction under the run lock, then the run lock stays held
while the tick's run row and `started` tick row commit together (api `tick=`), so a SIGKILL
anywhere leaves either a pending tick (run on restart) or a started one (finished from its run's
row on restart), never a second run. Crash points for tests (`ASSETFLOW_FAULT`): `tick_created`,
`run_started` (in the store), `run_ended`, `tick_finished`.

While another process holds the project the database cannot be opened; decisions are then kept
in memory (`_Session.unsaved`) and written as soon as it is free.
"""
from __future__ import annotations

import os
import socket
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Mapping

from assetflow import api
from assetflow.engines import open_engine, prepare_database_folder
from assetflow.errors import AssetflowError, LockError
from assetflow.project.config import Target, fault_injector
from assetflow.project.loader import Project
from assetflow.project.schedules import Overlap
from assetflow.run.lock import describe_holder, is_locked, run_lock
from assetflow.schedule.clock import Clock, SystemClock
from assetflow.schedule.decide import due, iso
from assetflow.schedule.failed_ticks import finish_started_tick, recover_ticks, save_failed_tick
from assetflow.schedule.tick_run import TickResult, reason_of, run_tick, selected
from assetflow.schedule.ticks import next_ticks
from assetflow.schedule_records import Heartbeat, ScheduleState, TickRecord, TickRef, TickStatus

COMMAND = "schedule run"


@dataclass(frozen=True, slots=True)
class TickOutcome:
    """A tick as `schedule run` reports it (SPEC 11 `--json`)."""

    schedule: str
    tick: datetime
    status: str
    run_id: str | None
    reason: str
    alert_problems: tuple[str, ...] = ()    # masked lines: alerts of this tick that did not arrive

    def as_json(self) -> dict:
        return {"schedule": self.schedule, "tick": iso(self.tick), "status": self.status,
                "run_id": self.run_id, "reason": self.reason}


@dataclass(frozen=True)
class SchedulerOptions:
    target: str | None = None          # whose state store keeps the ticks (default: the first target)
    grace: float = 30.0                # seconds a running build gets after a stop
    beat_every: float = 30.0           # the heartbeat's period (the loop wakes at least this often)
    lock_wait: float = 7 * 24 * 3600.0   # --once: how long to wait for a run holding the project
    environ: Mapping[str, str] | None = None


@dataclass
class _Session:
    """What one scheduler process knows between iterations (it is the only writer of cursors)."""

    started_at: datetime
    states: dict[str, ScheduleState] | None = None       # None until read from the store
    unsaved: list[tuple[str, TickRecord]] = field(default_factory=list)
    queued: dict[str, datetime] = field(default_factory=dict)    # decided to run, run not begun
    fault: Callable[[str], None] = field(default_factory=fault_injector)


OnTick = Callable[[TickOutcome], None]


# ------------------------------------------------------------------------------------ entry points

def run_once(root: Path, clock: Clock = SystemClock(), options: SchedulerOptions = SchedulerOptions(),
             on_tick: OnTick = lambda outcome: None,
             on_wait: Callable[[str], None] = lambda holder: None) -> list[TickOutcome]:
    """Handle what is due at `clock.now()` and return every tick recorded. Bad input (a broken
    schedule, a selection matching nothing) raises a ProjectError before anything is written.
    When another run holds the project, `on_wait(holder)` is called and it waits for it."""
    project = load(root, options)
    target = project.config.target(options.target)
    now = clock.now()
    holder = current_holder(target)
    session = _Session(now)
    found: list[TickOutcome] = []

    def report(outcome: TickOutcome) -> None:
        found.append(outcome)
        on_tick(outcome)
    prepare_database_folder(target, project.root)
    if holder is not None:
        on_wait(holder)
    with run_lock(target.path, COMMAND, options.lock_wait):
        with _store(target, session, now, first=True, project=project) as store:
            runs = _decide(session, project, store, now, holder, report)
            if holder is not None:          # it waited for the project: a waiting tick runs now
                runs += _decide(session, project, store, now, None, report)
        _run_batch(session, project, target, runs, threading.Event(), clock, options, report)
    return found


def run_scheduler(root: Path, stop_event: threading.Event, clock: Clock = SystemClock(),
                  on_tick: OnTick = lambda outcome: None, options: SchedulerOptions = SchedulerOptions(),
                  on_error: Callable[[AssetflowError], None] = lambda exc: None) -> None:
    """The scheduler loop, until `stop_event` is set (from a signal handler or another thread).
    Errors (a broken edit of the project, a database another program holds) go to `on_error`
    and the loop tries again; a late heartbeat or a failed tick never stops it."""
    session = _Session(clock.now())
    worker: threading.Thread | None = None
    project, broken = _reload(root, options, on_error)
    last_good = project
    while not stop_event.is_set():
        try:
            if project is not None:
                worker = _iteration(session, project, clock, worker, stop_event, on_tick, options, on_error)
            elif last_good is not None and broken is not None:
                # the ticks that come due while the project does not load fail, and alert
                worker = _iteration(session, last_good, clock, worker, stop_event, on_tick, options, on_error,
                                    broken=broken)
        except AssetflowError as exc:
            on_error(exc)
        except Exception as exc:           # never let one bad iteration end the scheduler
            on_error(AssetflowError(f"scheduler iteration failed: {type(exc).__name__}: {exc}"))
        flush_outbox(project or last_good, options, on_error)
        # read the project again now, so a tick starts the moment it is due (an edit is seen
        # within one pause: the next tick or beat)
        project, broken = _reload(root, options, on_error)
        last_good = project or last_good
        clock.wait(stop_event, _pause(session, project or last_good, clock.now(), worker, options))
    if worker is not None:
        worker.join()


def _reload(root: Path, options: SchedulerOptions, on_error: Callable[[AssetflowError], None]
            ) -> tuple[Project | None, AssetflowError | None]:
    """The project as it is now, or the error that stops it loading. A schedule whose selection
    errors does not stop the others: its own ticks fail (`tick_run.run_tick`)."""
    try:
        return api.load_project(root, options.environ), None
    except AssetflowError as exc:
        on_error(exc)
        return None, exc


def flush_outbox(project: Project | None, options: SchedulerOptions,
                 on_error: Callable[[AssetflowError], None]) -> None:
    """Once per loop iteration: send the alerts the outbox still holds (a receiver that was down,
    a 429). Never fatal: what did not arrive is reported and stays for the next iteration."""
    if project is None:
        return
    try:
        problems = api.flush_outbox(project, options.target)
    except AssetflowError as exc:
        on_error(exc)
        return
    for line in problems:
        on_error(AssetflowError(f"alert not delivered: {line}"))


def load(root: Path, options: SchedulerOptions) -> Project:
    """The project, with every enabled schedule's selection checked (bad input raises)."""
    project = api.load_project(root, options.environ)
    graph = api.graph_of(project)
    for spec in project.config.schedules:
        if spec.enabled:
            selected(project, graph, spec, options.target)
    return project


def current_holder(target: Target) -> str | None:
    """Who holds the project's run lock, as a tick's `skipped` reason names it; None when free."""
    if not is_locked(target.path):
        return None
    return f"{describe_holder(Path(target.path + '.lock'))} holds the project"


# ------------------------------------------------------------------------------------ one iteration

def _iteration(session: _Session, project: Project, clock: Clock, worker: threading.Thread | None,
               stop: threading.Event, on_tick: OnTick, options: SchedulerOptions,
               on_error: Callable[[AssetflowError], None], broken: AssetflowError | None = None
               ) -> threading.Thread | None:
    """Decide and record what is due now; start a worker for the ticks to run. Returns the
    worker that is running (ours), if any. `broken`: the project no longer loads (`project` is
    the last one that did): the due ticks are recorded failed with that error, and alert."""
    target = project.config.target(options.target)
    now = clock.now()
    if worker is not None and worker.is_alive():       # our own tick holds the project
        with _store(target, session, now, first=False) as store:
            _decide(session, project, store, now, current_holder(target), on_tick)
        return worker
    prepare_database_folder(target, project.root)
    lock = ExitStack()
    try:
        lock.enter_context(run_lock(target.path, COMMAND, 0))
    except LockError:
        if session.states is not None:      # decide in memory; written once the project is free
            _decide(session, project, None, now, current_holder(target), on_tick)
        return None
    try:
        with _store(target, session, now, first=session.states is None, project=project) as store:
            runs = _decide(session, project, store, now, None, on_tick)
    except BaseException:
        lock.close()
        raise
    if not runs:
        lock.close()
        return None
    if broken is not None:
        with lock:
            _run_batch(session, project, target, runs, stop, clock, options, on_tick, failed_with=broken)
        return None
    thread = threading.Thread(target=_worker, name="assetflow-tick", daemon=True,
                              args=(lock, session, project, target, runs, stop, clock, options, on_tick, on_error))
    thread.start()
    return thread


def _worker(lock: ExitStack, session, project, target, runs, stop, clock, options, on_tick, on_error) -> None:
    """Run a batch of due ticks holding the run lock the decision was made under. A tick whose
    recording failed stays `pending` or `started` in the store: the next start finishes it."""
    with lock:
        try:
            _run_batch(session, project, target, runs, stop, clock, options, on_tick)
        except Exception as exc:
            on_error(exc if isinstance(exc, AssetflowError) else
                     AssetflowError(f"a tick's run failed: {type(exc).__name__}: {exc}"))


def _decide(session: _Session, project: Project, store, now: datetime, holder: str | None,
            on_tick: OnTick) -> list[tuple[str, datetime]]:
    """Decide every schedule at `now` and save the decision with the heartbeat (or keep it in
    memory when `store` is None). Returns the ticks to run, in schedule order."""
    if session.states is None:
        session.states = store.states()
    records, runs = [], []
    for spec in project.config.schedules:
        decision = due(spec, session.states.get(spec.name), now, holder)
        session.states[spec.name] = decision.state
        records += [(spec.name, r) for r in decision.records]
        if decision.run is not None:
            runs.append((spec.name, decision.run))
            session.queued[spec.name] = decision.run
    session.unsaved += records
    if store is None:
        return []
    stored = {n: replace(s, pending=session.queued.get(n) or s.pending) for n, s in session.states.items()}
    store.save(stored, session.unsaved, now, Heartbeat(os.getpid(), socket.gethostname(), session.started_at, now))
    saved, session.unsaved = session.unsaved, []
    for name, record in saved:
        on_tick(TickOutcome(name, record.tick, record.status.value, None, record.reason))
    if runs:
        session.fault("tick_created")
    return runs


def _run_batch(session: _Session, project: Project, target: Target, runs: list[tuple[str, datetime]],
               stop: threading.Event, clock: Clock, options: SchedulerOptions, on_tick: OnTick,
               failed_with: AssetflowError | None = None) -> None:
    """Run the due ticks one after another (the caller holds the run lock). A tick not begun when
    `stop` is set stays pending in the store: the next start runs it. `failed_with`: the
    project does not load; every tick fails with that reason, without a run."""
    specs = {s.name: s for s in project.config.schedules}
    for name, tick in runs:
        if stop.is_set():
            break
        if failed_with is not None:
            result = TickResult(TickStatus.FAILED, None, f"the project did not load: {reason_of(failed_with)}",
                                started=False)
        else:
            result = run_tick(project, specs[name], tick, options.target, stop, options.grace)
        session.queued.pop(name, None)
        if result.started:
            session.fault("run_ended")
        with _store(target, session, clock.now(), first=False) as store:
            problems = _finish(store, session, project, name, tick, result, clock.now())
        if result.started:
            session.fault("tick_finished")
        on_tick(TickOutcome(name, tick, result.status.value, result.run_id, result.reason,
                            result.alert_problems + problems))


def _finish(store, session: _Session, project: Project, name: str, tick: datetime, result: TickResult,
            at: datetime) -> tuple[str, ...]:
    """Record how the tick ended (with the alerts it owes); the alerts that did not arrive."""
    if result.started:
        return finish_started_tick(store, project, TickRef(name, tick), result.status, result.reason,
                                   result.run_id, at)
    state = session.states.get(name) if session.states else None
    return save_failed_tick(store, project, name, replace(state, pending=None) if state is not None else None,
                     TickRecord(tick, result.status, result.reason), at)


@contextmanager
def _store(target: Target, session: _Session, now: datetime, first: bool, project: Project | None = None
           ) -> Iterator:
    """The target's schedule store, opened for writing (the caller holds the run lock, or our own
    tick's run does). On the first open the ticks a dead scheduler left `started` are finished,
    and those that failed alert (`project`'s [alerts], in the same transaction)."""
    with open_engine(target, read_only=False, fault=session.fault, wait=5.0) as engine:
        if first:
            engine.fold_runs()                  # creates the state store if it is new
            engine.mark_abandoned_runs(now.astimezone(timezone.utc).replace(tzinfo=None))
            for row in recover_ticks(engine.schedules(), project, now):
                session.unsaved.append((row.schedule, TickRecord(row.tick, TickStatus(row.status), row.reason)))
        yield engine.schedules()
        _publish(engine, target)


def _publish(engine, target: Target) -> None:
    """Let readers see what the scheduler wrote (a tick finished after its run's end snapshot, a
    missed or skipped tick) while a later run holds the database: publish the state tables again
    when they changed since the published snapshot (`engines/duckdb_snapshot`)."""
    if target.path == ":memory:" or not hasattr(engine, "publish_snapshot"):
        return
    try:
        engine.publish_snapshot(target.path, "", 0, unless_current=True)
    except Exception:          # (disk full, permissions): readers see an older snapshot, never an error
        pass


def _pause(session: _Session, project: Project | None, now: datetime, worker: threading.Thread | None,
           options: SchedulerOptions) -> float:
    """Seconds until the loop should look again: the next tick, the next beat, or soon when
    something waits for the project (a tick pending on `wait`, decisions not yet written)."""
    pause = options.beat_every
    if project is not None:
        for spec in project.config.schedules:
            if spec.enabled:
                upcoming = next_ticks(spec, now, 1)
                if upcoming:
                    pause = min(pause, (upcoming[0] - now).total_seconds())
    waiting = session.unsaved or (worker is not None and worker.is_alive()) or any(
        s.pending is not None for s in (session.states or {}).values())
    if waiting and project is not None and any(s.overlap is Overlap.WAIT for s in project.config.schedules):
        pause = min(pause, 0.5)
    elif waiting:
        pause = min(pause, 1.0)
    return max(pause, 0.0)
