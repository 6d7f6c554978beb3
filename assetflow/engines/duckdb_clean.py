"""What `assetflow clean` reads and removes in a DuckDB target: the relations assetflow built, the
assets its state records, and rows outside a partition range. Nothing is dropped here that the
caller did not find in assetflow's own state (see assetflow/run/clean.py)."""
from __future__ import annotations

from typing import Any, Callable

from assetflow.assets import quote_identifier
from assetflow.engines import duckdb_state as store
from assetflow.engines.base import CleanRequest, PartitionRange
from assetflow.engines.duckdb_sql import range_condition, sql_string
from assetflow.engines.duckdb_state import run

VIEW_PREFIX = "view:"                  # _assetflow.meta keys of the file source views assetflow made


class Cleaner:
    def __init__(self, cur: Any, transaction: Callable[[Any, Callable[[], None]], None]):
        self._cur = cur
        self._transaction = transaction

    def relations(self) -> dict[str, str]:
        """{"schema.name": "table" | "view"} of every relation outside `_assetflow`."""
        rows = run(self._cur, "SELECT schema_name || '.' || table_name, 'table' FROM duckdb_tables() "
                              "WHERE database_name = current_database() AND schema_name <> '_assetflow' "
                              "UNION ALL SELECT schema_name || '.' || view_name, 'view' FROM duckdb_views() "
                              "WHERE NOT internal AND database_name = current_database() "
                              "AND schema_name <> '_assetflow'")
        return {name.lower(): kind for name, kind in rows}

    def recorded(self) -> dict[str, tuple[int, bool]]:
        """{asset: (partition records, whether any was built)} for every asset the state records."""
        if not store.has_schema(self._cur):
            return {}
        rows = run(self._cur, f"SELECT asset, count(*), bool_or(code_version IS NOT NULL) "
                              f"FROM {store.current_partitions(self._cur)} GROUP BY asset")
        return {asset: (n, bool(built)) for asset, n, built in rows}

    def source_views(self) -> set[str]:
        """The views assetflow created over file sources."""
        if not store.has_schema(self._cur):
            return set()
        rows = run(self._cur, "SELECT key FROM _assetflow.meta WHERE starts_with(key, ?)", [VIEW_PREFIX])
        return {key[len(VIEW_PREFIX):].lower() for (key,) in rows}

    def rows_outside(self, rng: PartitionRange) -> dict[str, int]:
        """Rows outside the range, per partition key."""
        outside, params = _outside(rng)
        rows = run(self._cur, f"SELECT {rng.key_sql} AS k, count(*) FROM {rng.key.quoted()} "
                              f"WHERE {outside} GROUP BY ALL ORDER BY 1", params)
        return {("" if k is None else str(k)): n for k, n in rows}

    def apply(self, request: CleanRequest) -> None:
        """Drop and delete everything in `request`, or nothing."""
        cur = self._cur

        def work():
            for key, kind in request.drop:
                run(cur, f"DROP {'VIEW' if kind == 'view' else 'TABLE'} {key.quoted()}")
                run(cur, "DELETE FROM _assetflow.meta WHERE key = ?", [f"{VIEW_PREFIX}{key}"])
            for asset in request.forget:
                run(cur, "DELETE FROM _assetflow.partitions WHERE asset = ?", [asset])
                run(cur, "DELETE FROM _assetflow.check_results WHERE asset = ?", [asset])
            for rng in request.outside:
                outside, params = _outside(rng)
                run(cur, f"DELETE FROM {rng.key.quoted()} WHERE {outside}", params)
            for asset, partition in request.records:
                run(cur, "DELETE FROM _assetflow.partitions WHERE asset = ? AND partition = ?", [asset, partition])
                run(cur, "DELETE FROM _assetflow.check_results WHERE asset = ? AND coalesce(partition, '') = ?",
                    [asset, partition])

        self._transaction(cur, work)


def _outside(rng: PartitionRange) -> tuple[str, list]:
    column = quote_identifier(rng.column)
    if rng.keys is not None:
        keys = ", ".join(sql_string(k) for k in rng.keys) or "NULL"
        return f"NOT coalesce(CAST({column} AS VARCHAR) IN ({keys}), false)", []
    inside, params = range_condition(column, rng.start, rng.end)
    return f"NOT coalesce({inside}, false)", params
