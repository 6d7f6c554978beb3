"""What one engine session knows about the catalog: which relations exist and their columns, and
a lock per table for DDL.

The catalog is read once: this process is the only writer (run lock), and catalog queries cost
more than a small build. Builds update it as they commit. DDL on one table from several threads
conflicts in DuckDB ("Catalog write-write conflict"), so it is serialized per table.
"""
from __future__ import annotations

import threading

from assetflow.assets import AssetKey
from assetflow.engines.duckdb_sql import columns_of
from assetflow.engines.duckdb_state import run


class Catalog:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[AssetKey, threading.Lock] = {}
        self._kinds: dict[AssetKey, str] | None = None
        self._columns: dict[AssetKey, list[tuple[str, str]]] = {}

    def lock_for(self, key: AssetKey) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def kind_of(self, cur, key: AssetKey) -> str | None:
        """'table', 'view' or None."""
        with self._guard:
            if self._kinds is None:
                rows = run(cur, "SELECT schema_name, view_name, 'view' FROM duckdb_views() WHERE NOT internal "
                                "UNION ALL SELECT schema_name, table_name, 'table' FROM duckdb_tables() "
                                "WHERE database_name = current_database()")
                self._kinds = {AssetKey.of(schema, name): kind for schema, name, kind in rows}
            return self._kinds.get(key)

    def set_kind(self, key: AssetKey, kind: str | None) -> None:
        """`key` was (re)created as `kind` (its columns are read afresh next time)."""
        with self._guard:
            if self._kinds is not None:
                self._kinds[key] = kind  # type: ignore[assignment]
            self._columns.pop(key, None)

    def table_columns(self, cur, key: AssetKey) -> list[tuple[str, str]]:
        with self._guard:
            cached = self._columns.get(key)
        if cached is None:
            cached = columns_of(cur, key.quoted())
            with self._guard:
                self._columns[key] = cached
        return cached

    def drop_other_kind(self, cur, key: AssetKey, *, view: bool) -> None:
        """A table that became a view (or back) must be dropped first: DuckDB won't replace across kinds."""
        kind = self.kind_of(cur, key)
        if view and kind == "table":
            run(cur, f"DROP TABLE {key.quoted()}")
        elif not view and kind == "view":
            run(cur, f"DROP VIEW {key.quoted()}")
