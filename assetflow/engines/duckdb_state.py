"""The state store's tables in schema `_assetflow` of the target DuckDB file.

Functions take a cursor so a data write and its record share one transaction.

A build writes one row, its attempt, in the transaction that writes its data (a small INSERT
costs about as much as building a small table, so one per build, not two). The latest state of
every partition, `partitions`, is folded from the attempts when a run ends, and for a run that
died, when the next run starts; `runs.folded` says which runs it holds. Until then readers see
the attempts of unfolded runs laid over it (`current_partitions`), so nothing a dead run
committed is ever lost or built twice.

A partition built into a rebuild's staging table (a schema change: the new table is built beside
the old one) is recorded as `staged`, which folding ignores; the swap that puts the new table in
place turns the run's staged attempts of that asset into `success` in its own transaction, and a
rebuild that is not swapped in marks them `discarded`. So a partition only counts as built into
the live table once it is there.
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from assetflow.engines.duckdb_literals import INLINE, bind
from assetflow.state import (SUCCESS, UNPARTITIONED, AssetState, AttemptRecord, FailureRecord, RunRecord,
                             SourceVersion, StateSnapshot, StoredVersions)

SCHEMA_VERSION = "4"
STAGED = "staged"           # built into a rebuild's staging table, not (yet) swapped in
DISCARDED = "discarded"     # built into a staging table that was dropped (the rebuild failed or died)

DDL = """
CREATE SCHEMA IF NOT EXISTS _assetflow;
CREATE TABLE IF NOT EXISTS _assetflow.meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS _assetflow.runs (
    run_id VARCHAR PRIMARY KEY, command VARCHAR, target VARCHAR, pid INTEGER,
    started_at TIMESTAMP, ended_at TIMESTAMP, status VARCHAR, folded BOOLEAN DEFAULT false);
CREATE TABLE IF NOT EXISTS _assetflow.partitions (
    asset VARCHAR, partition VARCHAR, status VARCHAR, code_version VARCHAR, data_version BIGINT,
    rows BIGINT, built_at TIMESTAMP, run_id VARCHAR, error VARCHAR, PRIMARY KEY (asset, partition));
CREATE TABLE IF NOT EXISTS _assetflow.attempts (
    run_id VARCHAR, asset VARCHAR, partition VARCHAR, attempt INTEGER, status VARCHAR,
    started_at TIMESTAMP, ended_at TIMESTAMP, rows BIGINT, error VARCHAR, code_version VARCHAR,
    data_version BIGINT, input_versions VARCHAR, log VARCHAR[]);
CREATE TABLE IF NOT EXISTS _assetflow.sources (
    name VARCHAR PRIMARY KEY, fingerprint VARCHAR, data_version BIGINT);
CREATE TABLE IF NOT EXISTS _assetflow.check_results (
    run_id VARCHAR, asset VARCHAR, partition VARCHAR, check_name VARCHAR, severity VARCHAR,
    passed BOOLEAN, failing BIGINT, checked_at TIMESTAMP);
