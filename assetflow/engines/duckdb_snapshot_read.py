"""Reading a snapshot (`duckdb_snapshot`) with the running run's journal laid over it.

A reader opens an in-memory DuckDB, attaches the snapshot read-only, and builds a schema
`_assetflow` of views over it, with the journal's committed attempts (the lines after those the
snapshot holds) added to `attempts`. The state store's own queries (`duckdb_state`: the folding
of unfolded runs' attempts over `partitions`, the deviation query, runs, failures) then run
unchanged over it, so the reader sees exactly what the store would show once those attempts are
read from the database. Neither the database nor the snapshot is written by a reader.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assetflow.engines import duckdb_state as store
from assetflow.engines.duckdb import DuckDBEngine
from assetflow.engines.duckdb_module import core as duckdb
from assetflow.engines import duckdb_outbox, duckdb_schedule_state
from assetflow.engines.duckdb_snapshot import ALIAS as _ALIAS, OPTIONAL_TABLES, TABLES, snapshot_path
from assetflow.engines.duckdb_sql import sql_string
from assetflow.engines.duckdb_state import run

_ATTEMPT_TYPES = {"run_id": "VARCHAR", "asset": "VARCHAR", "partition": "VARCHAR", "attempt": "INTEGER",
                  "status": "VARCHAR", "started_at": "TIMESTAMP", "ended_at": "TIMESTAMP", "rows": "BIGINT",
                  "error": "VARCHAR", "code_version": "VARCHAR", "data_version": "BIGINT",
                  "input_versions": "VARCHAR", "log": "VARCHAR[]"}
_JOURNAL_TYPES = {"seq": "BIGINT", "event": "VARCHAR", **_ATTEMPT_TYPES, "at": "TIMESTAMP", "pid": "INTEGER",
                  "command": "VARCHAR", "target": "VARCHAR"}


@dataclass(frozen=True)
class SnapshotInfo:
    run_id: str | None          # the run that published it (None: no snapshot was found)
    journal_lines: int
    taken_at: object            # naive UTC datetime, or None


@dataclass(frozen=True)
class Progress:
    """What a run's journal says it has done so far (partitions)."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    in_progress: int = 0
    ended: str | None = None     # the run's final status, once it wrote its end line
    lines: int = 0               # journal lines the snapshot does not hold


class SnapshotEngine(DuckDBEngine):
    """A read-only engine over a snapshot and a journal: the state store's reads work; the catalog
    it knows is the column list the snapshot copied (the data itself is not in it)."""

    def table_columns(self) -> dict[str, dict[str, dict[str, str]]]:
        out: dict[str, dict[str, dict[str, str]]] = {}
        for schema, table, column, dtype in run(
                self.connection(), "SELECT schema_name, table_name, column_name, data_type FROM _assetflow.columns "
                                   "ORDER BY schema_name, table_name, column_index"):
            out.setdefault(schema.lower(), {}).setdefault(table.lower(), {})[column] = dtype
        return out

    def existing_tables(self) -> set[str]:
        return {r[0].lower() for r in run(self.connection(), "SELECT DISTINCT schema_name || '.' || table_name "
                                                              "FROM _assetflow.columns")}

    def snapshot_info(self) -> SnapshotInfo:
        rows = run(self.connection(), "SELECT run_id, journal_lines, taken_at FROM _assetflow.snapshot_info")
        return SnapshotInfo(*rows[0]) if rows else SnapshotInfo(None, 0, None)

    def progress(self) -> Progress:
        rows = run(self.connection(), """
            SELECT count(*) FILTER (WHERE event = 'done'),
                   count(*) FILTER (WHERE event = 'done' AND status = 'failed'),
                   count(*) FILTER (WHERE event = 'done' AND status = 'skipped'),
                   (SELECT count(*) FROM (SELECT asset, partition FROM _assetflow.journal WHERE event = 'start'
                                          EXCEPT SELECT asset, partition FROM _assetflow.journal WHERE event = 'done')),
                   arg_max(status, seq) FILTER (WHERE event = 'end'), count(*)
            FROM _assetflow.journal""")
        return Progress(*rows[0])


def open_snapshot(database: str, journal: Path, journal_run: str | None) -> SnapshotEngine:
    """An engine over the newest snapshot of `database` with the journal of `journal_run` (None:
    no journal to read) laid over it. Without a snapshot, the state is empty plus the journal."""
    con = duckdb.connect(":memory:")
    try:
        path = snapshot_path(database)
        if path.exists():
            run(con, f"ATTACH {sql_string(str(path))} AS {_ALIAS} (READ_ONLY)")
        else:
            run(con, f"ATTACH ':memory:' AS {_ALIAS}")
            _empty_snapshot(con)
        run(con, "CREATE SCHEMA _assetflow")
        for table in (*TABLES, "snapshot_info", "columns"):
            if table not in ("attempts", "runs", "sources"):
                run(con, f"CREATE VIEW _assetflow.{table} AS SELECT * FROM {_ALIAS}._assetflow.{table}")
        _optional_views(con)
        _load_journal(con, journal, journal_run)
    except BaseException:
        con.close()
        raise
    return SnapshotEngine(con, True)


