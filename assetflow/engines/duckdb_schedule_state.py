"""The scheduler's tables in schema `_assetflow`: schedule cursors, ticks, the heartbeat.

- `schedules`: one row per schedule, the cursor `schedule/decide.py` decides from (definition
  hash, enabled, since, last tick decided, the tick pending a run). It is not tick history, so
  pruning ticks can never make a tick run again (dagster-io/dagster#14555).
- `schedule_ticks`: one row per tick under PRIMARY KEY (schedule, tick), status started /
  success / failed / skipped / missed, its run, why. The `started` row and the run's row are
  inserted in one transaction (`start_tick`), so a tick has at most one run whatever is killed when.
- `scheduler_heartbeat`: one row, the live scheduler's pid, host, start and last beat.

Every function takes a cursor; `DuckDBScheduleStore` wraps a cursor and the engine's transaction
for `ScheduleStore` (any engine whose state is a DuckDB file hands out the same class). Instants
go in as aware UTC and are stored as naive UTC TIMESTAMPs, as the rest of the state store.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from assetflow.engines import duckdb_state as store
from assetflow.state import RUNNING
from assetflow.schedule_records import (Heartbeat, ScheduleState, TickRecord, TickRef, TickRow, TickStatus,
                                        TickTaken)

run = store.run

DDL = (
    """CREATE TABLE IF NOT EXISTS _assetflow.schedules (
        name VARCHAR PRIMARY KEY, definition VARCHAR, enabled BOOLEAN, since TIMESTAMP,
        last_tick TIMESTAMP, pending TIMESTAMP, first_seen TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS _assetflow.schedule_ticks (
        schedule VARCHAR, tick TIMESTAMP, status VARCHAR, run_id VARCHAR, reason VARCHAR,
        covered_by TIMESTAMP, created_at TIMESTAMP, updated_at TIMESTAMP, PRIMARY KEY (schedule, tick))""",
    """CREATE TABLE IF NOT EXISTS _assetflow.scheduler_heartbeat (
        id INTEGER PRIMARY KEY, pid INTEGER, host VARCHAR, started_at TIMESTAMP, last_beat TIMESTAMP)""",
)
_CONFLICT_RETRIES = 8
_TICK_COLUMNS = "schedule, tick, status, run_id, reason, covered_by, updated_at"
# What a started tick becomes when its run's row says how the run ended.
_RUN_TO_TICK = {"success": TickStatus.SUCCESS}


def ensure_tables(cur: Any) -> None:
    store.ensure_schema(cur)
    for statement in DDL:
        run(cur, statement)


def has_tables(cur: Any) -> bool:
    from assetflow.engines.duckdb_module import core as duckdb
    try:
        run(cur, "SELECT 1 FROM _assetflow.schedule_ticks LIMIT 0")
        return True
    except duckdb.CatalogException:
        return False


def naive(instant: datetime | None) -> datetime | None:
    if instant is None or instant.tzinfo is None:
        return instant
    return instant.astimezone(timezone.utc).replace(tzinfo=None)


def aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=timezone.utc)


def read_states(cur: Any) -> dict[str, ScheduleState]:
    if not has_tables(cur):
        return {}
    rows = run(cur, "SELECT name, definition, enabled, since, last_tick, CASE WHEN t.tick IS NULL THEN s.pending END "
                    "FROM _assetflow.schedules s LEFT JOIN _assetflow.schedule_ticks t "
                    "ON t.schedule = s.name AND t.tick = s.pending")
    return {name: ScheduleState(definition, enabled, aware(since), aware(last), aware(pending))
            for name, definition, enabled, since, last, pending in rows}


def write_state(cur: Any, name: str, state: ScheduleState) -> None:
    """Insert or update a cursor. `pending` never names a tick that has a row already (its run
    began, or it was recorded): that tick is decided, and a restart must not hand it out again."""
    if state.pending is not None and run(cur, "SELECT 1 FROM _assetflow.schedule_ticks WHERE schedule = ? "
                                              "AND tick = ?", [name, naive(state.pending)]):
        state = replace(state, pending=None)
    run(cur, "INSERT INTO _assetflow.schedules VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
             "definition = excluded.definition, enabled = excluded.enabled, since = excluded.since, "
             "last_tick = excluded.last_tick, pending = excluded.pending",
        [name, state.definition, state.enabled, naive(state.since), naive(state.last_tick), naive(state.pending),
         naive(state.since)])


def write_record(cur: Any, schedule: str, record: TickRecord, at: datetime) -> None:
    """A tick without a run of its own (missed, skipped, failed before its run began). A tick that
    has a row already keeps it: the first word on a tick is the one that happened."""
    run(cur, "INSERT INTO _assetflow.schedule_ticks VALUES (?, ?, ?, NULL, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [schedule, naive(record.tick), record.status.value, record.reason, naive(record.covered_by),
         naive(at), naive(at)])


def write_beat(cur: Any, beat: Heartbeat) -> None:
    run(cur, "INSERT OR REPLACE INTO _assetflow.scheduler_heartbeat VALUES (1, ?, ?, ?, ?)",
        [beat.pid, beat.host, naive(beat.started_at), naive(beat.last_beat)])


def insert_started(cur: Any, tick: TickRef, run_id: str, at: datetime) -> None:
    """The tick's `started` row (the caller's transaction also holds the run row). Its cursor's
    pending mark is not touched (the scheduler loop may be writing the cursor in another
    transaction): a pending tick that has a row reads as no pending tick."""
    taken = run(cur, "SELECT status, run_id FROM _assetflow.schedule_ticks WHERE schedule = ? AND tick = ?",
                [tick.schedule, naive(tick.tick)])
    if taken:
        raise TickTaken(f"the tick {tick.schedule} at {tick.tick:%Y-%m-%d %H:%M}Z is already recorded "
                        f"({taken[0][0]}, run {taken[0][1]})")
    run(cur, "INSERT INTO _assetflow.schedule_ticks VALUES (?, ?, 'started', ?, '', NULL, ?, ?)",
        [tick.schedule, naive(tick.tick), run_id, naive(at), naive(at)])


def finish(cur: Any, tick: TickRef, status: TickStatus, reason: str, at: datetime) -> None:
    run(cur, "UPDATE _assetflow.schedule_ticks SET status = ?, reason = ?, updated_at = ? "
             "WHERE schedule = ? AND tick = ? AND status = 'started'",
        [status.value, reason, naive(at), tick.schedule, naive(tick.tick)])


def recover(cur: Any, at: datetime) -> list[TickRow]:
    """Finish every `started` tick from its run's row (call it holding the run lock, after dead
    runs were marked abandoned): a finished run gives its status, anything else fails the tick."""
    rows = run(cur, "SELECT t.schedule, t.tick, t.run_id, r.status FROM _assetflow.schedule_ticks t "
                    "LEFT JOIN _assetflow.runs r USING (run_id) WHERE t.status = 'started' ORDER BY 1, 2")
    out = []
    for schedule, tick, run_id, run_status in rows:
        status = _RUN_TO_TICK.get(run_status, TickStatus.FAILED)
        reason = f"run {run_id} {run_status or 'never recorded'} (finished on restart)"
        finish(cur, TickRef(schedule, aware(tick)), status, reason, at)
        out.append(TickRow(schedule, aware(tick), status.value, run_id, reason, None, at))
    return out


def ticks(cur: Any, schedule: str | None, limit: int) -> list[TickRow]:
    if not has_tables(cur):
        return []
    where, params = ("WHERE schedule = ?", [schedule]) if schedule else ("", [])
    return _rows(run(cur, f"SELECT {_TICK_COLUMNS} FROM _assetflow.schedule_ticks {where} "
                          "ORDER BY tick DESC, schedule LIMIT ?", [*params, limit]))


def last_ticks(cur: Any) -> dict[str, TickRow]:
    if not has_tables(cur):
        return {}
    rows = run(cur, f"SELECT {_TICK_COLUMNS} FROM _assetflow.schedule_ticks "
                    "QUALIFY row_number() OVER (PARTITION BY schedule ORDER BY tick DESC) = 1")
    return {row.schedule: row for row in _rows(rows)}


def ticks_of_runs(cur: Any, run_ids: Sequence[str]) -> dict[str, TickRow]:
    if not run_ids or not has_tables(cur):
        return {}
    rows = run(cur, f"SELECT {_TICK_COLUMNS} FROM _assetflow.schedule_ticks "
                    "WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [list(run_ids)])
    return {row.run_id: row for row in _rows(rows)}


def read_beat(cur: Any) -> Heartbeat | None:
    if not has_tables(cur):
        return None
    rows = run(cur, "SELECT pid, host, started_at, last_beat FROM _assetflow.scheduler_heartbeat WHERE id = 1")
    return Heartbeat(rows[0][0], rows[0][1], aware(rows[0][2]), aware(rows[0][3])) if rows else None


def _rows(rows: list[tuple]) -> list[TickRow]:
    return [TickRow(s, aware(t), status, run_id, reason or "", aware(covered), aware(updated))
            for s, t, status, run_id, reason, covered, updated in rows]


class DuckDBScheduleStore:
    """`ScheduleStore` over a DuckDB state file: a cursor and the engine's transaction. `fault` is
    the crash-test hook (`run_started` fires after the tick and run rows commit)."""

    def __init__(self, cur: Any, transaction: Callable[[Any, Callable[[], None]], None],
                 read_only: bool, fault: Callable[[str], None] = lambda point: None):
        self._cur, self._transaction, self._read_only, self._fault = cur, transaction, read_only, fault

    def _write(self, work: Callable[[], None]) -> None:
        """One transaction; retried when it conflicts with another thread of this process writing
        the same row (the loop beating while its tick's run records the tick)."""
        from assetflow.engines.duckdb_module import core as duckdb
        ensure_tables(self._cur)
        for attempt in range(_CONFLICT_RETRIES):
            try:
                self._transaction(self._cur, work)
                return
            except duckdb.TransactionException as exc:
                if "conflict" not in str(exc).lower() or attempt == _CONFLICT_RETRIES - 1:
                    raise

    def states(self) -> dict[str, ScheduleState]:
        return read_states(self._cur)

    def save(self, states: Mapping[str, ScheduleState], records: Sequence[tuple[str, TickRecord]],
             at: datetime, beat: Heartbeat | None = None, alerts: Any = None) -> None:
        """Cursors, tick records (written at `at`), the heartbeat and the alerts a failed tick
        owes (`alerts.tick_alerts.TickAlerts`), in one transaction."""
        from assetflow.engines import duckdb_outbox
        if alerts is not None:
            duckdb_outbox.ensure_tables(self._cur)

        def work() -> None:
            for name, state in sorted(states.items()):
                write_state(self._cur, name, state)
            for name, record in records:
                write_record(self._cur, name, record, at)
            if beat is not None:
                write_beat(self._cur, beat)
            if alerts is not None:
                duckdb_outbox.write_alerts(self._cur, alerts.entries, alerts.incidents, alerts.closed)
        self._write(work)

    def alerts(self):
        """The alert outbox and incidents over the same cursor (`engines/duckdb_outbox`)."""
        from assetflow.engines.duckdb_outbox import OutboxStore
        return OutboxStore(self._cur, self._transaction, self._fault)

    def start_tick(self, record, tick: TickRef) -> None:
        """The run's row and the tick's `started` row, in one transaction; TickTaken (and nothing
        written) when the tick has a row already."""
        def work() -> None:
            insert_started(self._cur, tick, record.run_id, record.started_at)
            store.record_run(self._cur, record, folded=record.status != RUNNING)
        self._write(work)
        self._fault("run_started")

    def finish_tick(self, tick: TickRef, status: TickStatus, reason: str, at: datetime, alerts: Any = None) -> None:
        """The started tick's end; with `alerts` (a recovery it owes), in the same transaction."""
        from assetflow.engines import duckdb_outbox
        if alerts is not None:
            duckdb_outbox.ensure_tables(self._cur)

        def work() -> None:
            finish(self._cur, tick, status, reason, at)
            if alerts is not None:
                duckdb_outbox.write_alerts(self._cur, alerts.entries, alerts.incidents, alerts.closed)
        self._write(work)

    def recover(self, at: datetime, alerts_for: Callable[[list[TickRow]], Any] | None = None) -> list[TickRow]:
        """Finish the started ticks; `alerts_for(rows)` gives the alerts they owe (TickAlerts or
        None), written in the same transaction."""
        from assetflow.engines import duckdb_outbox
        if not has_tables(self._cur):
            return []
        if alerts_for is not None:
            duckdb_outbox.ensure_tables(self._cur)
        out: list[TickRow] = []

        def work() -> None:
            out[:] = recover(self._cur, at)
            alerts = alerts_for(out) if alerts_for is not None and out else None
            if alerts is not None:
                duckdb_outbox.write_alerts(self._cur, alerts.entries, alerts.incidents, alerts.closed)
        self._write(work)
        return out

    def ticks(self, schedule: str | None = None, limit: int = 20) -> list[TickRow]:
        return ticks(self._cur, schedule, limit)

    def last_ticks(self) -> dict[str, TickRow]:
        return last_ticks(self._cur)

    def ticks_of_runs(self, run_ids: Sequence[str]) -> dict[str, TickRow]:
        return ticks_of_runs(self._cur, run_ids)

    def heartbeat(self) -> Heartbeat | None:
        return read_beat(self._cur)
