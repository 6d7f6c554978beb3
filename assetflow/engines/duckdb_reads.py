"""What the DuckDB engine reads besides state: an asset's rows (Arrow, a preview), row counts
per partition key, the catalog's tables and columns, a freshness query's fingerprint.

A base class of `DuckDBEngine`, which supplies `connection()` (this thread's cursor). Nothing here
writes.
"""
from __future__ import annotations

import hashlib

from assetflow.assets import AssetKey
from assetflow.engines import duckdb_rebuild as rebuild
from assetflow.engines.base import PartitionWindow
from assetflow.engines.duckdb_module import core as duckdb, python_api
from assetflow.engines.duckdb_sql import window_filter
from assetflow.engines.duckdb_state import run


class DuckDBReads:
    """The read-only queries of the DuckDB engine."""

    def read_arrow(self, key: AssetKey, window: PartitionWindow | None):
        python_api()
        cur = self.connection()
        where, params = window_filter(window)
        return cur.sql(f"SELECT * FROM {key.quoted()} WHERE {where}", params=params or None).to_arrow_table()

    def table_columns(self) -> dict[str, dict[str, dict[str, str]]]:
        """{schema: {table: {column: type}}} for every table and view, for column lineage (a
        rebuild's staging table left by a killed run is not one of them)."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for schema, table, column, dtype in run(
                self.connection(), "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                                   "WHERE database_name = current_database() AND schema_name <> '_assetflow' "
                                   "ORDER BY schema_name, table_name, column_index"):
            if not rebuild.is_staging_table(table):
                out.setdefault(schema.lower(), {}).setdefault(table.lower(), {})[column] = dtype
        return out

    def group_counts(self, relation: str, key_sql: str) -> dict[str, int]:
        """Rows per partition key of a relation."""
        rows = run(self.connection(), f"SELECT {key_sql} AS k, count(*) FROM {relation} GROUP BY ALL")
        return {("" if k is None else str(k)): n for k, n in rows}

    def preview(self, key: AssetKey, window: PartitionWindow | None, limit: int):
        """(columns, rows) of up to `limit` rows, for `assetflow show`."""
        from assetflow.engines.duckdb_preview import preview
        return preview(self.connection(), key, window, limit)

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
        return {r[0].lower() for r in rows if not rebuild.is_staging_table(r[0])}
