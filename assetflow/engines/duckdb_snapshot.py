"""A read-only copy of the state tables, for readers while a run holds the database file.

DuckDB lets one process open a file for writing and then nobody else, not even read-only
(DUCKDB-FACTS). So a run publishes the `_assetflow` tables (and the catalog's column list) into
`<database>.snapshot` when it starts and when it ends: a small DuckDB file written beside it under
a temporary name and renamed into place, so a reader sees a whole snapshot or the previous one.
Between the two the run appends its progress to a journal (`run/journal.py`); readers open
both with `duckdb_snapshot_read`.
"""
from __future__ import annotations

import os
from pathlib import Path

from assetflow.engines.duckdb_sql import sql_string
from assetflow.engines.duckdb_state import run

TABLES = ("meta", "runs", "partitions", "attempts", "sources", "check_results")
ALIAS = "__af_snapshot"


def snapshot_path(database: str) -> Path:
    return Path(database + ".snapshot")


# ---------------------------------------------------------------------------- the run's side


def publish(cur, database: str, run_id: str, journal_lines: int, taken_at) -> None:
    """Copy the state tables into `<database>.snapshot` (atomically, by rename). `journal_lines`:
    how many lines of the run's journal the copy already holds."""
    final = snapshot_path(database)
    tmp = final.with_name(final.name + f".tmp-{os.getpid()}")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    run(cur, f"ATTACH {sql_string(str(tmp))} AS {ALIAS}")
    try:
        run(cur, f"CREATE SCHEMA {ALIAS}._assetflow")
        for table in TABLES:
            run(cur, f"CREATE TABLE {ALIAS}._assetflow.{table} AS SELECT * FROM _assetflow.{table}")
        run(cur, f"CREATE TABLE {ALIAS}._assetflow.snapshot_info AS SELECT ?::VARCHAR AS run_id, "
                 f"?::BIGINT AS journal_lines, ?::TIMESTAMP AS taken_at", [run_id, journal_lines, taken_at])
        run(cur, f"CREATE TABLE {ALIAS}._assetflow.columns AS SELECT schema_name, table_name, column_name, "
                 f"data_type, column_index FROM duckdb_columns() WHERE database_name = current_database() "
                 f"AND schema_name <> '_assetflow'")
        run(cur, f"CHECKPOINT {ALIAS}")
    finally:
        run(cur, f"DETACH {ALIAS}")
    os.replace(tmp, final)


