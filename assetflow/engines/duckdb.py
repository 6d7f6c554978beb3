"""The embedded DuckDB engine: one connection per process, a cursor per worker thread.

Every write of an asset (a whole table, a view, or one partition) and its state record commit in
one explicit transaction, so readers see the old version or the new one and state always agrees
with data (DuckDB facts: multi-statement strings are not atomic; DDL on one table from several
threads conflicts, so it is serialized per table here).
"""
from __future__ import annotations

import hashlib
import re
import threading
from datetime import datetime, timezone
import itertools
from typing import Mapping

from assetflow.engines.duckdb_module import core as duckdb, python_api
from assetflow.assets import AssetKey, Kind, quote_identifier
from assetflow import checks as checking
from assetflow.checks import CheckResult
from assetflow.engines import duckdb_state as store
from assetflow.engines.base import BuildOutcome, BuildRequest, PartitionWindow, SourceView
from assetflow.engines.duckdb_checkpoint import CheckpointGate
from assetflow.engines.duckdb_sql import (OUTSIDE, Source, columns_of, describe, file_reader, params_of,
                                          window_filter, window_guard)
from assetflow.errors import AssetflowError, LockError, TargetError
from assetflow.plan.freshness import Expectation
from assetflow.state import AttemptRecord, RunRecord, SourceVersion, StateSnapshot, StoredVersions

run = store.run
_CONFLICT_RETRIES = 8


class SchemaChangeError(AssetflowError):
    """A partition's output columns differ from the existing table's."""


class PartitionWindowError(AssetflowError):
    """A partition's query returned rows outside the partition it replaces."""


class CheckFailedError(AssetflowError):
    """An error-severity check failed: the write was rolled back."""

    def __init__(self, message: str, results: tuple[CheckResult, ...]):
        super().__init__(message)
        self.results = results


def open_duckdb(path: str, *, read_only: bool = False, fault=lambda point: None) -> DuckDBEngine:
    """Open the database file (or ":memory:") as an engine."""
    try:
        con = duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = re.search(r"PID (\d+)", text)
            raise LockError(f"the database {path} is in use by another process"
                            + (f" (PID {pid.group(1)})" if pid else ""),
                            hint="run this again when that run has finished" if read_only else
                            "wait for the other run to finish, or pass --wait SECONDS") from None
        raise TargetError(f"cannot open the target database {path}: {text}",
                          hint="check the target's `path` in assetflow.toml") from None
    except duckdb.Error as exc:
        raise TargetError(f"cannot open the target database {path}: {exc}",
                          hint="check the target's `path` in assetflow.toml") from None
    return DuckDBEngine(con, read_only, fault, None if path == ":memory:" or read_only else path + ".wal")


