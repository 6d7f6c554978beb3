"""Partitioned writes on DuckDB: one partition (or a batch) replaced in one transaction, and the
rebuild of a whole table beside the live one when its columns change (duckdb_rebuild).

The query runs once, straight into the table: `DELETE` the partition's window, then `INSERT ...
SELECT * FROM (query) q WHERE CASE WHEN <q in the window> THEN true ELSE error(...) END`, then the
state record, then `COMMIT`. A row outside the window raises inside the INSERT, so nothing
half-written can commit. The output's columns are checked once per asset and session with a
zero-row read (a query's column types do not depend on its parameter values).
"""
from __future__ import annotations

import threading
from typing import Callable

from assetflow.assets import AssetKey
from assetflow.engines import duckdb_rebuild as rebuild, duckdb_state as store
from assetflow.engines.base import BuildOutcome, BuildRequest, PartitionWindow
from assetflow.engines.duckdb_catalog import Catalog
from assetflow.engines.duckdb_module import core as duckdb
from assetflow.engines.duckdb_sql import (OUTSIDE, columns_of, describe, params_of, rows_written, run_checks,
                                          window_filter, window_guard)
from assetflow.engines.duckdb_state import run
from assetflow.errors import AssetflowError


class PartitionWindowError(AssetflowError):
    """A partition's query returned rows outside the partition it replaces."""


