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

from assetflow.engines.duckdb_module import core as duckdb
from assetflow.engines.duckdb_sql import sql_string
from assetflow.engines.duckdb_state import run

TABLES = ("meta", "runs", "partitions", "attempts", "sources", "check_results")
# Tables that exist only once the scheduler or an alert wrote to the store: copied when they
# exist; a reader gives a snapshot without them empty ones (`duckdb_snapshot_read`).
OPTIONAL_TABLES = ("schedules", "schedule_ticks", "scheduler_heartbeat", "outbox", "incidents")
ALIAS = "__af_snapshot"


def snapshot_path(database: str) -> Path:
    return Path(database + ".snapshot")


# ---------------------------------------------------------------------------- the run's side


# What a snapshot copies of each table: the state is copied whole; of the history, the attempts of
# the latest runs (and of any unfolded one) and the latest result of each check, so that the copy
# grows with the state, not with every attempt ever made.
RECENT_RUNS = 50
_SELECTS = {
    "attempts": f"SELECT * FROM _assetflow.attempts WHERE run_id IN (SELECT run_id FROM _assetflow.runs "
                f"ORDER BY started_at DESC LIMIT {RECENT_RUNS}) OR run_id IN "
                f"(SELECT run_id FROM _assetflow.runs WHERE NOT folded)",
    "check_results": "SELECT * FROM _assetflow.check_results QUALIFY row_number() OVER "
                     "(PARTITION BY asset, partition, check_name ORDER BY checked_at DESC) = 1",
    # ticks: the latest of each schedule, those of the runs copied, and any still started
    "schedule_ticks": f"SELECT * FROM _assetflow.schedule_ticks QUALIFY row_number() OVER (PARTITION BY schedule "
                      f"ORDER BY tick DESC) <= {RECENT_RUNS} OR status = 'started' OR run_id IN "
                      f"(SELECT run_id FROM _assetflow.runs ORDER BY started_at DESC LIMIT {RECENT_RUNS})",
    # alerts: every one still pending, and the latest others
    "outbox": f"SELECT * FROM _assetflow.outbox WHERE status = 'pending' OR id IN (SELECT id FROM "
              f"_assetflow.outbox ORDER BY created_at DESC LIMIT {RECENT_RUNS * 10})",
}
# What of an optional table the marker summarizes (a change there makes a run publish again).
_OPTIONAL_MARKERS = {
    "schedules": "md5(coalesce(string_agg(concat_ws('/', name, definition, enabled, since, last_tick, pending), "
                 "',' ORDER BY name), ''))",
    # (times may be a frozen clock's: the statuses count too)
    "schedule_ticks": "count(*) || '/' || coalesce(max(updated_at)::VARCHAR, '') || '/' || "
                      "count(*) FILTER (WHERE status = 'started')",
    "outbox": "count(*) || '/' || coalesce(max(updated_at)::VARCHAR, '') || '/' || "
              "coalesce(sum(attempts), 0) || '/' || count(*) FILTER (WHERE status = 'pending')",
    "incidents": "count(*) || '/' || coalesce(max(notified_at)::VARCHAR, '')",
}


def present_optional(cur) -> tuple[str, ...]:
    """Which of OPTIONAL_TABLES this store has."""
    found = {r[0] for r in run(cur, "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                                    "AND schema_name = '_assetflow'")}
    return tuple(t for t in OPTIONAL_TABLES if t in found)


def publish(cur, database: str, run_id: str, journal_lines: int, taken_at, marker: str) -> None:
    """Copy the state tables into `<database>.snapshot` (atomically, by rename). `journal_lines`:
    how many lines of the run's journal the copy already holds; `marker`: `store_marker` now."""
    final = snapshot_path(database)
    tmp = final.with_name(final.name + f".tmp-{os.getpid()}")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    run(cur, f"ATTACH {sql_string(str(tmp))} AS {ALIAS}")
    try:
        run(cur, f"CREATE SCHEMA {ALIAS}._assetflow")
        for table in (*TABLES, *present_optional(cur)):
            select = _SELECTS.get(table, f"SELECT * FROM _assetflow.{table}")
            run(cur, f"CREATE TABLE {ALIAS}._assetflow.{table} AS {select}")
        run(cur, f"CREATE TABLE {ALIAS}._assetflow.snapshot_info AS SELECT ?::VARCHAR AS run_id, "
                 f"?::BIGINT AS journal_lines, ?::TIMESTAMP AS taken_at, ?::VARCHAR AS marker",
            [run_id, journal_lines, taken_at, marker])
        run(cur, f"CREATE TABLE {ALIAS}._assetflow.columns AS SELECT schema_name, table_name, column_name, "
                 f"data_type, column_index FROM duckdb_columns() WHERE database_name = current_database() "
                 f"AND schema_name <> '_assetflow'")
        run(cur, f"CHECKPOINT {ALIAS}")
    finally:
        run(cur, f"DETACH {ALIAS}")
    os.replace(tmp, final)


EMPTY = "0//0|0/0|"           # how `store_marker` starts on a store without runs or partitions


def is_empty(marker: str) -> bool:
    """A store with no runs, no partitions and no ticks: there is nothing a snapshot would show."""
    return marker.startswith(EMPTY) and "|schedule_ticks=" not in marker


def store_marker(cur, leaving_out: str) -> str:
    """A summary of the state tables that changes with every write a snapshot would show (a run
    recorded or ended, a partition or check recorded or dropped), leaving out run `leaving_out`:
    a run compares it, at its start, with the one its predecessor published at its end."""
    row = run(cur, """
        SELECT (SELECT count(*) || '/' || coalesce(max(started_at)::VARCHAR, '') || '/' ||
                       count(*) FILTER (WHERE status = 'running' OR NOT folded)
                FROM _assetflow.runs WHERE run_id <> ?),
               (SELECT count(*) || '/' || coalesce(max(data_version), 0) FROM _assetflow.partitions),
               (SELECT count(*) FROM _assetflow.attempts WHERE run_id <> ?),
               (SELECT count(*) FROM _assetflow.check_results),
               (SELECT count(*) FROM _assetflow.meta)""", [leaving_out, leaving_out])[0]
    extras = [f"{t}={run(cur, f'SELECT {_OPTIONAL_MARKERS[t]} FROM _assetflow.{t}')[0][0]}"
              for t in present_optional(cur) if t in _OPTIONAL_MARKERS]
    return "|".join([*map(str, row), *extras])


def published_marker(cur, database: str) -> str | None:
    """The marker of the snapshot now published (None: there is none, or it cannot be read)."""
    path = snapshot_path(database)
    if not path.exists():
        return None
    alias = ALIAS + "_check"
    try:
        run(cur, f"ATTACH {sql_string(str(path))} AS {alias} (READ_ONLY)")
    except duckdb.Error:       # a damaged or foreign file: publish a new one
        return None
    try:
        rows = run(cur, f"SELECT marker FROM {alias}._assetflow.snapshot_info")
        return rows[0][0] if rows else None
    except duckdb.Error:       # a file without assetflow's snapshot table: publish a new one
        return None
    finally:
        run(cur, f"DETACH {alias}")
