"""The schedules page: each schedule's next ticks (local and UTC), its tick history with the reason
of every skip, and whether the scheduler is alive (its heartbeat)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from assetflow.schedule.ticks import next_ticks
from assetflow.ui.html import badge, esc, table, when

NEXT_TICKS = 5


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What the scheduler says about itself; `alive` None when this process runs none."""

    alive: bool | None
    text: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TickRow:
    schedule: str
    tick: datetime                   # UTC
    status: str
    reason: str = ""
    run_id: str | None = None


def schedules_body(schedules, heartbeat: Heartbeat, history: list[TickRow], now: datetime) -> str:
    head = f'<h1>Schedules</h1><p class="heartbeat" id="heartbeat">{_heartbeat(heartbeat)}</p>'
    if not schedules:
        return head + ('<p class="muted">This project has no schedules. Add a <code>[schedules.NAME]</code> '
                       'table to assetflow.toml (see docs/schedules.md).</p>')
    aware = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now
    sections = [_schedule(spec, aware, [t for t in history if t.schedule == spec.name]) for spec in schedules]
    return head + "".join(sections)


def _heartbeat(beat: Heartbeat) -> str:
    if beat.alive is None:
        return f'{badge("off")} {esc(beat.text)}'
    state = badge("alive" if beat.alive else "stopped")
    return f'{state} {esc(beat.text)}' + (f' (last heartbeat {when(beat.at)} UTC)' if beat.at else "")


def _schedule(spec, now: datetime, history: list[TickRow]) -> str:
    ticks = next_ticks(spec, now, NEXT_TICKS) if spec.enabled else []
    rows = [f'<tr><td>{t.astimezone(spec.zone):%Y-%m-%d %H:%M %Z}</td><td>{t:%Y-%m-%d %H:%M} UTC</td></tr>'
            for t in ticks]
    upcoming = (table((f"next ticks ({spec.timezone})", "UTC"), rows, "ticks") if rows else
                '<p class="muted">disabled: no ticks</p>')
    about = (f'<dl class="about"><dt>cron</dt><dd class="mono">{esc(spec.cron)}</dd><dt>time zone</dt>'
             f'<dd>{esc(spec.timezone)}</dd><dt>selection</dt><dd class="mono">{esc(spec.select or "every asset")}</dd>'
             f'<dt>overlap</dt><dd>{esc(spec.overlap.value)}</dd>'
             f'<dt>catch-up</dt><dd>{esc(spec.catchup.text if spec.catchup else "every closed window")}</dd></dl>')
    past = [f'<tr><td>{when(t.tick)} UTC</td><td>{badge(t.status)}</td><td>{esc(t.reason)}</td>'
            f'<td>{_run_link(t.run_id)}</td></tr>' for t in history]
    recorded = (table(("tick", "status", "reason", "run"), past, "history") if past else
                '<p class="muted">No ticks recorded yet.</p>')
    state = "" if spec.enabled else " " + badge("disabled")
    return (f'<section class="schedule" data-schedule="{esc(spec.name)}"><h2>{esc(spec.name)}{state}</h2>'
            f'{about}{upcoming}<h3>Tick history</h3>{recorded}</section>')


def _run_link(run_id: str | None) -> str:
    return f'<a href="/runs/{esc(run_id)}">{esc(run_id)}</a>' if run_id else ""
