"""The state store's tables in schema `_assetflow` of the target DuckDB file.

Functions take a cursor so a data write and its record share one transaction.
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Mapping

from assetflow.state import (FAILED, SUCCESS, UNPARTITIONED, AssetState, AttemptRecord, RunRecord,
                             SourceVersion, StateSnapshot)

SCHEMA_VERSION = "2"

DDL = """
CREATE SCHEMA IF NOT EXISTS _assetflow;
CREATE TABLE IF NOT EXISTS _assetflow.meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS _assetflow.runs (
    run_id VARCHAR PRIMARY KEY, command VARCHAR, target VARCHAR, pid INTEGER,
    started_at TIMESTAMP, ended_at TIMESTAMP, status VARCHAR);
CREATE TABLE IF NOT EXISTS _assetflow.partitions (
    asset VARCHAR, partition VARCHAR, status VARCHAR, code_version VARCHAR, data_version BIGINT,
    rows BIGINT, built_at TIMESTAMP, run_id VARCHAR, error VARCHAR, PRIMARY KEY (asset, partition));
CREATE TABLE IF NOT EXISTS _assetflow.attempts (
    run_id VARCHAR, asset VARCHAR, partition VARCHAR, attempt INTEGER, status VARCHAR,
    started_at TIMESTAMP, ended_at TIMESTAMP, rows BIGINT, error VARCHAR, code_version VARCHAR,
    data_version BIGINT, input_versions VARCHAR);
CREATE TABLE IF NOT EXISTS _assetflow.sources (
    name VARCHAR PRIMARY KEY, fingerprint VARCHAR, data_version BIGINT);
CREATE TABLE IF NOT EXISTS _assetflow.check_results (
    run_id VARCHAR, asset VARCHAR, partition VARCHAR, check_name VARCHAR, severity VARCHAR,
    passed BOOLEAN, failing BIGINT, checked_at TIMESTAMP);
"""


def run(cur: Any, sql: str, params: Any = None) -> list[tuple]:
    """Execute and drain (DuckDB 2 refuses new work on a cursor with an unread result)."""
    result = cur.execute(sql, params) if params is not None else cur.execute(sql)
    return result.fetchall() if result.description else []


def ensure_schema(cur: Any) -> None:
    """Create or upgrade the state tables (every statement is idempotent)."""
    if schema_version(cur) != SCHEMA_VERSION:
        for statement in DDL.split(";"):
            if statement.strip():
                run(cur, statement)
        run(cur, "INSERT OR REPLACE INTO _assetflow.meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])


def has_schema(cur: Any) -> bool:
    return schema_version(cur) is not None


def schema_version(cur: Any) -> str | None:
    """The state store's version, or None when this database has none (probing is cheaper than a
    catalog scan, which matters on databases with thousands of tables)."""
    import duckdb
    try:
        rows = run(cur, "SELECT value FROM _assetflow.meta WHERE key = 'schema_version'")
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def read_state(cur: Any, with_rows: bool = False) -> StateSnapshot:
    if not has_schema(cur):
        return StateSnapshot()
    # One row per asset holding its columns as lists (all aggregates of one GROUP BY see the rows in
    # the same order, so the lists line up): no Python object per partition. This read is on the
    # path of every status and no-op run; `rows` is only fetched for --verify.
    rows_sql = "list(rows)" if with_rows else "NULL"
    partitions: dict[str, AssetState] = {}
    top = 0
    for asset, keys, codes, versions, statuses, rows, newest in run(
            cur, f"SELECT asset, list(partition), list(code_version), list(coalesce(data_version, 0)), "
                 f"list(status), {rows_sql}, max(coalesce(data_version, 0)) FROM _assetflow.partitions "
                 f"GROUP BY asset"):
        partitions[asset] = AssetState(keys, codes, versions, statuses, rows or [None] * len(keys))
        top = max(top, newest)
    sources = {name: SourceVersion(fp, version)
               for name, fp, version in run(cur, "SELECT name, fingerprint, data_version FROM _assetflow.sources")}
    top = max([top, *(s.data_version for s in sources.values())])
    return StateSnapshot(partitions, sources, top)


def write_success(cur: Any, attempt: AttemptRecord, rows: int, new: bool = False) -> None:
    """Record a successful build; its end time is now, inside the transaction that writes the data.
    `new` says the partition has no state row yet (the caller knows from the snapshot)."""
    attempt = replace(attempt, ended_at=datetime.now(timezone.utc).replace(tzinfo=None))
    part = UNPARTITIONED if attempt.partition is None else attempt.partition
    # UPDATE by key, INSERT only the first time: several times cheaper than INSERT OR REPLACE.
    updated = [(0,)] if new else run(cur, "UPDATE _assetflow.partitions SET status = ?, code_version = ?, data_version = ?, rows = ?, "
                       "built_at = ?, run_id = ?, error = NULL WHERE asset = ? AND partition = ?",
                  [SUCCESS, attempt.code_version, attempt.data_version, rows, attempt.ended_at, attempt.run_id,
                   attempt.asset, part])
    if not updated or not updated[0][0]:
        run(cur, "INSERT INTO _assetflow.partitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [attempt.asset, part, SUCCESS, attempt.code_version, attempt.data_version, rows,
             attempt.ended_at, attempt.run_id])
    _insert_attempt(cur, attempt, SUCCESS, rows)


def write_failure(cur: Any, attempt: AttemptRecord) -> None:
    """Mark the partition's last attempt failed; its last good build stays recorded."""
    part = UNPARTITIONED if attempt.partition is None else attempt.partition
    updated = run(cur, "UPDATE _assetflow.partitions SET status = ?, run_id = ?, error = ? "
                       "WHERE asset = ? AND partition = ?", [FAILED, attempt.run_id, attempt.error, attempt.asset, part])
    if not updated or not updated[0][0]:
        run(cur, "INSERT INTO _assetflow.partitions VALUES (?, ?, ?, NULL, 0, NULL, NULL, ?, ?)",
            [attempt.asset, part, FAILED, attempt.run_id, attempt.error])
    _insert_attempt(cur, attempt, attempt.status, None)


