"""The embedded DuckDB engine: one connection per process, a cursor per worker thread.

Every write of an asset (a whole table, a view, or one partition) and its state record commit in
one explicit transaction, so readers see the old version or the new one and state always agrees
with data (DuckDB facts: multi-statement strings are not atomic; DDL on one table from several
threads conflicts, so it is serialized per table here).
"""
from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
import itertools

from assetflow.engines.duckdb_module import core as duckdb, python_api
from assetflow.assets import AssetKey, Kind, quote_identifier
from assetflow import checks as checking
from assetflow.checks import CheckResult
from assetflow.engines import duckdb_errors, duckdb_rebuild as rebuild, duckdb_state as store
from assetflow.engines.base import BuildOutcome, BuildRequest, PartitionWindow, SourceView
from assetflow.engines.duckdb_catalog import Catalog
from assetflow.engines.duckdb_checkpoint import CheckpointGate
from assetflow.engines.duckdb_partitions import PartitionWrites
from assetflow.engines.duckdb_reads import DuckDBReads
from assetflow.engines.duckdb_sql import Source, params_of, rows_written, run_checks
from assetflow.engines.duckdb_store import DuckDBStateStore
from assetflow.engines.duckdb_views import MovedView, ensure_source_view, moved_source_views
from assetflow.errors import AssetflowError, FailureKind, LockError, TargetError

run = store.run
_CONFLICT_RETRIES = 8


class UnsupportedQueryError(AssetflowError):
    """A query DuckDB cannot run the way the asset needs it (not worth retrying)."""


# DuckDB runs a PIVOT whose columns come from the data as several statements, which cannot take
# parameters; a partitioned asset's window is bound as parameters.
_EXPANDS = "statement that expands into several"


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
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise TargetError(f"cannot open the target database {path}: {exc}",
                              hint="check the target's `path` in assetflow.toml") from None
        raise LockError(f"the database {path} is open for writing in this process",     # `serve` runs a build
                        hint="wait for the run to finish") from None
    except duckdb.Error as exc:
        raise TargetError(f"cannot open the target database {path}: {exc}",
                          hint="check the target's `path` in assetflow.toml") from None
    return DuckDBEngine(con, read_only, fault, None if path == ":memory:" or read_only else path + ".wal")