class PartitionWrites:
    """The partitioned writes of one engine session; `transaction(cur, work, data=...)` and
    `checked(cur, work, results)` are the engine's transactions (fault points, checkpoint gate,
    error checks)."""

    def __init__(self, catalog: Catalog, transaction: Callable, checked: Callable, fault: Callable[[str], None]):
        self._catalog = catalog
        self._transaction = transaction
        self._checked = checked
        self._fault = fault
        self._guard = threading.Lock()
        self._checked_outputs: set[AssetKey] = set()     # outputs already checked this session
        self._rebuilds: dict[AssetKey, AssetKey] = {}    # table -> its staging table, while rebuilt beside it

    def replace(self, cur, request: BuildRequest, source: str) -> BuildOutcome:
        """Replace the request's partition(s). The first partition creates the table in its own
        transaction, under the table's lock; a full rebuild whose columns changed writes into the
        rebuild's staging table."""
        window = request.window
        assert window is not None
        with self._catalog.lock_for(request.key):
            create = self._prepare_table(cur, request, source, window)
            if create is not None:
                outcome = self._write(cur, request, source, window, create)
                self._catalog.set_kind(request.key, "table")
                return outcome
        return self._write(cur, request, source, window, None)

    def _write(self, cur, request: BuildRequest, source: str, window: PartitionWindow,
               create: str | None) -> BuildOutcome:
        with self._guard:
            staging = self._rebuilds.get(request.key)
        target = (staging or request.key).quoted()
        status = store.STAGED if staging is not None else store.SUCCESS
        where, params = window_filter(window)
        guard, guard_params = window_guard(window)
        insert = (f"INSERT INTO {target} BY NAME SELECT * FROM ({source}) AS q "
                  f"WHERE CASE WHEN {guard} THEN true ELSE error('{OUTSIDE}') END")
        rows, rows_each, results = [0], [], []

        def work():
            if create is not None:
                self._catalog.drop_other_kind(cur, request.key, view=False)
                run(cur, create, params_of(request))
            run(cur, f"DELETE FROM {target} WHERE {where}", params)
            self._fault("after_delete")
            inserted = run(cur, insert, {**(params_of(request) or {}), **guard_params})
            rows[0] = rows_written(cur, inserted, target, where, params)
            rows_each.extend(_batch_rows(cur, request, target))
            results.extend(run_checks(cur, target, request.checks, window))
            if not request.batch:
                store.write_success(cur, request.attempt, rows[0], status)
            for (attempt, _), count in zip(request.batch, rows_each):
                store.write_success(cur, attempt, count, status)

        try:
            self._checked(cur, work, results)
        except duckdb.InvalidInputException as exc:
            if OUTSIDE not in str(exc):
                raise
            raise PartitionWindowError(
                f"the query returned rows outside the partition ({describe(window)}); "
                "they would not be replaced on the next run",
                hint=f"filter the query on {window.column} with $start/$end (or $partition)") from None
        return BuildOutcome(rows[0], tuple(rows_each), tuple(results))

    def _prepare_table(self, cur, request: BuildRequest, source: str, window: PartitionWindow) -> str | None:
        """Check the output once per asset and session: it has the partition column, and its columns
        match the table's. Returns the CREATE statement when the table does not exist yet."""
        key = request.key
        if self._catalog.kind_of(cur, key) != "table":
            _check_output(cur, request, source, window)
            return f"CREATE TABLE {key.quoted()} AS SELECT * FROM ({source}) LIMIT 0"
        if key not in self._checked_outputs:
            output = _check_output(cur, request, source, window)
            self._check_columns(cur, request, source, output)
            self._checked_outputs.add(key)
        return None

    def _check_columns(self, cur, request: BuildRequest, source: str, output: list[tuple[str, str]]) -> None:
        """New columns never mix with old ones. When this run rebuilds every partition, they are
        built beside the old table and swapped in at the end; otherwise the attempt fails with the
        diff."""
        key = request.key
        have = self._catalog.table_columns(cur, key)
        if rebuild.same_columns(have, output):
            return
        if not request.rebuilding_all:
            raise rebuild.schema_change(key, have, output)
        staging: list[AssetKey] = []
        self._transaction(cur, lambda: staging.append(rebuild.begin(cur, key, source, params_of(request))))
        with self._guard:
            self._rebuilds[key] = staging[0]

    # ------------------------------------------------------------------ rebuilds beside the table

    def rebuilding(self, key: AssetKey) -> bool:
        with self._guard:
            return key in self._rebuilds

    def swap_in(self, cur, key: AssetKey, run_id: str, retries: int) -> None:
        """The staging table replaces the table, and its partitions' records become current, in one
        transaction (a write-write conflict with a concurrent writer is retried)."""
        with self._catalog.lock_for(key):
            for attempt in range(retries):
                try:
                    self._transaction(cur, lambda: rebuild.swap_in(cur, key, run_id, self._fault), data=True)
                    break
                except duckdb.TransactionException as exc:
                    if "conflict" not in str(exc).lower() or attempt == retries - 1:
                        raise
            with self._guard:
                self._rebuilds.pop(key, None)
            self._catalog.set_kind(key, "table")

    def discard(self, cur, key: AssetKey) -> None:
        """Drop the staging table of a rebuild that will not be swapped in; the table is untouched."""
        with self._catalog.lock_for(key):
            with self._guard:
                staging = self._rebuilds.pop(key, None)
                self._checked_outputs.discard(key)
            if staging is not None:
                self._transaction(cur, lambda: rebuild.discard(cur, str(key), staging.quoted()))

    def discard_all(self, cur) -> None:
        with self._guard:
            keys = list(self._rebuilds)
        for key in keys:
            self.discard(cur, key)


def _check_output(cur, request: BuildRequest, source: str, window: PartitionWindow) -> list[tuple[str, str]]:
    output = columns_of(cur, f"({source})", params_of(request))
    if window.column.lower() not in [c.lower() for c, _ in output]:
        raise PartitionWindowError(
            f"the output has no column '{window.column}', which holds each row's partition "
            f"(columns: {', '.join(c for c, _ in output)})",
            hint="return that column, or point time_column / partition_column at one that exists")
    return output


def _batch_rows(cur, request: BuildRequest, target: str) -> list[int]:
    """Rows per partition of a batch, counted in the table inside the writing transaction."""
    counts = []
    for _, part_window in request.batch:
        where, params = window_filter(part_window)
        counts.append(run(cur, f"SELECT count(*) FROM {target} WHERE {where}", params)[0][0])
    return counts
