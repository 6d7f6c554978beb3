"""`assetflow schedule run|list|preview`: the scheduler in the foreground, and what it will do."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import click

from assetflow.cli.common import CONTEXT, common_options, emit, examples, load, project_root
from assetflow.cli.masks import mask, warn
from assetflow.cli.snapshot_notice import snapshot_json, snapshot_text
from assetflow.errors import EXIT_TERMINATED, UsageError

TARGET_HELP = "Target whose state store keeps the ticks (default: the first)."
AT_HELP = "An ISO 8601 instant that stands for now (e.g. 2026-03-01T02:00Z; no offset means UTC)."


@click.group(name="schedule", context_settings=CONTEXT, epilog=examples(
    "assetflow schedule run", "assetflow schedule run --once --at 2026-03-01T02:00Z --json",
    "assetflow schedule list", "assetflow schedule preview nightly"))
def schedule() -> None:
    """Run the scheduler ([schedules.NAME] in assetflow.toml), list schedules, preview a tick."""


def parse_at(text: str | None) -> datetime | None:
    """`--at`: ISO 8601, with an offset or Z (without one it is UTC)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--at '{text}' is not an ISO 8601 date and time",
                         hint="write e.g. --at 2026-03-01T02:00Z or --at 2026-03-01T03:00+01:00") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@schedule.command(name="run", context_settings=CONTEXT, epilog=examples(
    "assetflow schedule run", "assetflow schedule run --once",
    "assetflow schedule run --once --at 2026-03-01T02:00Z --json"))
@click.option("--once", is_flag=True, help="Handle what is due now (or at --at) and exit.")
@click.option("--at", "at_text", metavar="ISO", help=AT_HELP + " Only with --once.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--target", help=TARGET_HELP)
@click.option("--grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds a running build gets to finish after SIGTERM.")
@common_options()
@click.pass_context
def run_command(ctx, once: bool, at_text: str | None, as_json: bool, target: str | None, grace: float) -> None:
    """Run the scheduler in the foreground (SIGTERM stops it), or once with --once."""
    from assetflow.schedule.clock import FrozenClock, SystemClock
    from assetflow.schedule.scheduler import SchedulerOptions, load as load_checked, run_once
    at = parse_at(at_text)
    if at is not None and not once:
        raise UsageError("--at goes with --once", hint="assetflow schedule run --once --at 2026-03-01T02:00Z")
    load(ctx)                                # masks; and bad input is exit 2 before anything runs
    root = project_root(ctx)
    options = SchedulerOptions(target=target, grace=grace)
    project = load_checked(root, options)
    if not project.config.schedules:
        raise UsageError("assetflow.toml has no schedules", path="assetflow.toml",
                         hint='add one:\n[schedules.nightly]\ncron = "0 2 * * *"')
    if once:
        outcomes = run_once(root, FrozenClock(at) if at else SystemClock(), options,
                            on_tick=(lambda o: warn(o.alert_problems)) if as_json else _print_tick,
                            on_wait=lambda holder: click.echo(mask(f"waiting for the project: {holder}"), err=True))
        if as_json:
            emit(_to_json({"ticks": [o.as_json() for o in outcomes]}))
        elif not outcomes:
            click.echo(_nothing_due(project, at or datetime.now(timezone.utc)), err=True)
        if any(o.status == "failed" for o in outcomes):
            sys.exit(1)
        return
    _foreground(root, options, as_json)


def _foreground(root, options, as_json: bool) -> None:
    from assetflow.schedule.clock import SystemClock
    from assetflow.schedule.scheduler import run_scheduler
    stop = threading.Event()
    stopped_by = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: (stopped_by.append(number), stop.set()))
    click.echo(f"scheduler started (pid {os.getpid()}); SIGTERM stops it", err=True)
    show = (lambda o: (emit(_to_json(o.as_json())), warn(o.alert_problems))) if as_json else _print_tick
    run_scheduler(root, stop, SystemClock(), on_tick=show, options=options, on_error=_error_printer())
    click.echo("scheduler stopped", err=True)
    if signal.SIGTERM in stopped_by:
        sys.exit(EXIT_TERMINATED)


REPEAT_ERROR_AFTER = 600.0      # seconds before the loop prints the same error again


def _error_printer(clock=time.monotonic):
    """The loop retries a broken project every few seconds: print each error when it first
    appears, and the same one again only every REPEAT_ERROR_AFTER seconds while it lasts (a log
    that says it once, not a journal full of it)."""
    printed: dict[str, float] = {}

    def show(exc) -> None:
        text, now = mask(exc.render()), clock()
        if now - printed.get(text, -REPEAT_ERROR_AFTER) >= REPEAT_ERROR_AFTER:
            printed.clear()                  # (another error came between: a later repeat is news)
            printed[text] = now
            click.echo(text, err=True)
    return show


def _print_tick(outcome) -> None:
    run = f"  run {outcome.run_id}" if outcome.run_id else ""
    emit(f"{_iso(outcome.tick)}  {outcome.schedule:<16} {outcome.status:<8}{run}  {outcome.reason}")
    warn(outcome.alert_problems)