"""


def run(cur: Any, sql: str, params: Any = None) -> list[tuple]:
    """Execute and drain (DuckDB 2 refuses new work on a cursor with an unread result). On DuckDB
    1.x, `?` parameters travel as literals where they can (see duckdb_literals)."""
    if INLINE and params and isinstance(params, (list, tuple)):
        sql, params = bind(sql, params)
    result = cur.execute(sql, params) if params is not None else cur.execute(sql)
    return result.fetchall() if result.description else []


# From version 2, where every build also wrote its `partitions` row: every run is folded already.
_UPGRADE_FROM_2 = ("ALTER TABLE _assetflow.runs ADD COLUMN folded BOOLEAN DEFAULT false",
                   "UPDATE _assetflow.runs SET folded = true")
# From version 3: attempts keep what a Python asset logged (older attempts have none).
_UPGRADE_TO_4 = ("ALTER TABLE _assetflow.attempts ADD COLUMN IF NOT EXISTS log VARCHAR[]",)


def ensure_schema(cur: Any, transaction: Callable | None = None) -> None:
    """Create or upgrade the state tables (every statement is idempotent). With `transaction`
    (the engine's: transaction(cur, work)), they are made in one transaction: one commit, and so
    one sync of the log, instead of nine; the version is probed before it, since a failed probe
    would abort it."""
    found = schema_version(cur)
    if found == SCHEMA_VERSION:
        return

    def create() -> None:
        for statement in DDL.split(";"):
            if statement.strip():
                run(cur, statement)
        for statement in (*(_UPGRADE_FROM_2 if found == "2" else ()), *_UPGRADE_TO_4):
            run(cur, statement)
        run(cur, "INSERT OR REPLACE INTO _assetflow.meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    if transaction is None:
        create()
    else:
        transaction(cur, create)


def _has_logs(cur: Any) -> bool:
    """Whether the attempts table has its `log` column: a read-only command on a store written by
    an older version cannot add it, and reads NULL instead."""
    version = schema_version(cur)
    return version is not None and version.isdigit() and int(version) >= 4


def has_schema(cur: Any) -> bool:
    return schema_version(cur) is not None


def schema_version(cur: Any) -> str | None:
    """The state store's version, or None when this database has none (probing is cheaper than a
    catalog scan, which matters on databases with thousands of tables)."""
    from assetflow.engines.duckdb_module import core as duckdb
    try:
        rows = run(cur, "SELECT value FROM _assetflow.meta WHERE key = 'schema_version'")
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def read_state(cur: Any, with_rows: bool = False, with_built: bool = False) -> StateSnapshot:
    if not has_schema(cur):
        return StateSnapshot()
    # One row per asset holding its columns as lists (all aggregates of one GROUP BY see the rows in
    # the same order, so the lists line up): no Python object per partition. This read is on the
    # path of every status and no-op run; `rows` is only fetched for --verify, `built_at` where an
    # asset has a max_age.
    rows_sql = "list(rows)" if with_rows else "NULL"
    built_sql = "list(built_at)" if with_built else "NULL"
    partitions: dict[str, AssetState] = {}
    top = 0
    for asset, keys, codes, versions, statuses, rows, built, newest in run(
            cur, f"SELECT asset, list(partition), list(code_version), list(coalesce(data_version, 0)), "
                 f"list(status), {rows_sql}, {built_sql}, max(coalesce(data_version, 0)) "
                 f"FROM {current_partitions(cur)} GROUP BY asset"):
        partitions[asset] = AssetState(keys, codes, versions, statuses, rows or [None] * len(keys), built)
        top = max(top, newest)
    sources = {name: SourceVersion(fp, version)
               for name, fp, version in run(cur, "SELECT name, fingerprint, data_version FROM _assetflow.sources")}
    top = max([top, *(s.data_version for s in sources.values())])
    return StateSnapshot(partitions, sources, top)


def stored_versions(cur: Any) -> StoredVersions:
    """Stored source fingerprints, and the newest data version anywhere in the store."""
    if not has_schema(cur):
        return StoredVersions()
    sources = {name: SourceVersion(fp, version)
               for name, fp, version in run(cur, "SELECT name, fingerprint, data_version FROM _assetflow.sources")}
    newest = run(cur, "SELECT coalesce(max(data_version), 0) FROM _assetflow.partitions")[0][0]
    if has_unfolded(cur):      # a dead run's attempts hold versions too (failed ones included)
        newest = max(newest, run(cur, f"SELECT coalesce(max(data_version), 0) FROM _assetflow.attempts "
                                      f"WHERE run_id IN ({_UNFOLDED})")[0][0])
    return StoredVersions(sources, max([newest, *(s.data_version for s in sources.values())]))


def partition_versions(cur: Any, assets: set[str]) -> dict[str, dict[str, int]]:
    """Data versions of the successfully built partitions of `assets`, by partition key."""
    out: dict[str, dict[str, int]] = {name: {} for name in assets}
    if not assets or not has_schema(cur):
        return out
    for asset, key, version in run(cur, f"SELECT asset, partition, data_version FROM {current_partitions(cur)} "
                                        "WHERE asset IN (SELECT unnest(?::VARCHAR[])) AND code_version IS NOT NULL",
                                   [sorted(assets)]):
        out[asset][key] = version
    return out


def write_success(cur: Any, attempt: AttemptRecord, rows: int, status: str = SUCCESS) -> None:
    """Record a successful build (or, with STAGED, one into a staging table); its end time is now,
    inside the transaction that writes the data."""
    _insert_attempt(cur, replace(attempt, ended_at=datetime.now(timezone.utc).replace(tzinfo=None)), status, rows)


def promote_staged(cur: Any, run_id: str, asset: str) -> None:
    """The rebuild of `asset` was swapped in (in the caller's transaction): its staged attempts
    become successes, and the records of the old table's partitions go with the old table."""
    run(cur, "UPDATE _assetflow.attempts SET status = ? WHERE run_id = ? AND asset = ? AND status = ?",
        [SUCCESS, run_id, asset, STAGED])
    forget_partitions(cur, asset)


def discard_staged(cur: Any, asset: str) -> None:
    """The rebuild of `asset` was dropped: its staged attempts, of any run, never reached the table."""
    run(cur, "UPDATE _assetflow.attempts SET status = ? WHERE asset = ? AND status = ?", [DISCARDED, asset, STAGED])


# A rebuild in progress is remembered in `meta` (in the transaction that creates its staging
# table), so the next run finds what a dead one left behind without scanning the catalog.
_REBUILD = "rebuild:"


def begin_rebuild(cur: Any, asset: str, staging: str) -> None:
    run(cur, "INSERT OR REPLACE INTO _assetflow.meta VALUES (?, ?)", [_REBUILD + asset, staging])


def end_rebuild(cur: Any, asset: str) -> None:
    run(cur, "DELETE FROM _assetflow.meta WHERE key = ?", [_REBUILD + asset])


def rebuilds(cur: Any) -> dict[str, str]:
    """{asset: its staging table} of every rebuild begun and neither swapped in nor discarded."""
    rows = run(cur, "SELECT key, value FROM _assetflow.meta WHERE starts_with(key, ?)", [_REBUILD])
    return {key[len(_REBUILD):]: staging for key, staging in rows}


def write_failure(cur: Any, attempt: AttemptRecord) -> None:
    """Record a failed (or skipped) attempt; the partition's last good build stays as it was."""
    _insert_attempt(cur, attempt, attempt.status, None)


def _insert_attempt(cur: Any, a: AttemptRecord, status: str, rows: int | None) -> None:
    run(cur, f"INSERT INTO _assetflow.attempts ({_ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [a.run_id, a.asset, a.partition, a.attempt, status, a.started_at, a.ended_at, rows, a.error,
         a.code_version, a.data_version, json.dumps(dict(a.input_versions), sort_keys=True), list(a.log) or None])