def _insert_attempt(cur: Any, a: AttemptRecord, status: str, rows: int | None) -> None:
    run(cur, "INSERT INTO _assetflow.attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [a.run_id, a.asset, a.partition, a.attempt, status, a.started_at, a.ended_at, rows, a.error,
         a.code_version, a.data_version, json.dumps(dict(a.input_versions), sort_keys=True)])


def record_skip(cur: Any, attempt: AttemptRecord) -> None:
    _insert_attempt(cur, attempt, attempt.status, None)


def record_run(cur: Any, r: RunRecord) -> None:
    run(cur, "INSERT OR REPLACE INTO _assetflow.runs VALUES (?, ?, ?, ?, ?, ?, ?)",
        [r.run_id, r.command, r.target, r.pid, r.started_at, r.ended_at, r.status])


def record_sources(cur: Any, versions: Mapping[str, SourceVersion]) -> None:
    for name, version in versions.items():
        run(cur, "INSERT OR REPLACE INTO _assetflow.sources VALUES (?, ?, ?)",
            [name, version.fingerprint, version.data_version])


def list_runs(cur: Any, limit: int) -> list[RunRecord]:
    if not has_schema(cur):
        return []
    rows = run(cur, "SELECT run_id, command, started_at, status, ended_at, pid, target FROM _assetflow.runs "
                    "ORDER BY started_at DESC LIMIT ?", [limit])
    return [RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]


def run_attempts(cur: Any, run_id: str) -> list[AttemptRecord]:
    if not has_schema(cur):
        return []
    rows = run(cur, "SELECT run_id, asset, partition, attempt, status, started_at, ended_at, rows, error, "
                    "code_version, data_version, input_versions FROM _assetflow.attempts WHERE run_id = ? "
                    "ORDER BY started_at, asset, partition, attempt", [run_id])
    return [AttemptRecord(*r[:11], json.loads(r[11] or "{}")) for r in rows]


def find_run(cur: Any, prefix: str) -> list[str]:
    if not has_schema(cur):
        return []
    return [r[0] for r in run(cur, "SELECT run_id FROM _assetflow.runs WHERE starts_with(run_id, ?)", [prefix])]


def mark_abandoned(cur: Any, now) -> int:
    """Runs still marked running when the lock is free belonged to a process that died."""
    rows = run(cur, "UPDATE _assetflow.runs SET status = 'abandoned', ended_at = ? WHERE status = 'running'", [now])
    return rows[0][0] if rows else 0


def forget_partitions(cur: Any, asset: str) -> None:
    """Drop an asset's partition records (its table is being recreated with new columns)."""
    run(cur, "DELETE FROM _assetflow.partitions WHERE asset = ?", [asset])


def write_checks(cur: Any, run_id: str, asset: str, partition: str | None, results, at) -> None:
    for r in results:
        run(cur, "INSERT INTO _assetflow.check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, asset, partition, r.name, r.severity, r.passed, r.failing, at])


def latest_checks(cur: Any) -> list[tuple]:
    """The latest result of every (asset, partition, check)."""
    if schema_version(cur) != SCHEMA_VERSION:       # older stores have no check results yet
        return []
    return run(cur, "SELECT asset, partition, check_name, severity, passed, failing FROM _assetflow.check_results "
                    "QUALIFY row_number() OVER (PARTITION BY asset, partition, check_name "
                    "ORDER BY checked_at DESC) = 1 ORDER BY asset, partition, check_name")
