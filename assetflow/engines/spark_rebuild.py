"""A partitioned table whose columns change, rebuilt on Spark as on DuckDB: whole, or not at all.

A run that rebuilds every partition of such an asset writes each partition (or batch) into its
own version directory as usual, verifies it and runs its checks, but records the attempt as
`staged` and does not touch the table: the state still points at the old directories with the
old columns, and the session's catalog still shows the old table. Once every partition of the
rebuild succeeded, one state transaction records the new columns and the new directories of all
partitions and turns the staged attempts into successes; then the catalog re-registers the
table over them. A rebuild that does not complete is discarded: its attempts become
`discarded`, its directories are garbage for `clean`, and the old table, its rows and its records
are as they were.

The rebuild is remembered in the state's `meta` (as on DuckDB) in the transaction of its first
staged partition, so a run that died leaves nothing the next run's `prepare` does not discard.
A partial run (some partitions only) whose columns differ fails with the column diff.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from assetflow.assets import AssetKey
from assetflow.engines import duckdb_rebuild, duckdb_state as store, spark_store
from assetflow.engines.spark_store import SparkTable

# What `prepare` (DuckDB's) drops when it discards a rebuild a dead run left: a Spark rebuild has
# no staging table in the state file (its partitions are version directories), so this names a
# table that never exists and the DROP ... IF EXISTS does nothing.
NO_STAGING_TABLE = '"_assetflow"."__spark_rebuild_has_no_staging_table"'


@dataclass
class _Rebuild:
    columns: tuple[tuple[str, str], ...]
    located: dict[str, tuple[str | None, int]] = field(default_factory=dict)   # partition -> (dir, rows)


class SparkRebuilds:
    """The rebuilds of one engine (one run), by asset."""

    def __init__(self, state):
        self._state = state
        self._guard = threading.Lock()
        self._open: dict[str, _Rebuild] = {}

    def staged(self, request, columns: tuple[tuple[str, str], ...]) -> bool:
        """Whether this partitioned build goes beside the table (raises the column diff when
        the columns changed in a run that does not rebuild every partition)."""
        asset = str(request.key)
        with self._guard:
            if asset in self._open:
                return True
        have = next((t for t in self._state.read(spark_store.tables) if t.asset == asset), None)
        if have is None or have.kind != "partitioned" or duckdb_rebuild.same_columns(list(have.columns),
                                                                                    list(columns)):
            return False
        if not request.rebuilding_all:
            raise duckdb_rebuild.schema_change(request.key, list(have.columns), list(columns))
        with self._guard:
            self._open.setdefault(asset, _Rebuild(columns))
        return True

    def rebuilding(self, key: AssetKey) -> bool:
        with self._guard:
            return str(key) in self._open

    def record(self, cur, asset: str, located, attempts) -> None:
        """The staged partitions' attempts (in the caller's transaction); the table is untouched."""
        for (key, _, rows), attempt in zip(located, attempts):
            store.write_success(cur, attempt, rows, status=store.STAGED)
        store.begin_rebuild(cur, asset, NO_STAGING_TABLE)

    def remember(self, asset: str, located) -> None:
        """After the staged transaction committed: these directories belong to the rebuild."""
        with self._guard:
            rebuild = self._open[asset]
            for key, location, rows in located:
                rebuild.located[key] = (location, rows)

    def swap_in(self, catalog, key: AssetKey, run_id: str, fault) -> None:
        """The new columns and every rebuilt partition's directory in one state transaction, then
        the catalog over them."""
        asset = str(key)
        with self._guard:
            rebuild = self._open.get(asset)
        if rebuild is None:
            return
        table = SparkTable(asset, "partitioned", None, rebuild.columns, None, 0)
        located = [(k, loc, rows) for k, (loc, rows) in sorted(rebuild.located.items())]

        def work(cur):
            spark_store.put_table(cur, table)          # keeps its place in the registration order
            spark_store.replace_parts(cur, asset, located)
            store.promote_staged(cur, run_id, asset)
            store.end_rebuild(cur, asset)
        with catalog.lock:
            self._state.in_transaction(work)
            with self._guard:
                self._open.pop(asset, None)
            catalog.register(table, {k: loc for k, loc, _ in located})

    def discard(self, key: AssetKey) -> None:
        asset = str(key)
        with self._guard:
            rebuild = self._open.pop(asset, None)
        if rebuild is None:
            return

        def work(cur):
            store.discard_staged(cur, asset)
            store.end_rebuild(cur, asset)
        self._state.in_transaction(work)

    def discard_all(self) -> None:
        with self._guard:
            assets = list(self._open)
        for asset in assets:
            self.discard(AssetKey.parse(asset))