_ATTEMPT_COLUMNS = ("run_id, asset, partition, attempt, status, started_at, ended_at, rows, error, code_version, "
                    "data_version, input_versions, log")


def record_run(cur: Any, r: RunRecord, folded: bool = False) -> None:
    """Insert or update a run. `folded`: it wrote no attempts (nothing to fold into `partitions`)."""
    run(cur, "INSERT INTO _assetflow.runs (run_id, command, target, pid, started_at, ended_at, status, folded) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET ended_at = excluded.ended_at, "
             "status = excluded.status",
        [r.run_id, r.command, r.target, r.pid, r.started_at, r.ended_at, r.status, folded])


# ---------------------------------------------------------------------------- folding attempts

_UNFOLDED = "SELECT run_id FROM _assetflow.runs WHERE NOT folded"

# Per partition touched by the unfolded runs: its last attempt (status, run, error) and its last
# successful build (code, version, rows, time), laid over the stored record. Data versions come
# from one increasing sequence, failed attempts included, so they order attempts across runs.
# `built_at` is the start of the run that built it (the "now" it planned with), not the end of
# the build: a daily run with max_age = "24h" then finds yesterday's build exactly 24 h old, and
# rebuilds it, however long the builds took.
_TOUCHED = f"""
SELECT f.asset, f.partition, f.status,
       CASE WHEN f.code_version IS NULL THEN p.code_version ELSE f.code_version END AS code_version,
       CASE WHEN f.code_version IS NULL THEN coalesce(p.data_version, 0) ELSE f.data_version END AS data_version,
       CASE WHEN f.code_version IS NULL THEN p.rows ELSE f.rows END AS rows,
       CASE WHEN f.code_version IS NULL THEN p.built_at ELSE f.built_at END AS built_at,
       f.run_id, CASE WHEN f.status = 'failed' THEN f.error END AS error
FROM (SELECT asset, coalesce(partition, '') AS partition,
             arg_max(status, data_version) AS status, arg_max(run_id, data_version) AS run_id,
             arg_max(error, data_version) AS error,
             arg_max(code_version, data_version) FILTER (WHERE status = 'success') AS code_version,
             max(data_version) FILTER (WHERE status = 'success') AS data_version,
             arg_max(rows, data_version) FILTER (WHERE status = 'success') AS rows,
             arg_max(coalesce(r.started_at, a.ended_at), data_version) FILTER (WHERE status = 'success') AS built_at
      FROM _assetflow.attempts a LEFT JOIN (SELECT run_id, started_at FROM _assetflow.runs) r USING (run_id)
      WHERE run_id IN ({_UNFOLDED}) AND a.status IN ('success', 'failed')
      GROUP BY ALL) f
LEFT JOIN _assetflow.partitions p ON p.asset = f.asset AND p.partition = f.partition"""

