"""What the web UI asks of the run history beyond `runs`: the recent runs that built an asset.

One grouped query over `_assetflow.attempts`, newest first, so an asset page costs one round trip
however long the history is.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assetflow.engines.duckdb_state import has_schema, run


@dataclass(frozen=True, slots=True)
class AssetRun:
    """One run's attempts at one asset: how many partitions it tried and how they ended."""

    run_id: str
    command: str
    started_at: datetime
    status: str                 # the run's status
    partitions: int             # distinct partitions attempted
    failed: int                 # of which the last attempt failed


def asset_runs(cur: Any, asset: str, limit: int) -> list[AssetRun]:
    if not has_schema(cur):
        return []
    rows = run(cur, """
        WITH last AS (
            SELECT run_id, partition, arg_max(status, attempt) AS status
            FROM _assetflow.attempts WHERE asset = ? GROUP BY run_id, partition)
        SELECT l.run_id, r.command, r.started_at, r.status, count(*),
               count(*) FILTER (WHERE l.status = 'failed')
        FROM last l JOIN _assetflow.runs r USING (run_id)
        GROUP BY ALL ORDER BY r.started_at DESC, l.run_id LIMIT ?""", [asset, limit])
    return [AssetRun(*r) for r in rows]
