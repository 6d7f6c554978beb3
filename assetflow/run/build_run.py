"""One materialize run on a database it holds: its options and outcome, its id, its first row,
the execution of its plan, and its end recorded with the alerts it owes.

`api.materialize` decides whether there is anything to run (selection, lock, assessment); this
module runs it. The values it takes and returns are the use case's (`api` re-exports them).
"""
from __future__ import annotations

import contextlib
import itertools
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from assetflow.errors import Interrupted
from assetflow.plan.planner import Plan, Step
from assetflow.project.config import Target
from assetflow.project.loader import Project
from assetflow.run import run_inputs
from assetflow.run.reads import SnapshotNotice
from assetflow.state import FAILED, SUCCESS, RunRecord
from assetflow.timezones import utc_now

if TYPE_CHECKING:
    from assetflow.plan.graph import AssetGraph
    from assetflow.run.assess import Assessment
    from assetflow.run.executor import StepResult
    from assetflow.schedule_records import TickRef

CANCELLED = "cancelled"
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class MaterializeOptions:
    selection: tuple[str, ...] = ()
    partition: str | None = None
    from_key: str | None = None
    to_key: str | None = None
    full_refresh: bool = False
    threads: int | None = None
    dry_run: bool = False
    target: str | None = None
    wait: float = 0.0
    command: str = "materialize"
    ranges: dict[str, range] | None = None          # precomputed (backfill)
    refresh: frozenset[str] | None = None           # assets to rebuild anyway (backfill)
    grace: float = 30.0                             # seconds in-flight steps get after a stop request
    names: frozenset[str] | None = None             # resolved selection (overrides `selection`)
    trigger: str = "manual"                         # what started the run: manual | schedule:NAME
    exclude: tuple[str, ...] = ()                   # --exclude: a selection removed from `selection`
    now: datetime | None = None                     # plan as if now were this instant (a tick); None: the clock
    tick: TickRef | None = None                     # the scheduled tick this run is (its row is written with the run's)
    locked: bool = False                            # the caller holds the run lock already (the scheduler)
    backfill: Any = None                            # run.backfills.BackfillKey: a resumable backfill


@dataclass(frozen=True)
class RunOutcome:
    run_id: str | None
    status: str                       # success | failed | cancelled | planned (dry run)
    plan: Plan
    results: tuple[StepResult, ...] = ()
    database: str = ""
    alert_problems: tuple[str, ...] = ()
    checks: tuple = ()                # CheckOutcomes that did not pass (warnings and custom failures)
    snapshot: SnapshotNotice | None = None   # a dry run while a writer held the database: planned from a snapshot


@dataclass(frozen=True)
class RunEvents:
    stop: threading.Event | None = None        # set it (e.g. on SIGTERM) to stop starting new steps
    stopped_as: Callable[[], str] = lambda: INTERRUPTED    # a stopped run's status (the UI's Cancel: cancelled)
    on_plan: Callable[[Plan], None] = lambda p: None
    on_start: Callable[[Step], None] = lambda s: None
    on_done: Callable[[StepResult], None] = lambda r: None
    on_log: Callable[[str], None] = lambda line: None      # a line a Python asset logged (context.log)
    on_run: Callable[[str], None] = lambda run_id: None    # the run is recorded under this id


def record_noop(engine, target: Target, options: MaterializeOptions, the_plan: Plan, now: datetime,
                 resumed=None) -> RunOutcome:
    """A run with nothing to do is still recorded (cron ran at 3 AM and found everything fresh).
    Its one row is left in the write-ahead log: checkpointing a catalog of a thousand tables on
    close would cost more than the rest of the run, and the next writer checkpoints anyway."""
    run_id = new_run_id(now)
    engine.mark_abandoned_runs(now)
    record_start(engine, RunRecord(run_id, options.command, now, SUCCESS, run_clock(options, now)(), os.getpid(),
                                   target.name),
                  options, folded=True)
    if resumed is not None:              # before any attempt commits: a kill loses nothing of it
        from assetflow.run.backfills import attach
        attach(engine, resumed, run_id, now)
    engine.skip_checkpoint_on_close()
    return RunOutcome(run_id, SUCCESS, the_plan, (), target.path)


def record_start(engine, record: RunRecord, options: MaterializeOptions, folded: bool = False) -> None:
    """The run's first row; a scheduled run's tick row goes in the same transaction (a tick that
    has a row already raises TickTaken before anything is built)."""
    if options.tick is None:
        engine.record_run(record, folded=folded)
    else:
        engine.schedules().start_tick(record, options.tick)


def run_clock(options: MaterializeOptions, now: datetime) -> Callable[[], datetime]:
    """When the run's rows say it ended. A tick run with `--at` starts at the simulated instant,
    so it ends that instant plus the real time it took: `runs` never shows a run that ended
    before it started (started 2024-03-28, ended today)."""
    if options.now is None:
        return utc_now
    offset = now - utc_now()
    return lambda: utc_now() + offset


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{os.urandom(3).hex()}"


