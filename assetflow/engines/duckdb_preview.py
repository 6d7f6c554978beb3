"""The first rows of a relation (of one partition's window), for `assetflow show`."""
from __future__ import annotations

from assetflow.assets import AssetKey
from assetflow.engines.base import PartitionWindow
from assetflow.engines.duckdb_sql import window_filter


def preview(cur, key: AssetKey, window: PartitionWindow | None, limit: int):
    """(columns as (name, type), rows) of up to `limit` rows, in the table's order."""
    where, params = window_filter(window)
    result = cur.execute(f"SELECT * FROM {key.quoted()} WHERE {where} LIMIT {int(limit)}", params or None)
    columns = [(d[0], str(d[1])) for d in result.description]
    return columns, result.fetchall()