def _optional_views(con) -> None:
    """The scheduler's and the alerts' tables: views over the snapshot's copies, and empty tables
    where it has none (a snapshot published before the scheduler or an alert first wrote)."""
    copied = {r[0] for r in run(con, "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
                                     "AND schema_name = '_assetflow'", [_ALIAS])}
    for table in OPTIONAL_TABLES:
        if table in copied:
            run(con, f"CREATE VIEW _assetflow.{table} AS SELECT * FROM {_ALIAS}._assetflow.{table}")
    for statement in (*duckdb_schedule_state.DDL, *duckdb_outbox.DDL):
        created = re.search(r"_assetflow\.(\w+)", statement).group(1)
        if created not in copied:
            run(con, statement)


def _empty_snapshot(con) -> None:
    run(con, f"USE {_ALIAS}")
    store.ensure_schema(con)
    run(con, "CREATE TABLE _assetflow.snapshot_info (run_id VARCHAR, journal_lines BIGINT, taken_at TIMESTAMP, "
             "marker VARCHAR)")
    run(con, "CREATE TABLE _assetflow.columns (schema_name VARCHAR, table_name VARCHAR, column_name VARCHAR, "
             "data_type VARCHAR, column_index INTEGER)")
    run(con, "USE memory")


def _load_journal(con, journal: Path, journal_run: str | None) -> None:
    """The journal's lines after those the snapshot holds, as `_assetflow.journal`; its committed
    attempts (rebuilds swapped in or dropped applied) laid into `_assetflow.attempts`."""
    columns = ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in _JOURNAL_TYPES.items())
    names = ", ".join(f'"{k}"' for k in _JOURNAL_TYPES)
    if journal_run is None or not journal.exists():
        empty = ", ".join(f'NULL::{v} AS "{k}"' for k, v in _JOURNAL_TYPES.items())
        run(con, f"CREATE TABLE _assetflow.journal AS SELECT {empty} WHERE false")
    else:
        run(con, f"CREATE TABLE _assetflow.journal AS SELECT {names} FROM read_json({sql_string(str(journal))}, "
                 f"format = 'newline_delimited', ignore_errors = true, columns = {{{columns}}}) WHERE seq IS NOT NULL")
    if journal_run is not None:
        info = run(con, "SELECT run_id, journal_lines FROM _assetflow.snapshot_info")
        held = info[0][1] if info and info[0][0] == journal_run else 0
        run(con, "DELETE FROM _assetflow.journal WHERE seq <= ?", [held])
        # (and an attempt the snapshot holds already: each attempt has a data version of its own)
        run(con, f"DELETE FROM _assetflow.journal WHERE event = 'attempt' AND data_version IN "
                 f"(SELECT data_version FROM {_ALIAS}._assetflow.attempts WHERE run_id = ?)", [journal_run])
    attempt_columns = ", ".join(f'"{k}"' for k in _ATTEMPT_TYPES)
    run(con, f"CREATE TABLE _assetflow.journal_attempts AS SELECT {attempt_columns} FROM _assetflow.journal "
             f"WHERE event = 'attempt'")
    for event, status in (("promote", store.SUCCESS), ("discard", store.DISCARDED)):
        run(con, f"UPDATE _assetflow.journal_attempts SET status = ? WHERE status = ? AND asset IN "
                 f"(SELECT asset FROM _assetflow.journal WHERE event = ?)", [status, store.STAGED, event])
    run(con, f"CREATE VIEW _assetflow.sources AS SELECT * FROM {_ALIAS}._assetflow.sources WHERE name NOT IN "
             f"(SELECT asset FROM _assetflow.journal WHERE event = 'source') UNION ALL "
             f"SELECT asset, code_version, data_version FROM _assetflow.journal WHERE event = 'source'")
    # a run whose start was not published (its snapshot could not be written) is still a run
    run(con, f"CREATE VIEW _assetflow.runs AS SELECT * FROM {_ALIAS}._assetflow.runs UNION ALL "
             f"SELECT run_id, command, target, pid, started_at, NULL, 'running', false FROM _assetflow.journal "
             f"WHERE event = 'run' AND run_id NOT IN (SELECT run_id FROM {_ALIAS}._assetflow.runs)")
    run(con, f"CREATE VIEW _assetflow.attempts AS SELECT {attempt_columns} FROM {_ALIAS}._assetflow.attempts "
             f"UNION ALL SELECT {attempt_columns} FROM _assetflow.journal_attempts")