def _nothing_due(project, now: datetime) -> str:
    """What `--once` says when no tick was due (a first sight records none either)."""
    from assetflow.schedule.ticks import next_ticks
    upcoming = sorted((t, s.name) for s in project.config.schedules if s.enabled for t in next_ticks(s, now, 1))
    after = f"; next: {upcoming[0][1]} at {_iso(upcoming[0][0])}" if upcoming else ""
    return f"no tick due at {_iso(now)}{after}"


@schedule.command(name="list", context_settings=CONTEXT, epilog=examples(
    "assetflow schedule list", "assetflow schedule list --json"))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--target", help=TARGET_HELP)
@click.option("--at", "at_text", metavar="ISO", help=AT_HELP)
@common_options()
@click.pass_context
def list_command(ctx, as_json: bool, target: str | None, at_text: str | None) -> None:
    """Show each schedule's next three ticks (UTC and local), its last tick, the heartbeat."""
    from assetflow.schedule.listing import list_schedules
    at = parse_at(at_text)
    listing = list_schedules(load(ctx), target, at or datetime.now(timezone.utc))
    emit(_to_json(_listing_json(listing)) if as_json else _listing_text(listing))


def _listing_json(listing) -> dict:
    beat = listing.heartbeat
    return {"schedules": [{
        "name": s.spec.name, "cron": s.spec.cron, "timezone": s.spec.timezone, "select": s.spec.select,
        "enabled": s.spec.enabled, "catchup": str(s.spec.catchup) if s.spec.catchup else None,
        "overlap": s.spec.overlap.value, "next": [_iso(t) for t in s.next],
        "next_local": [t.astimezone(ZoneInfo(s.spec.timezone)).isoformat() for t in s.next],
        "last": _tick_json(s.last)} for s in listing.schedules],
        "heartbeat": None if beat is None else {
            "pid": beat.pid, "host": beat.host, "started_at": _iso(beat.started_at),
            "last_beat": _iso(beat.last_beat), "age_seconds": round(_age(listing, beat), 1)},
        "snapshot": snapshot_json(listing.snapshot)}


def _tick_json(row) -> dict | None:
    if row is None:
        return None
    return {"tick": _iso(row.tick), "status": row.status, "run_id": row.run_id, "reason": row.reason}


def _listing_text(listing) -> str:
    if not listing.schedules:
        return "No schedules in assetflow.toml."
    note = snapshot_text(listing.snapshot)
    lines = [note] if note else []
    for s in listing.schedules:
        state = "" if s.spec.enabled else "  (disabled)"
        lines.append(f"{s.spec.name}  {s.spec.cron}  {s.spec.timezone}  select {s.spec.select or '(every asset)'}"
                     f"{state}")
        zone = ZoneInfo(s.spec.timezone)
        for t in s.next:
            lines.append(f"  next  {_iso(t)}  ({t.astimezone(zone):%Y-%m-%d %H:%M %Z})")
        if s.last is not None:
            run = f" run {s.last.run_id}" if s.last.run_id else ""
            lines.append(f"  last  {_iso(s.last.tick)}  {s.last.status}{run}: {s.last.reason}")
        else:
            lines.append("  last  (no tick yet)")
    beat = listing.heartbeat
    if beat is None:
        lines.append("scheduler: never ran on this target")
    else:
        lines.append(f"scheduler: pid {beat.pid} on {beat.host}, {_beat_text(listing, beat)}")
    return "\n".join(lines)


def _beat_text(listing, beat) -> str:
    """A beat written by `schedule run --at` a day ahead is ahead of this clock: say so rather
    than print a negative age."""
    age = _age(listing, beat)
    if age < 0:
        return f"last beat at {_iso(beat.last_beat)} (a simulated --at instant, ahead of now)"
    return f"last beat {age:.0f}s ago ({_iso(beat.last_beat)})"


def _age(listing, beat) -> float:
    return (listing.now - beat.last_beat).total_seconds()


@schedule.command(name="preview", context_settings=CONTEXT, epilog=examples(
    "assetflow schedule preview nightly", "assetflow schedule preview nightly --at 2026-03-01T02:00Z --json"))
@click.argument("name")
@click.option("--at", "at_text", metavar="ISO",
              help="Preview the latest tick at or before this ISO 8601 instant (default: the next tick).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--target", help=TARGET_HELP)
@common_options()
@click.pass_context
def preview_command(ctx, name: str, at_text: str | None, as_json: bool, target: str | None) -> None:
    """Show what schedule NAME's tick would build (nothing is built)."""
    from assetflow.cli import render
    from assetflow.schedule.listing import preview
    at = parse_at(at_text)
    shown = preview(load(ctx), name, target, at, datetime.now(timezone.utc))
    if as_json:
        data = {"schedule": name, "tick": _iso(shown.tick), "select": shown.spec.select,
                **render.dry_run_json(shown.plan)}
        emit(_to_json(data))
        return
    local = shown.tick.astimezone(ZoneInfo(shown.spec.timezone))
    emit(f"schedule {name}: tick at {_iso(shown.tick)} ({local:%Y-%m-%d %H:%M %Z})\n"
         + render.plan_text(shown.plan))


def _iso(moment: datetime) -> str:
    from assetflow.schedule.decide import iso
    return iso(moment)


def _to_json(data) -> str:
    from assetflow.cli import render
    return render.to_json(data)