_COLUMNS = "asset, partition, status, code_version, data_version, rows, built_at, run_id, error"


def has_unfolded(cur: Any) -> bool:
    from assetflow.engines.duckdb_module import core as duckdb
    try:
        return bool(run(cur, f"SELECT count(*) FROM ({_UNFOLDED})")[0][0])
    except (duckdb.CatalogException, duckdb.BinderException):
        return False      # no store yet, or a version-2 one (no `folded`: every build was in `partitions`)


def current_partitions(cur: Any) -> str:
    """The relation of the latest partition records: the table itself, or, while a run is not
    folded in yet, the table with that run's attempts laid over it."""
    if not has_unfolded(cur):
        return "_assetflow.partitions"
    return (f"(SELECT {_COLUMNS} FROM ({_TOUCHED}) UNION ALL SELECT {_COLUMNS} FROM _assetflow.partitions p "
            f"WHERE NOT EXISTS (SELECT 1 FROM ({_TOUCHED}) t WHERE t.asset = p.asset AND t.partition = p.partition))")


def fold_runs(cur: Any) -> None:
    """Fold the attempts of every unfolded run into `partitions` (in the caller's transaction)."""
    run(cur, f"INSERT OR REPLACE INTO _assetflow.partitions ({_COLUMNS}) SELECT {_COLUMNS} FROM ({_TOUCHED})")
    run(cur, "UPDATE _assetflow.runs SET folded = true WHERE NOT folded")


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
    columns = _ATTEMPT_COLUMNS if _has_logs(cur) else _ATTEMPT_COLUMNS.replace(", log", ", NULL")
    rows = run(cur, f"SELECT {columns} FROM _assetflow.attempts WHERE run_id = ? "
                    "ORDER BY started_at, asset, partition, attempt", [run_id])
    return [AttemptRecord(*r[:11], json.loads(r[11] or "{}"), tuple(r[12] or ())) for r in rows]


def failures(cur: Any) -> list[FailureRecord]:
    """Every partition whose last attempt failed, with its error, run and the time it failed.
    Only failed partitions cross into Python; their attempts are found by run id."""
    if not has_schema(cur):
        return []
    current = current_partitions(cur)
    rows = run(cur, f"""
        WITH failed AS (SELECT asset, partition, error, run_id FROM {current} WHERE status = 'failed')
        SELECT f.asset, f.partition, f.error, f.run_id, max(a.ended_at)
        FROM failed f LEFT JOIN _assetflow.attempts a
          ON a.run_id = f.run_id AND a.asset = f.asset AND coalesce(a.partition, '') = f.partition
             AND a.status = 'failed'
        GROUP BY ALL ORDER BY f.asset, f.partition""")
    return [FailureRecord(asset, None if key == UNPARTITIONED else key, error or "", at, run_id)
            for asset, key, error, run_id, at in rows]


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
    if schema_version(cur) not in ("2", "3", SCHEMA_VERSION):       # older stores have no check results yet
        return []
    return run(cur, "SELECT asset, partition, check_name, severity, passed, failing FROM _assetflow.check_results "
                    "QUALIFY row_number() OVER (PARTITION BY asset, partition, check_name "
                    "ORDER BY checked_at DESC) = 1 ORDER BY asset, partition, check_name")
