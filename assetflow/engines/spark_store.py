"""Where a Spark target's tables live, recorded in assetflow's own state store (a DuckDB file).

`spark_tables` holds one row per asset (its kind, columns, the version directory of an
unpartitioned table, a view's SQL); `spark_parts` one row per partition of a partitioned table
(its version directory; none for a partition that holds no rows). A row is written in the
transaction that records the build's attempt, after the version directory was written and
verified, so the state never points at data that is not complete; the Spark catalog is rebuilt
from these rows in every session.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from assetflow.engines.duckdb_state import run

DDL = """
CREATE SCHEMA IF NOT EXISTS _assetflow;
CREATE TABLE IF NOT EXISTS _assetflow.spark_tables (
    asset VARCHAR PRIMARY KEY, kind VARCHAR, location VARCHAR, columns VARCHAR, view_sql VARCHAR,
    seq BIGINT);
CREATE TABLE IF NOT EXISTS _assetflow.spark_parts (
    asset VARCHAR, partition VARCHAR, location VARCHAR, rows BIGINT, PRIMARY KEY (asset, partition));
"""

PART = "__af_partition"       # the partition key column of a partitioned asset's data table


def name_of(asset: str) -> str:
    schema, _, table = asset.partition(".")
    return f"`{schema}`.`{table}`"


def data_name(asset: str) -> str:
    """The partitioned table behind a partitioned asset's view."""
    schema, _, table = asset.partition(".")
    return f"`{schema}`.`__af_{table}`"


def string(text: str) -> str:
    """A Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class SparkTable:
    asset: str
    kind: str                                  # table | partitioned | view
    location: str | None                       # an unpartitioned table's version directory
    columns: tuple[tuple[str, str], ...]       # (name, Spark type) of the asset's columns
    view_sql: str | None
    seq: int                                   # registration order (a view after what it reads)


def ensure(cur) -> None:
    for statement in DDL.strip().split(";"):
        if statement.strip():
            run(cur, statement)


def exists(cur) -> bool:
    return bool(run(cur, "SELECT 1 FROM duckdb_tables() WHERE schema_name = '_assetflow' "
                         "AND table_name = 'spark_tables'"))


def tables(cur) -> list[SparkTable]:
    if not exists(cur):
        return []
    rows = run(cur, "SELECT asset, kind, location, columns, view_sql, seq FROM _assetflow.spark_tables ORDER BY seq")
    return [SparkTable(a, k, loc, tuple(tuple(c) for c in json.loads(cols)), sql, seq)
            for a, k, loc, cols, sql, seq in rows]


def parts(cur, asset: str | None = None) -> dict[str, dict[str, str | None]]:
    """{asset: {partition: version directory or None}}."""
    if not exists(cur):
        return {}
    where, params = ("WHERE asset = ?", [asset]) if asset else ("", None)
    out: dict[str, dict[str, str | None]] = {}
    for a, partition, location in run(cur, f"SELECT asset, partition, location FROM _assetflow.spark_parts {where}",
                                      params):
        out.setdefault(a, {})[partition] = location
    return out


def put_table(cur, table: SparkTable) -> None:
    """Record (or replace) an asset's table; a new asset goes after every other."""
    seq = run(cur, "SELECT coalesce((SELECT seq FROM _assetflow.spark_tables WHERE asset = ?), "
                   "(SELECT coalesce(max(seq), 0) + 1 FROM _assetflow.spark_tables))", [table.asset])[0][0]
    if table.kind == "view":   # a view is registered after the tables it reads: it moves to the end
        seq = run(cur, "SELECT coalesce(max(seq), 0) + 1 FROM _assetflow.spark_tables")[0][0]
    run(cur, "INSERT OR REPLACE INTO _assetflow.spark_tables VALUES (?, ?, ?, ?, ?, ?)",
        [table.asset, table.kind, table.location, json.dumps([list(c) for c in table.columns]), table.view_sql, seq])
    if table.kind != "partitioned":
        run(cur, "DELETE FROM _assetflow.spark_parts WHERE asset = ?", [table.asset])


def put_parts(cur, asset: str, located: list[tuple[str, str | None, int]]) -> None:
    """Point partitions at their version directories: (partition, location or None, rows)."""
    run(cur, "CREATE TEMP TABLE IF NOT EXISTS __af_parts (partition VARCHAR, location VARCHAR, rows BIGINT)")
    run(cur, "DELETE FROM __af_parts")
    cur.executemany("INSERT INTO __af_parts VALUES (?, ?, ?)", [list(p) for p in located])
    run(cur, "INSERT OR REPLACE INTO _assetflow.spark_parts SELECT ?, partition, location, rows FROM __af_parts",
        [asset])


def replace_parts(cur, asset: str, located: list[tuple[str, str | None, int]]) -> None:
    """The asset's partitions are these and no others (a rebuild swapped in)."""
    run(cur, "DELETE FROM _assetflow.spark_parts WHERE asset = ?", [asset])
    put_parts(cur, asset, located)


def forget(cur, asset: str) -> None:
    run(cur, "DELETE FROM _assetflow.spark_tables WHERE asset = ?", [asset])
    run(cur, "DELETE FROM _assetflow.spark_parts WHERE asset = ?", [asset])


def referenced(cur) -> set[str]:
    """Every version directory the state points at (the rest under the warehouse is garbage)."""
    if not exists(cur):
        return set()
    rows = run(cur, "SELECT location FROM _assetflow.spark_tables WHERE location IS NOT NULL "
                    "UNION SELECT location FROM _assetflow.spark_parts WHERE location IS NOT NULL")
    return {r[0] for r in rows}
