"""The backfill tables of the state store: each backfill's current pass, and the runs of each pass.

What a pass has built comes from `_assetflow.attempts` (successful attempts of the backfill's asset
in the pass's runs), never from a counter of its own, so it is exactly what committed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from assetflow.engines.duckdb_state import run

SCHEMA = """
CREATE TABLE IF NOT EXISTS _assetflow.backfills (
    backfill_id VARCHAR PRIMARY KEY, asset VARCHAR, first_key VARCHAR, last_key VARCHAR,
    total INTEGER, generation INTEGER, started_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS _assetflow.backfill_runs (
    run_id VARCHAR PRIMARY KEY, backfill_id VARCHAR, generation INTEGER);
"""

_BUILT = """
SELECT DISTINCT a.partition FROM _assetflow.attempts a JOIN _assetflow.backfill_runs r USING (run_id)
WHERE r.backfill_id = ? AND r.generation = ? AND a.asset = ? AND a.status = 'success'
"""

# For each run: the partitions its pass had built by the end of that run (runs of a pass in order).
_PROGRESS = """
WITH wanted AS (SELECT r.run_id, r.backfill_id, r.generation, u.started_at
                FROM _assetflow.backfill_runs r JOIN _assetflow.runs u USING (run_id)
                WHERE r.run_id IN (SELECT unnest(?::VARCHAR[]))),
pass_runs AS (SELECT r.run_id, r.backfill_id, r.generation, u.started_at
              FROM _assetflow.backfill_runs r JOIN _assetflow.runs u USING (run_id)
              WHERE (r.backfill_id, r.generation) IN (SELECT (backfill_id, generation) FROM wanted)),
built AS (SELECT p.backfill_id, p.generation, a.partition, min(p.started_at) AS first_at
          FROM pass_runs p JOIN _assetflow.attempts a USING (run_id) JOIN _assetflow.backfills b
               ON b.backfill_id = p.backfill_id AND a.asset = b.asset
          WHERE a.status = 'success' GROUP BY ALL)
SELECT w.run_id, b.backfill_id, b.asset, b.first_key, b.last_key, w.generation,
       (SELECT count(*) FROM built x WHERE x.backfill_id = w.backfill_id AND x.generation = w.generation
                                     AND x.first_at <= w.started_at)::INTEGER,
       b.total
FROM wanted w JOIN _assetflow.backfills b USING (backfill_id)
"""


class Backfills:
    def __init__(self, cur: Any, transaction: Callable[[Any, Callable[[], None]], None]):
        self._cur = cur
        self._transaction = transaction

    def _exists(self) -> bool:
        return bool(run(self._cur, "SELECT 1 FROM duckdb_tables() WHERE schema_name = '_assetflow' "
                                   "AND table_name = 'backfill_runs' AND database_name = current_database()"))

    def current(self, backfill_id: str, asset: str) -> tuple[int, set[str]] | None:
        """(the pass, the partitions it has built), or None for a backfill never run here."""
        if not self._exists():
            return None
        rows = run(self._cur, "SELECT generation FROM _assetflow.backfills WHERE backfill_id = ?", [backfill_id])
        if not rows:
            return None
        generation = rows[0][0]
        return generation, {p for (p,) in run(self._cur, _BUILT, [backfill_id, generation, asset])}

    def attach(self, backfill_id: str, asset: str, first: str, last: str, total: int, generation: int,
               run_id: str, now: datetime) -> None:
        cur = self._cur

        def work():
            for statement in filter(str.strip, SCHEMA.split(";")):
                run(cur, statement)
            run(cur, "INSERT INTO _assetflow.backfills VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (backfill_id) "
                     "DO UPDATE SET total = excluded.total, generation = excluded.generation, "
                     "started_at = CASE WHEN backfills.generation = excluded.generation THEN backfills.started_at "
                     "ELSE excluded.started_at END",
                [backfill_id, asset, first, last, total, generation, now])
            run(cur, "INSERT INTO _assetflow.backfill_runs VALUES (?, ?, ?)", [run_id, backfill_id, generation])
        self._transaction(cur, work)

    def progress(self, run_ids: list[str]) -> list[tuple]:
        if not self._exists():
            return []
        return run(self._cur, _PROGRESS, [run_ids])