class DuckDBEngine:
    def __init__(self, con: duckdb.DuckDBPyConnection, read_only: bool, fault=lambda point: None,
                 wal_path: str | None = None):
        self._fault = fault               # crash-test hook: named points of a write
        self._con = con
        self._read_only = read_only
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._guard = threading.Lock()
        self._table_locks: dict[AssetKey, threading.Lock] = {}
        self._names = itertools.count()
        # What exists in the catalog, read once: this process is the only writer (run lock), and
        # catalog queries cost more than a small build. Updated as builds commit.
        self._kinds: dict[AssetKey, str] | None = None
        self._columns: dict[AssetKey, list[tuple[str, str]]] = {}
        self._checked_outputs: set[AssetKey] = set()    # partitioned outputs already checked this session
        self._gate = CheckpointGate(wal_path, self._checkpoint)

    # ------------------------------------------------------------------ connections

    def connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, pinned to UTC so time windows never depend on the machine.

        Partitions of one run read the same files over and over (each day of a backfill scans the
        same Parquet source), so Parquet footers are cached; DuckDB checks a cached footer against
        the file before using it, so a rewritten file is read afresh.
        """
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            run(cur, "SET TimeZone = 'UTC'")
            run(cur, "SET parquet_metadata_cache = true")
            self._local.cursor = cur
            with self._guard:
                self._cursors.append(cur)
        return cur

    def python_connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor for user code (a Python asset's `context.con`), with DuckDB's
        Python API (`con.sql(...)`, relations, Arrow) loaded."""
        python_api()
        return self.connection()

    def interrupt(self) -> None:
        with self._guard:
            cursors = list(self._cursors)
        for cur in cursors:
            try:
                cur.interrupt()
            except duckdb.Error:
                pass

    def close(self) -> None:
        with self._guard:
            for cur in self._cursors:
                try:
                    cur.close()
                except duckdb.Error:
                    pass
            self._cursors.clear()
        self._con.close()

    def skip_checkpoint_on_close(self) -> None:
        """Leave this session's (small) write-ahead log for the next open to replay."""
        run(self.connection(), "PRAGMA disable_checkpoint_on_shutdown")

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)

    def _lock_for(self, key: AssetKey) -> threading.Lock:
        with self._guard:
            return self._table_locks.setdefault(key, threading.Lock())

    # ------------------------------------------------------------------ state store

    def read_state(self, with_rows: bool = False) -> StateSnapshot:
        return store.read_state(self.connection(), with_rows)

    def stored_versions(self) -> StoredVersions:
        return store.stored_versions(self.connection())

    def deviations(self, expectation: Expectation) -> dict[str, dict[int, int]]:
        from assetflow.engines.duckdb_deviations import deviations
        return deviations(self.connection(), expectation)

    def partition_versions(self, assets: set[str]) -> dict[str, dict[str, int]]:
        return store.partition_versions(self.connection(), assets)

    def record_run(self, record: RunRecord, folded: bool = False) -> None:
        if not self._read_only:
            store.record_run(self.connection(), record, folded)

    def record_sources(self, versions: Mapping[str, SourceVersion]) -> None:
        store.record_sources(self.connection(), versions)

    def record_failure(self, attempt: AttemptRecord) -> None:
        cur = self.connection()
        self._transaction(cur, lambda: store.write_failure(cur, attempt))

    def fold_runs(self) -> None:
        """Bring the partition records up to date with every recorded attempt (see duckdb_state);
        creates or upgrades the state store first."""
        cur = self.connection()
        store.ensure_schema(cur)
        if store.has_unfolded(cur):
            self._transaction(cur, lambda: store.fold_runs(cur))

    def list_runs(self, limit: int) -> list[RunRecord]:
        return store.list_runs(self.connection(), limit)

    def run_attempts(self, run_id: str) -> list[AttemptRecord]:
        return store.run_attempts(self.connection(), run_id)

    def mark_abandoned_runs(self, now: datetime) -> int:
        return store.mark_abandoned(self.connection(), now)

    def find_runs(self, prefix: str) -> list[str]:
        return store.find_run(self.connection(), prefix)

    # ------------------------------------------------------------------ preparation

    def prepare(self, schemas: set[str], file_sources: list[SourceView]) -> None:
        cur = self.connection()
        store.ensure_schema(cur)
        for schema in sorted(schemas | {s.key.schema for s in file_sources}):
            run(cur, f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
        for source in file_sources:
            self._ensure_source_view(cur, source)

    def _ensure_source_view(self, cur, source: SourceView) -> None:
        """A view over the files; CSV dialect and columns are sniffed once, not on every query."""
        reader = file_reader(cur, source.glob)
        statement = f"CREATE OR REPLACE VIEW {source.key.quoted()} AS SELECT * FROM {reader}"
        meta_key = f"view:{source.key}"
        current = run(cur, "SELECT value FROM _assetflow.meta WHERE key = ?", [meta_key])
        exists = run(cur, "SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
                     [source.key.schema, source.key.name])[0][0]
        if current and current[0][0] == statement and exists:
            return
        self._transaction(cur, lambda: (run(cur, statement), run(
            cur, "INSERT OR REPLACE INTO _assetflow.meta VALUES (?, ?)", [meta_key, statement])))

    # ------------------------------------------------------------------ reads

    def read_arrow(self, key: AssetKey, window: PartitionWindow | None):
        python_api()
        cur = self.connection()
        where, params = window_filter(window)
        return cur.sql(f"SELECT * FROM {key.quoted()} WHERE {where}", params=params or None).to_arrow_table()

    def table_columns(self) -> dict[str, dict[str, dict[str, str]]]:
        """{schema: {table: {column: type}}} for every table and view, for column lineage."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for schema, table, column, dtype in run(
                self.connection(), "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                                   "WHERE database_name = current_database() AND schema_name <> '_assetflow' "
                                   "ORDER BY schema_name, table_name, column_index"):
            out.setdefault(schema.lower(), {}).setdefault(table.lower(), {})[column] = dtype
        return out

    def group_counts(self, relation: str, key_sql: str) -> dict[str, int]:
        """Rows per partition key of a relation."""
        rows = run(self.connection(), f"SELECT {key_sql} AS k, count(*) FROM {relation} GROUP BY ALL")
        return {("" if k is None else str(k)): n for k, n in rows}

    def count_rows(self, sql: str) -> int:
        return run(self.connection(), f"SELECT count(*) FROM ({sql})")[0][0]

    def query_fingerprint(self, sql: str, params: dict | None = None) -> str | None:
        """A hash of a freshness query's result; None when the query fails (its source is missing)."""
        try:
            rows = run(self.connection(), sql, params)
        except duckdb.Error:
            return None
        return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]

    def existing_tables(self) -> set[str]:
        rows = run(self.connection(), "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
                                      "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() "
                                      "WHERE NOT internal")
        return {r[0].lower() for r in rows}

    # ------------------------------------------------------------------ writes

    def build(self, request: BuildRequest) -> BuildOutcome:
        for attempt in range(_CONFLICT_RETRIES):
            try:
                return self._build_once(request)
            except duckdb.TransactionException as exc:
                # Concurrent writers to one table can conflict; that is ours to absorb, not a failure.
                if "conflict" not in str(exc).lower() or attempt == _CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _build_once(self, request: BuildRequest) -> BuildOutcome:
        cur = self.connection()
        with self._registered(cur, request) as source:
            if request.kind is Kind.PARTITIONED:
                return self._replace_partition(cur, request, source)
            with self._lock_for(request.key):
                return self._replace_relation(cur, request, source)

    def _replace_relation(self, cur, request: BuildRequest, source: str) -> BuildOutcome:
        target = request.key.quoted()
        rows, results = [0], []

        def work():
            self._drop_other_kind(cur, request.key, view=request.kind is Kind.VIEW)
            if request.kind is Kind.VIEW:
                run(cur, f"CREATE OR REPLACE VIEW {target} AS {source}")
            else:
                rows[0] = run(cur, f"CREATE OR REPLACE TABLE {target} AS {source}", params_of(request))[0][0]
            results.extend(self._run_checks(cur, request.key, request.checks, None))
            store.write_success(cur, request.attempt, rows[0])

        self._checked_transaction(cur, work, results)
        self._set_kind(request.key, "view" if request.kind is Kind.VIEW else "table")
        return BuildOutcome(rows[0], checks=tuple(results))

    def _replace_partition(self, cur, request: BuildRequest, source: str) -> BuildOutcome:
        """Delete the partition's window and insert the query's rows, in one transaction.

        The query runs once, straight into the table: a row outside the window raises inside the
        INSERT (DuckDB's error()), so nothing is staged and nothing half-written can commit. The
        first partition creates the table in its own transaction, under the table's lock.
        """
        window = request.window
        assert window is not None
        with self._lock_for(request.key):
            create = self._prepare_partition_table(cur, request, source, window)
            if create is not None:
                outcome = self._write_partition(cur, request, source, window, create)
                self._set_kind(request.key, "table")
                return outcome
        return self._write_partition(cur, request, source, window, None)

    def _write_partition(self, cur, request: BuildRequest, source: str, window: PartitionWindow,
                         create: str | None) -> BuildOutcome:
        where, params = window_filter(window)
        guard, guard_params = window_guard(window)
        insert = (f"INSERT INTO {request.key.quoted()} BY NAME SELECT * FROM ({source}) AS q "
                  f"WHERE CASE WHEN {guard} THEN true ELSE error('{OUTSIDE}') END")
        rows, rows_each, results = [0], [], []

        def work():
            if create is not None:
                self._drop_other_kind(cur, request.key, view=False)
                run(cur, create, params_of(request))
            run(cur, f"DELETE FROM {request.key.quoted()} WHERE {where}", params)
            self._fault("after_delete")
            rows[0] = run(cur, insert, {**(params_of(request) or {}), **guard_params})[0][0]
            rows_each.extend(self._batch_rows(cur, request))
            results.extend(self._run_checks(cur, request.key, request.checks, window))
            if not request.batch:
                store.write_success(cur, request.attempt, rows[0])
            for (attempt, _), count in zip(request.batch, rows_each):
                store.write_success(cur, attempt, count)

        try:
            self._checked_transaction(cur, work, results)
        except duckdb.InvalidInputException as exc:
            if OUTSIDE not in str(exc):
                raise
            raise PartitionWindowError(
                f"the query returned rows outside the partition ({describe(window)}); "
                "they would not be replaced on the next run",
                hint=f"filter the query on {window.column} with $start/$end (or $partition)") from None
        return BuildOutcome(rows[0], tuple(rows_each), tuple(results))

    def _prepare_partition_table(self, cur, request: BuildRequest, source: str,
                                 window: PartitionWindow) -> str | None:
        """Check the output once per asset and session: it has the partition column, and its columns
        match the table's (a query's column types do not depend on its parameter values). Returns
        the CREATE statement when the table does not exist yet."""
        key = request.key
        empty = f"CREATE TABLE {key.quoted()} AS SELECT * FROM ({source}) LIMIT 0"
        if self._kind_of(cur, key) != "table":
            self._check_output(cur, request, source, window)
            return empty
        if key not in self._checked_outputs:
            output = self._check_output(cur, request, source, window)
            self._check_columns(cur, key, output, empty, params_of(request), recreate=request.rebuilding_all)
            self._checked_outputs.add(key)
        return None

    def _check_output(self, cur, request: BuildRequest, source: str, window: PartitionWindow):
        output = columns_of(cur, f"({source})", params_of(request))
        if window.column.lower() not in [c.lower() for c, _ in output]:
            raise PartitionWindowError(
                f"the output has no column '{window.column}', which holds each row's partition "
                f"(columns: {', '.join(c for c, _ in output)})",
                hint="return that column, or point time_column / partition_column at one that exists")
        return output

    def run_checks(self, key: AssetKey, specs, window: PartitionWindow | None) -> list[CheckResult]:
        """Run checks against what is in the table now (`assetflow check`)."""
        return self._run_checks(self.connection(), key, tuple(specs), window)

    def record_checks(self, run_id: str, asset: str, partition: str | None, results) -> None:
        cur = self.connection()
        self._transaction(cur, lambda: store.write_checks(cur, run_id, asset, partition, results, self.now()))

    def latest_checks(self) -> list[tuple]:
        return store.latest_checks(self.connection())

    @staticmethod
    def _run_checks(cur, key: AssetKey, checks, window: PartitionWindow | None) -> list[CheckResult]:
        where, params = window_filter(window)
        results = []
        for spec, ref_relation in checks:
            query = checking.check_query(spec, key.quoted(), where, tuple(params), ref_relation)
            results.append(checking.judge(query, run(cur, query.sql, list(query.params))[0][0]))
        return results

    def _checked_transaction(self, cur, work, results: list[CheckResult]) -> None:
        """Commit data and state, or roll both back when an error-severity check fails."""
        def guarded():
            work()
            failing = [r for r in results if not r.passed and r.severity == "error"]
            if failing:
                raise CheckFailedError(checking.describe_failures(failing), tuple(results))
        self._transaction(cur, guarded, data=True)

    @staticmethod
    def _batch_rows(cur, request: BuildRequest) -> list[int]:
        """Rows per partition of a batch, counted in the table inside the writing transaction."""
        counts = []
        for _, part_window in request.batch:
            where, params = window_filter(part_window)
            counts.append(run(cur, f"SELECT count(*) FROM {request.key.quoted()} WHERE {where}", params)[0][0])
        return counts

    def _table_columns(self, cur, key: AssetKey) -> list[tuple[str, str]]:
        with self._guard:
            cached = self._columns.get(key)
        if cached is None:
            cached = columns_of(cur, key.quoted())
            with self._guard:
                self._columns[key] = cached
        return cached

    def _check_columns(self, cur, key: AssetKey, stage_columns: list[tuple[str, str]], create_empty: str,
                       params: dict | None, *, recreate: bool) -> None:
        """New columns never mix with old ones: recreate the table when this run rebuilds every
        partition (its records are reset in the same transaction), otherwise fail with the diff."""
        have = self._table_columns(cur, key)
        new = stage_columns
        if [(c.lower(), t) for c, t in have] != [(c.lower(), t) for c, t in new]:
            if recreate:
                self._transaction(cur, lambda: (
                    run(cur, f"DROP TABLE {key.quoted()}"),
                    run(cur, create_empty, params),
                    store.forget_partitions(cur, str(key))))
                self._set_kind(key, "table")
                return
            old_cols, new_cols = dict(have), dict(new)
            diff = [f"-{c} {t}" for c, t in have if new_cols.get(c) != t] + \
                   [f"+{c} {t}" for c, t in new if old_cols.get(c) != t]
            raise SchemaChangeError(
                f"the output columns of {key} changed ({', '.join(diff) or 'column order'}); "
                "existing partitions have the old columns",
                hint=f"rebuild every partition: assetflow materialize {key} (without --partition), "
                     "or add --full-refresh")

    def _kind_of(self, cur, key: AssetKey) -> str | None:
        with self._guard:
            if self._kinds is None:
                rows = run(cur, "SELECT schema_name, view_name, 'view' FROM duckdb_views() WHERE NOT internal "
                                "UNION ALL SELECT schema_name, table_name, 'table' FROM duckdb_tables() "
                                "WHERE database_name = current_database()")
                self._kinds = {AssetKey.of(schema, name): kind for schema, name, kind in rows}
            return self._kinds.get(key)

    def _set_kind(self, key: AssetKey, kind: str | None) -> None:
        with self._guard:
            if self._kinds is not None:
                self._kinds[key] = kind  # type: ignore[assignment]
            self._columns.pop(key, None)

    def _drop_other_kind(self, cur, key: AssetKey, *, view: bool) -> None:
        """A table that became a view (or back) must be dropped first: DuckDB won't replace across kinds."""
        kind = self._kind_of(cur, key)
        if view and kind == "table":
            run(cur, f"DROP TABLE {key.quoted()}")
        elif not view and kind == "view":
            run(cur, f"DROP VIEW {key.quoted()}")

    def _registered(self, cur, request: BuildRequest):
        return Source(cur, request, f"__af_arrow_{next(self._names)}")

    def _transaction(self, cur, work, *, data: bool = False) -> None:
        """BEGIN ... COMMIT around `work`; named fault points fire only around data writes."""
        fault = self._fault if data else (lambda point: None)
        fault("before_transaction")
        with self._gate.transaction():
            run(cur, "BEGIN TRANSACTION")
            try:
                work()
                fault("before_commit")
                run(cur, "COMMIT")
                fault("after_commit")
            except BaseException:
                try:
                    run(cur, "ROLLBACK")
                except duckdb.Error:
                    pass
                raise

    def _checkpoint(self) -> None:
        try:
            run(self.connection(), "CHECKPOINT")
        except duckdb.Error:
            pass               # a statement outside the gate was running: DuckDB checkpoints later