class DuckDBEngine(DuckDBStateStore, DuckDBReads):
    dialect = "duckdb"            # the SQL dialect the engine runs (what compile produces for it)

    def __init__(self, con: duckdb.DuckDBPyConnection, read_only: bool, fault=lambda point: None,
                 wal_path: str | None = None):
        self._fault = fault               # crash-test hook: named points of a write
        self._con = con
        self._read_only = read_only
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._guard = threading.Lock()
        self._names = itertools.count()
        self._catalog = Catalog()
        self._partitions = PartitionWrites(self._catalog, self._transaction, self._checked_transaction, fault)
        self._gate = CheckpointGate(wal_path, self._checkpoint)
        self._session: tuple[str, ...] = ()     # statements every cursor runs first (project variables)
        self._macros_made: set[str] = set()     # CREATE MACRO statements run in this session
        self._macro_lock = threading.Lock()

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
            with self._guard:
                for statement in self._session:
                    run(cur, statement)
                self._local.cursor = cur
                self._cursors.append(cur)
        return cur

    def ensure_macros(self, statements: tuple[str, ...]) -> None:
        """Create project macros in the database (once a session each, in the order given: DuckDB
        binds a macro's body when it is created, so what it calls and the tables it reads must
        exist). They persist, so a view that calls one can be read by any client."""
        with self._guard:
            missing = [s for s in statements if s not in self._macros_made]
        if not missing:
            return
        cur = self.connection()
        with self._macro_lock:
            for statement in missing:
                if statement not in self._macros_made:
                    run(cur, statement)
                    self._macros_made.add(statement)

    def use_session(self, statements: tuple[str, ...]) -> None:
        """Run `statements` (`SET VARIABLE ...`) on every cursor: those open now and each one
        opened later, before it runs anything else."""
        with self._guard:
            self._session = tuple(statements)
            cursors = list(self._cursors)
        for cur in cursors:
            for statement in statements:
                run(cur, statement)

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

    def interrupter(self):
        """A callable that cancels what this thread's cursor is running (an attempt's timeout)."""
        return self.connection().interrupt

    def close(self) -> None:
        with self._guard:
            for cur in self._cursors:
                try:
                    cur.close()
                except duckdb.Error:
                    pass
            self._cursors.clear()
        self._con.close()

    def publish_snapshot(self, database: str, run_id: str, journal_lines: int, *, unless_current: bool = False
                         ) -> bool:
        """Copy the state tables beside the database for readers while this run holds it; with
        `unless_current`, not when the published copy already shows the state apart from this run
        (the previous run published it when it ended). Returns whether it copied."""
        from assetflow.engines import duckdb_snapshot as snapshot
        cur = self.connection()
        marker = snapshot.store_marker(cur, run_id if unless_current else "")
        if unless_current and snapshot.is_empty(marker):
            snapshot.snapshot_path(database).unlink(missing_ok=True)   # (left by a database since deleted)
            return False                 # the first run: readers see an empty state and its journal
        if unless_current and snapshot.published_marker(cur, database) == marker:
            return False
        snapshot.publish(cur, database, run_id, journal_lines, self.now(), marker)
        return True

    def skip_checkpoint_on_close(self) -> None:
        """Leave this session's (small) write-ahead log for the next open to replay."""
        run(self.connection(), "PRAGMA disable_checkpoint_on_shutdown")

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)

    @staticmethod
    def failure_kind(exc: BaseException) -> FailureKind:
        """Whether retrying a build that raised `exc` could help (see duckdb_errors)."""
        return duckdb_errors.failure_kind(exc)

    # ------------------------------------------------------------------ preparation

    def prepare(self, schemas: set[str], file_sources: list[SourceView]) -> None:
        """Schemas, source views, and no staging table left by a run that died (under the run lock,
        every rebuild still recorded belongs to a dead run)."""
        cur = self.connection()
        store.ensure_schema(cur, self._transaction)
        for asset, staging in store.rebuilds(cur).items():
            self._transaction(cur, lambda: rebuild.discard(cur, asset, staging))
        wanted = sorted(schemas | {s.key.schema for s in file_sources})          # one commit for them all
        self._transaction(cur, lambda: [run(cur, f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(s)}") for s in wanted])
        for source in file_sources:
            ensure_source_view(cur, source, self._transaction)

    def moved_source_views(self, file_sources: list[SourceView]) -> list[MovedView]:
        """Source views that read files where the project no longer has them (it moved)."""
        cur = self.connection()
        return moved_source_views(cur, file_sources) if store.has_schema(cur) else []

    def repoint_source_views(self, file_sources: list[SourceView]) -> list[MovedView]:
        """Recreate the source views that read an old place; cheap when none moved (no sniffing)."""
        moved = self.moved_source_views(file_sources)
        names = {m.name for m in moved}
        cur = self.connection()
        for source in file_sources:
            if str(source.key) in names:
                ensure_source_view(cur, source, self._transaction)
        return moved

    def collect_garbage(self) -> int:
        """Data no state points at: none here (a write and its record commit together)."""
        return 0

    # ------------------------------------------------------------------ writes

    def build(self, request: BuildRequest) -> BuildOutcome:
        for attempt in range(_CONFLICT_RETRIES):
            try:
                return self._build_once(request)
            except duckdb.TransactionException as exc:
                # Concurrent writers to one table can conflict; that is ours to absorb, not a failure.
                if "conflict" not in str(exc).lower() or attempt == _CONFLICT_RETRIES - 1:
                    raise
            except duckdb.InvalidInputException as exc:
                if _EXPANDS not in str(exc):
                    raise
                raise UnsupportedQueryError(
                    "DuckDB cannot bind a partition's $start/$end (or $partition) into a PIVOT whose "
                    "columns come from the data", hint="list the pivoted values (PIVOT ... ON region IN "
                    "('eu', 'us') ...), or pivot in an unpartitioned table asset") from None
        raise AssertionError("unreachable")

    def _build_once(self, request: BuildRequest) -> BuildOutcome:
        cur = self.connection()
        with self._registered(cur, request) as source:
            if request.kind is Kind.PARTITIONED:
                return self._partitions.replace(cur, request, source)
            with self._catalog.lock_for(request.key):
                return self._replace_relation(cur, request, source)

    def _replace_relation(self, cur, request: BuildRequest, source: str) -> BuildOutcome:
        """A table or view is built into a new relation that replaces the old one at COMMIT."""
        target = request.key.quoted()
        rows, results = [None if request.kind is Kind.VIEW else 0], []   # a view has no row count

        def work():
            self._catalog.drop_other_kind(cur, request.key, view=request.kind is Kind.VIEW)
            if request.kind is Kind.VIEW:
                run(cur, f"CREATE OR REPLACE VIEW {target} AS {source}")
            else:
                created = run(cur, f"CREATE OR REPLACE TABLE {target} AS {source}", params_of(request))
                rows[0] = rows_written(cur, created, target)
            results.extend(run_checks(cur, target, request.checks, None))
            store.write_success(cur, request.attempt, rows[0])

        self._checked_transaction(cur, work, results)
        self._catalog.set_kind(request.key, "view" if request.kind is Kind.VIEW else "table")
        return BuildOutcome(rows[0], checks=tuple(results))

    # A partitioned table whose columns change in a full rebuild is rebuilt beside the live one
    # and swapped in only when every partition succeeded (duckdb_rebuild, duckdb_partitions).

    def rebuilding(self, key: AssetKey) -> bool:
        """Whether this session writes `key`'s partitions into a staging table (a rebuild)."""
        return self._partitions.rebuilding(key)

    def swap_in(self, key: AssetKey, run_id: str) -> None:
        """Every partition of the rebuild succeeded: it replaces the table, records and all, atomically."""
        self._partitions.swap_in(self.connection(), key, run_id, _CONFLICT_RETRIES)

    def discard_rebuild(self, key: AssetKey) -> None:
        """Drop a rebuild that will not be swapped in; the table and its records stay as they were."""
        self._partitions.discard(self.connection(), key)

    def discard_rebuilds(self) -> None:
        """Drop every rebuild of this session not swapped in (a run that stopped early)."""
        self._partitions.discard_all(self.connection())

    # ------------------------------------------------------------------ checks

    def run_checks(self, key: AssetKey, specs, window: PartitionWindow | None) -> list[CheckResult]:
        """Run checks against what is in the table now (`assetflow check`)."""
        return run_checks(self.connection(), key.quoted(), tuple(specs), window)

    def in_transaction(self, work) -> None:
        """work(cursor) in one transaction, with the write fault points (the Spark engine records
        a verified write and where it lives so)."""
        cur = self.connection()
        self._transaction(cur, lambda: work(cur), data=True)

    def read(self, query):
        """query(cursor) outside a transaction (the Spark engine's own state tables)."""
        return query(self.connection())

    def _checked_transaction(self, cur, work, results: list[CheckResult]) -> None:
        """Commit data and state, or roll both back when an error-severity check fails."""
        def guarded():
            work()
            failing = [r for r in results if not r.passed and r.severity == "error"]
            if failing:
                raise CheckFailedError(checking.describe_failures(failing), tuple(results))
        self._transaction(cur, guarded, data=True)

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

