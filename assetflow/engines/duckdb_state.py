"""The state store's tables in schema `_assetflow` of the target DuckDB file.

Functions take a cursor so a data write and its record share one transaction.
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Mapping

from assetflow.freshness import Expectation, deviations_of, mapping_rows
from assetflow.state import (FAILED, SUCCESS, UNPARTITIONED, AssetState, AttemptRecord, RunRecord,
                             SourceVersion, StateSnapshot, StoredVersions)

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


def stored_versions(cur: Any) -> StoredVersions:
    """Stored source fingerprints, and the newest data version anywhere in the store."""
    if not has_schema(cur):
        return StoredVersions()
    sources = {name: SourceVersion(fp, version)
               for name, fp, version in run(cur, "SELECT name, fingerprint, data_version FROM _assetflow.sources")}
    newest = run(cur, "SELECT coalesce(max(data_version), 0) FROM _assetflow.partitions")[0][0]
    return StoredVersions(sources, max([newest, *(s.data_version for s in sources.values())]))


def partition_versions(cur: Any, assets: set[str]) -> dict[str, dict[str, int]]:
    """Data versions of the successfully built partitions of `assets`, by partition key."""
    out: dict[str, dict[str, int]] = {name: {} for name in assets}
    if not assets or not has_schema(cur):
        return out
    for asset, key, version in run(cur, "SELECT asset, partition, data_version FROM _assetflow.partitions "
                                        "WHERE asset IN (SELECT unnest(?::VARCHAR[])) AND code_version IS NOT NULL",
                                   [sorted(assets)]):
        out[asset][key] = version
    return out


# The rules of freshness.deviations_of as one query over the partition records: each expected
# partition that deviates, with its flag bits. The expectation goes into temporary tables first
# (a read-only connection may create them; they live in memory, per connection): DuckDB plans
# joins against tables it can count several times faster than against unnested parameters.
# Assets are numbered by position, so after the first join everything is integers.
_EXPECTATION_TABLES = {
    "_af_assets": ("asset VARCHAR", "code VARCHAR", "def BIGINT", "srcv BIGINT", "aid BIGINT"),
    "_af_keys": ("def BIGINT", "idx BIGINT", "key VARCHAR"),
    "_af_windowed": ("aid BIGINT", "idx BIGINT", "v BIGINT"),
    "_af_shifts": ("down BIGINT", "up BIGINT", "delta BIGINT"),      # one row per lookback step
    "_af_everything": ("down BIGINT", "up BIGINT"),
    "_af_pairs": ("down BIGINT", "up BIGINT", "di BIGINT", "ui BIGINT"),
}

_DEVIATIONS = """
WITH p AS MATERIALIZED (
    SELECT a.aid, k.idx, CASE WHEN s.code_version IS NULL THEN 0 ELSE coalesce(s.data_version, 0) END AS v,
           CASE WHEN s.code_version IS NULL THEN 2 ELSE 0 END
           + CASE WHEN s.code_version <> a.code THEN 4 ELSE 0 END
           + CASE WHEN s.status = 'failed' THEN 8 ELSE 0 END AS flags, a.srcv
    FROM _assetflow.partitions s JOIN _af_assets a ON a.asset = s.asset
    JOIN _af_keys k ON k.def = a.def AND k.key = s.partition),
local AS (
    SELECT p.aid, p.idx, p.flags + CASE WHEN p.flags & 2 = 0 AND p.v < coalesce(w.v, p.srcv) THEN 16 ELSE 0 END AS flags
    FROM p LEFT JOIN _af_windowed w ON w.aid = p.aid AND w.idx = p.idx),
short AS (    -- assets with fewer records than partitions: only those can have missing ones
    SELECT a.aid, a.def FROM _af_assets a JOIN (SELECT def, count(*) AS n FROM _af_keys GROUP BY def) nk ON nk.def = a.def
    LEFT JOIN (SELECT aid, count(*) AS n FROM p GROUP BY aid) c ON c.aid = a.aid
    WHERE coalesce(c.n, 0) < nk.n),
missing AS (
    SELECT sh.aid, k.idx, 3 AS flags FROM short sh JOIN _af_keys k ON k.def = sh.def
    ANTI JOIN p ON p.aid = sh.aid AND p.idx = k.idx),
newest AS (SELECT aid, max(v) AS v FROM p GROUP BY aid),
reads AS (    -- every built partition with each upstream partition it reads (same grain, or pairs)
    SELECT d.aid, d.idx, d.v, e.up, d.idx + e.delta AS uidx FROM _af_shifts e JOIN p d ON d.aid = e.down
    WHERE d.flags & 2 = 0
    UNION ALL
    SELECT d.aid, d.idx, d.v, e.up, e.ui FROM _af_pairs e JOIN p d ON d.aid = e.down AND d.idx = e.di
    WHERE d.flags & 2 = 0),
changed AS (
    SELECT r.aid, r.idx, 32 AS flags FROM reads r JOIN p u ON u.aid = r.up AND u.idx = r.uidx WHERE u.v > r.v
    UNION ALL
    SELECT d.aid, d.idx, 32 FROM _af_everything e JOIN p d ON d.aid = e.down JOIN newest u ON u.aid = e.up
    WHERE d.flags & 2 = 0 AND u.v > d.v)
SELECT aid, idx, bit_or(flags) AS flags FROM (
    SELECT * FROM local WHERE flags <> 0 UNION ALL SELECT * FROM missing UNION ALL SELECT * FROM changed)
GROUP BY aid, idx
"""


def deviations(cur: Any, expectation: Expectation) -> dict[str, dict[int, int]]:
    """The partitions that deviate from `expectation` (see freshness.py), with their flag bits."""
    if not has_schema(cur):
        return deviations_of(StateSnapshot(), expectation)
    assets = expectation.assets
    aid = {a.name: n for n, a in enumerate(assets)}
    shifts, everything, pairs = mapping_rows(expectation)
    rows = {
        "_af_assets": [(a.name, a.code_version, a.definition, a.source_version, n) for n, a in enumerate(assets)],
        "_af_keys": [(d, i, key) for d, keys in enumerate(expectation.keys) for i, key in enumerate(keys)],
        "_af_windowed": [(aid[a.name], i, v) for a in assets for i, v in a.windowed.items()],
        "_af_shifts": [(aid[d], aid[u], delta) for d, u, o, lb in shifts for delta in range(o - lb, o + 1)],
        "_af_everything": [(aid[d], aid[u]) for d, u in everything],
        "_af_pairs": [(aid[d], aid[u], i, j) for d, u, i, j in pairs],
    }
    for table, columns in _EXPECTATION_TABLES.items():
        _temp_table(cur, table, columns, rows[table])
    out: dict[str, dict[int, int]] = {}
    for asset, idx, flags in run(cur, _DEVIATIONS):
        out.setdefault(assets[asset].name, {})[idx] = flags
    return out


def _temp_table(cur: Any, name: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """A temporary table from rows, sent as one list per column (one statement, no per-row work)."""
    select = ", ".join(f"unnest(${n + 1}::{c.split()[1]}[]) AS {c.split()[0]}" for n, c in enumerate(columns))
    values = [[r[n] for r in rows] for n in range(len(columns))]
    run(cur, f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select}", values)


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