def build(project, graph, engine, found: Assessment, target: Target, options: MaterializeOptions,
         events: RunEvents, resumed=None) -> RunOutcome:
    from assetflow.run.executor import Landing, execute
    from assetflow.run.journal import RunJournal
    from assetflow.run.steps import StepRunner, fully_rebuilt, input_versions
    the_plan, request, now = found.plan, found.request, found.now
    run_id = new_run_id(now)
    engine.use_session(project.config.vars.statements())
    engine.prepare({a.key.schema for a in graph.assets.values()},
                   run_inputs.file_source_views(project, graph, request.missing_sources))
    counter = itertools.count(max([found.stored.newest, *request.source_versions.values()]) + 1)
    journal = RunJournal(engine, target.path)      # what readers see while this run holds the database
    on_start, on_done = journal.events(events.on_start, events.on_done)
    cancelled = threading.Event()
    ended_at = run_clock(options, now)
    runner = StepRunner(project, graph, journal.engine, run_id, now, lambda: next(counter),
                        input_versions(graph, engine, the_plan, found.keys),
                        fully_rebuilt(the_plan, graph, now), cancelled, dict(request.source_versions),
                        frozenset(step.asset for step in the_plan.steps), on_log=events.on_log)
    runner.preflight(the_plan)           # Spark: every query analyzed before anything runs
    engine.record_sources(found.new_source_versions())
    engine.mark_abandoned_runs(now)      # we hold the lock: any run still "running" has died
    record = RunRecord(run_id, options.command, now, pid=os.getpid(), target=target.name)
    record_start(engine, record, options)
    if resumed is not None:              # before any attempt commits: a kill loses nothing of it
        from assetflow.run.backfills import attach
        attach(engine, resumed, run_id, now)
    journal.start(record, sum(step.count for step in the_plan.steps), found.new_source_versions())
    events.on_run(run_id)
    stop = events.stop or threading.Event()
    try:
        results = execute(the_plan, runner, threads=options.threads or target.threads,
                          retry_policy=lambda name: run_inputs.retry_policy(project, graph, name),
                          on_start=on_start, on_done=on_done, stop=stop,
                          on_abort=lambda: (cancelled.set(), engine.interrupt()), grace=options.grace,
                          landing=Landing(runner.lands_whole, runner.land))
    except (KeyboardInterrupt, Interrupted):
        cancelled.set()
        with contextlib.suppress(Exception):
            engine.discard_rebuilds()    # (if this fails too, the next run drops them)
        engine.record_run(RunRecord(run_id, options.command, now, CANCELLED, ended_at(), os.getpid(), target.name))
        engine.fold_runs()           # (if this fails too, the next run folds it)
        journal.finish(CANCELLED)
        raise
    engine.discard_rebuilds()        # rebuilds none of whose partitions succeeded
    engine.fold_runs()
    runner.compile_cache.save()
    runner.run_deferred_checks()     # checks that compare with another asset this run built
    results = [part for r in results for part in r.per_partition()]
    failed = [r for r in results if r.status == FAILED]
    checks = runner.check_notes + run_inputs.custom_checks(project, graph, engine, run_id, results)
    check_failed = any(not c.result.passed and c.result.severity == "error" for c in checks)
    final = FAILED if failed or the_plan.blocked or check_failed else SUCCESS
    if stop.is_set():
        final = events.stopped_as()   # SIGTERM, or the UI's Cancel: nothing new started; what ran has committed
    record = RunRecord(run_id, options.command, now, final, ended_at(), os.getpid(), target.name)
    problems = _end_run(project, engine, record, options, results, the_plan, checks)
    journal.finish(final)
    return RunOutcome(run_id, final, the_plan, tuple(results), target.path, problems, tuple(checks))


def _end_run(project: Project, engine, record: RunRecord, options: MaterializeOptions, results, the_plan: Plan,
             checks) -> tuple[str, ...]:
    """Record the run's end; with alerts, in one transaction with the notifications it owes
    (failed, blocked or failed error checks; recoveries), which are then sent within the alert
    budget. Returns a masked line per alert that did not arrive; never changes the outcome."""
    if not project.config.alerts.on_failure:
        engine.record_run(record)
        return ()
    from assetflow import alerts
    from assetflow.alerts.dispatch import end_run
    summary = None
    if record.status == FAILED:
        summary = alerts.summarize(project.config.name, record.run_id, options.trigger, results, the_plan.blocked,
                                   checks, options.command)
    examined = {r.asset for r in results if r.status != "skipped"} | {b.asset for b in the_plan.blocked}
    return end_run(engine.outbox(), project.config.alerts, project.config.masks, record, summary, examined,
                   project.config.name, options.trigger, utc_now())
