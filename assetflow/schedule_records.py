"""Ticks and schedule cursors as the state store keeps them, and the store's interface.

Shared values (layer 0): the pure decision (`schedule/decide.py`) produces them, the scheduler
loop hands them to the state store, and every engine's store (`engines/duckdb_schedule_state.py`
for DuckDB, and for any engine whose state lives in a DuckDB file) writes and reads them through
`ScheduleStore`. Instants are aware UTC datetimes here; stores may keep them naive.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Mapping, Protocol, Sequence

from assetflow.errors import AssetflowError


class TickStatus(str, Enum):
    STARTED = "started"    # its run was created (in the same transaction as this row)
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"    # another run held the project, or a newer tick replaced it while waiting
    MISSED = "missed"      # not run: a later tick's run covered it (downtime)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What the store keeps per schedule between ticks (the cursor; not prunable tick history)."""

    definition: str                      # definition_hash the cursor belongs to
    enabled: bool                        # as the scheduler last saw it
    since: datetime                      # first seen, edited or re-enabled: no tick before it runs
    last_tick: datetime | None = None    # newest tick decided (run, recorded or made pending); kept
                                         # across a reset, so a tick is never decided twice
    pending: datetime | None = None      # a tick decided to run that has no run yet: waiting for the
                                         # project (overlap = "wait"), or about to start


@dataclass(frozen=True, slots=True)
class TickRecord:
    """A tick row written without a run of its own."""

    tick: datetime
    status: TickStatus
    reason: str
    covered_by: datetime | None = None   # the tick whose run covers this one


@dataclass(frozen=True, slots=True)
class TickRef:
    """Which tick a run belongs to: materialize records its run row and this tick's row together."""

    schedule: str
    tick: datetime


@dataclass(frozen=True, slots=True)
class TickRow:
    """A tick as stored."""

    schedule: str
    tick: datetime
    status: str
    run_id: str | None
    reason: str
    covered_by: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The scheduler's sign of life: who it is and when it last wrote."""

    pid: int
    host: str
    started_at: datetime
    last_beat: datetime


class TickTaken(AssetflowError):
    """The tick already has a row: it ran (or was recorded) before, and must not run again."""


class ScheduleStore(Protocol):
    def states(self) -> dict[str, ScheduleState]: ...
    def save(self, states: Mapping[str, ScheduleState], records: Sequence[tuple[str, TickRecord]],
             at: datetime, beat: Heartbeat | None = None, alerts=None) -> None: ...   # alerts: TickAlerts
    def alerts(self): ...                                            # the outbox over the same store
    def start_tick(self, run, tick: TickRef) -> None: ...          # run: state.RunRecord
    def finish_tick(self, tick: TickRef, status: TickStatus, reason: str, at: datetime,
                    alerts=None) -> None: ...
    def recover(self, at: datetime, alerts_for=None) -> list[TickRow]: ...   # alerts_for(rows) -> TickAlerts
    def ticks(self, schedule: str | None = None, limit: int = 20) -> list[TickRow]: ...
    def last_ticks(self) -> dict[str, TickRow]: ...
    def ticks_of_runs(self, run_ids: Sequence[str]) -> dict[str, TickRow]: ...
    def heartbeat(self) -> Heartbeat | None: ...
