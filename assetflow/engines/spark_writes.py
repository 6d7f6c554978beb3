"""Spark writes: rows into a fresh version directory, verified, recorded, then pointed at.

1. The asset's rows (its SQL, a Python asset's Arrow table, a seed read by DuckDB) are written as
   Parquet into `<warehouse>/<schema>/<table>/_v/<run>-<id>/`, a batch of partitions in one Spark
   job (`partitionBy` the partition key); a row outside the batch's windows fails the job.
2. Verified: `_SUCCESS` is there and the rows are counted back per partition; checks run on them.
3. Recorded: the attempts and the new locations commit in one state transaction.
4. Pointed at: the session's catalog swaps the partitions (or the table) to the new directories.
A kill before 3 leaves an unreferenced directory (garbage for `clean`); after 3, the next session
registers the new directories from the state. Old directories are never deleted here: a reader
may have listed their files.
"""
from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path

from assetflow.assets import Kind
from assetflow.engines import duckdb_state as store, spark_store
from assetflow.engines.base import BuildOutcome, BuildRequest, PartitionWindow
from assetflow.engines.spark_store import PART
from assetflow.engines.spark_store import SparkTable
from assetflow.project import sql_rewrite as sqltext

OUTSIDE = "assetflow: a row falls outside the partition being written"


def write(engine, request: BuildRequest) -> BuildOutcome:
    catalog = engine.catalog()
    asset = str(request.key)
    if request.kind is Kind.VIEW:
        return _view(engine, catalog, request)
    frame = source_frame(engine, catalog, request)
    entries = _entries(request)
    columns = tuple((f.name, f.dataType.simpleString()) for f in frame.schema.fields)
    staged = bool(entries) and engine.rebuilds.staged(request, columns)    # beside the table (columns changed)
    version = version_dir(engine.warehouse, asset, request.attempt.run_id)
    if entries:
        frame = frame.selectExpr("*", f"{_partition_key(entries)} AS `{PART}`")
        frame.write.partitionBy(PART).parquet(version)
    else:
        frame.write.parquet(version)
    counts = _verify(catalog, version, bool(entries))
    results = _checks(catalog, request, version, bool(entries))
    failing = [r for r in results if not r.passed and r.severity == "error"]
    if failing:
        from assetflow import checks as checking
        from assetflow.engines.duckdb import CheckFailedError
        raise CheckFailedError(checking.describe_failures(failing), tuple(results))
    if entries:
        located = [(key, partition_dir(version, key) if counts.get(key) else None, counts.get(key, 0))
                   for key, _, _ in entries]
        table = SparkTable(asset, "partitioned", None, columns, None, 0)
    else:
        located = []
        table = SparkTable(asset, "table", version, columns, None, 0)
    # One state commit at a time: two partitions of a new asset inserting its `spark_tables` row in
    # concurrent transactions is a primary-key conflict in DuckDB (a partition then failed at
    # random under load), and a registration must read every partition already committed.
    with catalog.lock:
        engine.check_interrupted(request.key)       # Ctrl-C while the job ended: roll it back
        if staged:
            engine.state.in_transaction(lambda cur: engine.rebuilds.record(
                cur, asset, located, [attempt for _, _, attempt in entries]))
            engine.rebuilds.remember(asset, located)
        else:
            _record(engine, request, table, located, counts)
            _point(catalog, table, located)
    rows_each = tuple(counts.get(key, 0) for key, _, _ in entries) if request.batch else ()
    return BuildOutcome(sum(counts.values()), rows_each, tuple(results))


def _entries(request: BuildRequest) -> list[tuple[str, PartitionWindow, object]]:
    """(partition key, window, attempt) of each partition the request writes."""
    if request.kind is not Kind.PARTITIONED:
        return []
    if request.batch:
        return [(attempt.partition, window, attempt) for attempt, window in request.batch]
    return [(request.attempt.partition, request.window, request.attempt)]


def version_dir(warehouse: str, asset: str, run_id: str) -> str:
    return f"{warehouse.rstrip('/')}/{asset.replace('.', '/')}/_v/{run_id}-{uuid.uuid4().hex[:8]}"


# Characters Spark escapes in a partition directory name (ExternalCatalogUtils.escapePathName)
_ESCAPED = set('"#%\'*/:=?\\\x7f{[]^') | {chr(c) for c in range(0x20)}


def partition_dir(version: str, key: str) -> str:
    escaped = "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in key)
    return f"{version}/{PART}={escaped}"


def _literal(value) -> str:
    return sqltext.transpile("SELECT ?", "duckdb", "spark", {"?": [value]})[len("SELECT "):]


