"""The alert outbox and the open incidents, in schema `_assetflow` of the target DuckDB file.

`end_run` writes the run's end row, its notifications and its incident changes in one
transaction: a run recorded as ended always has its alerts stored, and a crash right after the
COMMIT (fault point `after_run_end`) leaves them pending for the next start to send. Sending
happens outside any transaction; each send's outcome is written back to its row.

The tables are created on first use (a meta key says they exist), so a store written before them
needs no upgrade step and read-only commands on it see an empty outbox.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable

from assetflow.alert_state import PENDING, DeliveryUpdate, Incident, OutboxEntry
from assetflow.engines import duckdb_state as store
from assetflow.engines.duckdb_module import core as duckdb
from assetflow.state import RunRecord

run = store.run
_META_KEY = "outbox_schema"
_VERSION = "1"
DDL = (
    """CREATE TABLE IF NOT EXISTS _assetflow.outbox (
        id VARCHAR PRIMARY KEY, run_id VARCHAR, kind VARCHAR, destination VARCHAR, subject VARCHAR,
        body VARCHAR, created_at TIMESTAMP, attempts INTEGER, next_attempt TIMESTAMP, status VARCHAR,
        last_error VARCHAR, updated_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS _assetflow.incidents (
        project VARCHAR, asset VARCHAR, opened_at TIMESTAMP, opened_run VARCHAR, notified_at TIMESTAMP,
        last_run VARCHAR, PRIMARY KEY (project, asset))""",
)
_ENTRY_COLUMNS = ("id, run_id, kind, destination, subject, body, created_at, attempts, next_attempt, status, "
                  "last_error")
_INCIDENT_COLUMNS = "project, asset, opened_at, opened_run, notified_at, last_run"


def ensure_tables(cur: Any) -> None:
    """Create the outbox and incident tables once per store (idempotent)."""
    store.ensure_schema(cur)
    if run(cur, "SELECT value FROM _assetflow.meta WHERE key = ?", [_META_KEY]) == [(_VERSION,)]:
        return
    for statement in DDL:
        run(cur, statement)
    run(cur, "INSERT OR REPLACE INTO _assetflow.meta VALUES (?, ?)", [_META_KEY, _VERSION])


def write_alerts(cur: Any, entries: Iterable[OutboxEntry], incidents: Iterable[Incident],
                 closed: Iterable[tuple[str, str]]) -> None:
    """Notifications and incident changes, inside the caller's transaction (`ensure_tables` first)."""
    for e in entries:
        run(cur, f"INSERT OR REPLACE INTO _assetflow.outbox ({_ENTRY_COLUMNS}, updated_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [e.id, e.run_id, e.kind, e.destination, e.subject, e.body, e.created_at, e.attempts,
             e.next_attempt, e.status, e.last_error, e.created_at])
    for i in incidents:
        run(cur, f"INSERT OR REPLACE INTO _assetflow.incidents ({_INCIDENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            [i.project, i.asset, i.opened_at, i.opened_run, i.notified_at, i.last_run])
    for project, asset in closed:
        run(cur, "DELETE FROM _assetflow.incidents WHERE project = ? AND asset = ?", [project, asset])


def _readable(cur: Any) -> bool:
    try:
        return run(cur, "SELECT value FROM _assetflow.meta WHERE key = ?", [_META_KEY]) == [(_VERSION,)]
    except duckdb.CatalogException:
        return False


class OutboxStore:
    """The alert tables over one cursor; `transaction` is the engine's BEGIN ... COMMIT, `fault`
    its crash-test hook."""

    def __init__(self, cur: Any, transaction: Callable[..., None], fault: Callable[[str], None]):
        self._cur, self._transaction, self._fault = cur, transaction, fault

    def end_run(self, record: RunRecord, entries: Iterable[OutboxEntry], incidents: Iterable[Incident],
                closed: Iterable[tuple[str, str]], folded: bool = False) -> None:
        """The run's end row, its notifications and its incident changes, committed together."""
        cur = self._cur
        ensure_tables(cur)
        entries, incidents, closed = list(entries), list(incidents), list(closed)

        def work():
            store.record_run(cur, record, folded)
            write_alerts(cur, entries, incidents, closed)
        self._transaction(cur, work)
        self._fault("after_run_end")         # committed, nothing sent yet: the crash the outbox is for

    def due(self, now: datetime, limit: int = 100, run_id: str | None = None) -> list[OutboxEntry]:
        """Pending entries whose time has come, oldest first; with `run_id`, that run's first. An
        entry waits while an older one to the same receiver is not due yet: a resolve never
        overtakes its trigger, and a receiver that asked for time (429) is not asked early."""
        if not _readable(self._cur):
            return []
        rows = run(self._cur, f"SELECT {_ENTRY_COLUMNS} FROM _assetflow.outbox o WHERE status = ? "
                              "AND coalesce(next_attempt <= ?, true) AND NOT EXISTS ("
                              "  SELECT 1 FROM _assetflow.outbox w WHERE w.status = o.status "
                              "  AND w.destination = o.destination AND (w.created_at, w.id) < (o.created_at, o.id) "
                              "  AND w.next_attempt > ?) "
                              "ORDER BY run_id IS DISTINCT FROM ?, created_at, id LIMIT ?",
                   [PENDING, now, now, run_id, limit])
        return [OutboxEntry(*r) for r in rows]

    def entries(self, run_id: str | None = None) -> list[OutboxEntry]:
        """Every entry (of one run), in order: what `runs show` lists."""
        if not _readable(self._cur):
            return []
        where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
        rows = run(self._cur, f"SELECT {_ENTRY_COLUMNS} FROM _assetflow.outbox {where} ORDER BY created_at, id",
                   params)
        return [OutboxEntry(*r) for r in rows]

    def record_deliveries(self, updates: Iterable[DeliveryUpdate]) -> None:
        updates = list(updates)
        if not updates:
            return
        cur = self._cur

        def work():
            for u in updates:
                run(cur, "UPDATE _assetflow.outbox SET status = ?, attempts = ?, next_attempt = ?, last_error = ?, "
                         "updated_at = ? WHERE id = ?", [u.status, u.attempts, u.next_attempt, u.detail, u.at, u.id])
        self._transaction(cur, work)

    def open_incidents(self, project: str) -> dict[str, Incident]:
        if not _readable(self._cur):
            return {}
        rows = run(self._cur, f"SELECT {_INCIDENT_COLUMNS} FROM _assetflow.incidents WHERE project = ? ORDER BY asset",
                   [project])
        return {r[1]: Incident(*r) for r in rows}

    def failed_assets(self, assets: Iterable[str]) -> set[str]:
        """Those of `assets` that have a partition whose last attempt failed."""
        names = sorted(set(assets))
        if not names or not store.has_schema(self._cur):
            return set()
        rows = run(self._cur, f"SELECT DISTINCT asset FROM {store.current_partitions(self._cur)} "
                              "WHERE status = 'failed' AND asset IN (SELECT unnest(?::VARCHAR[]))", [names])
        return {r[0] for r in rows}
