"""The tick decision: given what the store knows about a schedule and the time, what to run and
what to record. Pure; the scheduler loop writes the decision (its records, its run's tick row and
the new state) in one transaction, so the decision is made once per tick.

Rules (SPEC section 11), each the fix of a bug other schedulers shipped:
- ticks before the scheduler first saw the schedule never run;
- a changed definition (cron, timezone, select) or a re-enabled schedule starts from now, with
  nothing caught up (dagster-io/dagster#13597, #7010);
- after downtime, exactly one run, at the latest missed tick; the older ticks are recorded
  `missed`, naming it (not one run per missed tick: apache/airflow#56646);
- `overlap = "skip"`: a tick that finds the project held is recorded `skipped` with the holder;
  `"wait"`: it is kept pending (at most one: a newer tick replaces it, recorded `skipped`) and
  runs when the project is free;
- time going backwards (a clock step) makes nothing due until it passes the cursor again.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from assetflow.project.schedules import Overlap, ScheduleSpec, definition_hash
from assetflow.schedule.ticks import ticks_between
from assetflow.schedule_records import ScheduleState, TickRecord, TickStatus

__all__ = ["ScheduleState", "TickDecision", "TickRecord", "TickStatus", "due", "iso"]


@dataclass(frozen=True, slots=True)
class TickDecision:
    state: ScheduleState                 # to store, replacing the old state
    run: datetime | None = None          # the tick to run now, planned as if now were this tick
    records: tuple[TickRecord, ...] = ()
    reset: str | None = None             # why the cursor started over at now, if it did


def due(spec: ScheduleSpec, state: ScheduleState | None, now: datetime,
        holder: str | None = None) -> TickDecision:
    """Decide the schedule's ticks up to `now`. `holder` describes the run holding the project
    (e.g. "run 41 (pid 803, materialize) since 02:00:04Z"), None when it is free."""
    state, reset, dropped = _watch(spec, state, now)
    if not spec.enabled:
        return TickDecision(state, records=dropped, reset=reset)
    ticks = _due_ticks(spec, state, now)
    latest = ticks[-1] if ticks else state.pending
    if latest is None:
        return TickDecision(state, records=dropped, reset=reset)
    records = list(dropped)
    records += [TickRecord(t, TickStatus.MISSED, f"covered by the tick at {iso(latest)}", latest)
                for t in ticks[:-1]]
    if state.pending is not None and ticks:
        records.append(TickRecord(state.pending, TickStatus.SKIPPED,
                                  f"replaced by the tick at {iso(latest)} while waiting for the project", latest))
    state = replace(state, last_tick=ticks[-1] if ticks else state.last_tick, pending=None)
    if holder is None:
        return TickDecision(state, run=latest, records=tuple(records), reset=reset)
    if spec.overlap is Overlap.WAIT:
        return TickDecision(replace(state, pending=latest), records=tuple(records), reset=reset)
    records.append(TickRecord(latest, TickStatus.SKIPPED, f"{holder} holds the project"))
    return TickDecision(state, records=tuple(records), reset=reset)


def _watch(spec: ScheduleSpec, state: ScheduleState | None,
           now: datetime) -> tuple[ScheduleState, str | None, tuple[TickRecord, ...]]:
    """The state to decide from: a cursor that starts over at `now` when the schedule is new,
    edited or re-enabled, and a waiting tick dropped when it no longer belongs to the schedule."""
    definition = definition_hash(spec)
    if state is None:
        return ScheduleState(definition, spec.enabled, now), "first seen", ()
    dropped: tuple[TickRecord, ...] = ()
    if state.pending is not None and (state.definition != definition or not spec.enabled):
        why = "the schedule was disabled" if not spec.enabled else "the schedule's definition changed"
        dropped = (TickRecord(state.pending, TickStatus.SKIPPED, f"{why} while the tick waited"),)
    if not spec.enabled:
        return replace(state, enabled=False, pending=None), None, dropped
    restart = replace(state, definition=definition, enabled=True, since=now, pending=None)
    if state.definition != definition:
        return restart, "definition changed", dropped
    if not state.enabled:
        return restart, "re-enabled", dropped
    return state, None, dropped


def _due_ticks(spec: ScheduleSpec, state: ScheduleState, now: datetime) -> list[datetime]:
    """Ticks from `since` on (a tick exactly at `since` was not before it) that are newer than
    the last one decided (a reset at the instant of a decided tick must not hand it out again)."""
    after = state.since - timedelta(microseconds=1)
    if state.last_tick is not None:
        after = max(after, state.last_tick)
    return ticks_between(spec, after, now)


def iso(instant: datetime) -> str:
    """An instant as ISO 8601 in UTC with a Z, as ticks are shown and stored."""
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