def _partition_key(entries) -> str:
    """Each row's partition key; a row in none of the batch's windows fails the write."""
    branches = []
    for key, window, _ in entries:
        column = f"`{window.column}`"
        if window.key is not None:
            condition = f"{column} = {_literal(window.key)}"
        else:
            condition = f"{column} >= {_literal(window.start)} AND {column} < {_literal(window.end)}"
        branches.append(f"WHEN {condition} THEN {_literal(key)}")
    return f"CASE {' '.join(branches)} ELSE raise_error('{OUTSIDE}') END"


def source_frame(engine, catalog, request: BuildRequest):
    """The DataFrame of the asset's rows."""
    spark = catalog.spark
    if request.arrow is not None:
        return from_arrow(spark, request.arrow)
    if request.seed_file is not None:
        return spark.read.parquet(_seed_parquet(engine, request))
    return spark.sql(bound_sql(request))


def bound_sql(request: BuildRequest) -> str:
    if not request.params:
        return request.sql
    return sqltext.transpile(request.sql, "spark", "spark", dict(request.params))


def from_arrow(spark, table):
    """A Python asset's Arrow table as a DataFrame; naive timestamps stay naive (TIMESTAMP_NTZ)."""
    import pyarrow as pa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = spark.createDataFrame(table)
    naive = [f.name for f in table.schema if pa.types.is_timestamp(f.type) and not f.type.tz]
    for column in naive:
        frame = frame.withColumn(column, frame[column].cast("timestamp_ntz"))
    return frame


def _seed_parquet(engine, request: BuildRequest) -> str:
    """The seed read by DuckDB (the same reader and types as on a DuckDB target) into Parquet."""
    from assetflow.engines.duckdb_sql import seed_reader, sql_string
    folder = Path(engine.warehouse) / "_seeds"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{request.key}-{uuid.uuid4().hex[:8]}.parquet"

    def copy(cur):
        store.run(cur, f"COPY (SELECT * FROM {seed_reader(cur, request.seed_file, request.seed_options)}) "
                       f"TO {sql_string(str(target))} (FORMAT parquet)")
    engine.state.read(copy)
    return str(target)


def _verify(catalog, version: str, partitioned: bool) -> dict[str, int]:
    """Rows per partition key (or under "" for a table), read back from the version directory."""
    local = "://" not in version or version.startswith("file:")
    if local and not os.path.exists(os.path.join(version.removeprefix("file:"), "_SUCCESS")):
        raise RuntimeError(f"the write to {version} did not complete (no _SUCCESS)")
    frame = catalog.spark.read.parquet(version)
    if not partitioned:
        return {"": frame.count()}
    rows = frame.groupBy(PART).count().collect()
    return {str(r[0]): int(r[1]) for r in rows}


def _checks(catalog, request: BuildRequest, version: str, partitioned: bool):
    if not request.checks:
        return []
    frame = catalog.spark.read.parquet(version)
    if partitioned:
        frame = frame.drop(PART)
    view = f"__af_new_{uuid.uuid4().hex[:8]}"
    frame.createOrReplaceTempView(view)
    try:
        return catalog.run_checks(view, request.checks, request.window)
    finally:
        catalog.spark.catalog.dropTempView(view)


def _record(engine, request: BuildRequest, table: SparkTable, located, counts: dict[str, int]) -> None:
    def work(cur):
        if located:
            for (key, _, rows), (_, _, attempt) in zip(located, _entries(request)):
                store.write_success(cur, attempt, rows)
        else:
            store.write_success(cur, request.attempt, counts.get("", 0))
        spark_store.put_table(cur, table)
        if located:
            spark_store.put_parts(cur, table.asset, located)
    engine.state.in_transaction(work)


def _point(catalog, table: SparkTable, located) -> None:
    """The catalog follows the state: a table re-registered, or the batch's partitions swapped.
    Under the catalog's lock: a registration reads every partition the state holds, so one that
    another worker recorded meanwhile is never dropped by it."""
    with catalog.lock:
        registered = catalog.kind(table.asset)
        if table.kind == "partitioned" and registered == "partitioned" and catalog.columns(table.asset) == table.columns:
            catalog.swap_partitions(table.asset, {k: loc for k, loc, _ in located})
            return
        parts = catalog._state.read(lambda cur: spark_store.parts(cur, table.asset)).get(table.asset, {})
        catalog.register(table, parts)


def _view(engine, catalog, request: BuildRequest) -> BuildOutcome:
    asset = str(request.key)
    text = bound_sql(request)
    columns = tuple((f.name, f.dataType.simpleString()) for f in catalog.spark.sql(text).schema.fields)
    table = SparkTable(asset, "view", None, columns, text, 0)

    def work(cur):
        store.write_success(cur, request.attempt, None)
        spark_store.put_table(cur, table)
    with catalog.lock:                  # one state commit at a time (see write)
        engine.state.in_transaction(work)
        catalog.register(table, {})
    return BuildOutcome(None)
