"""The freshness rules as one DuckDB query: which partitions deviate from an expectation.

freshness.deviations_of states the same rules in Python (and answers small expectations here,
see SQL_FROM); a property test holds the two to the same answers.
"""
from __future__ import annotations

from typing import Any

from assetflow.engines.duckdb_state import current_partitions, has_schema, read_state, run
from assetflow.plan.freshness import Expectation, deviations_of, mapping_rows
from assetflow.state import StateSnapshot

# The rules of freshness.deviations_of as one query over the partition records: each expected
# partition that deviates, with its flag bits. The expectation goes into temporary tables first
# (a read-only connection may create them; they live in memory, per connection): DuckDB plans
# joins against tables it can count several times faster than against unnested parameters.
# Assets are numbered by position, so after the first join everything is integers. A same-grain
# edge between two assets built in every partition is compared as two lists of versions (`listed`):
# joining every record with each one it reads was most of the query's time (10,000 assets x 365
# days: 1.7 s of CPU for the query, of which 1.0 s that join, against 0.35 s for the lists).
_EXPECTATION_TABLES = {
    "_af_assets": ("asset VARCHAR", "code VARCHAR", "def BIGINT", "srcv BIGINT", "aid BIGINT",
                   "built_by TIMESTAMP", "aged_from BIGINT"),
    "_af_keys": ("def BIGINT", "idx BIGINT", "key VARCHAR"),
    "_af_windowed": ("aid BIGINT", "idx BIGINT", "v BIGINT"),
    "_af_shifts": ("down BIGINT", "up BIGINT", "delta BIGINT"),      # one row per lookback step
    "_af_everything": ("down BIGINT", "up BIGINT"),
    "_af_pairs": ("down BIGINT", "up BIGINT", "di BIGINT", "ui BIGINT"),
}

_DEVIATIONS = """
WITH p AS MATERIALIZED (
    SELECT a.aid, k.idx, CASE WHEN s.code_version IS NULL THEN 0 ELSE coalesce(s.data_version, 0) END AS v,
           CASE WHEN s.code_version IS NULL THEN 2 ELSE 0 END
           + CASE WHEN s.code_version <> a.code THEN 4 ELSE 0 END
           + CASE WHEN s.status = 'failed' THEN 8 ELSE 0 END
           + CASE WHEN s.code_version IS NOT NULL AND a.built_by IS NOT NULL AND k.idx >= a.aged_from
                       AND (s.built_at IS NULL OR s.built_at <= a.built_by) THEN 64 ELSE 0 END AS flags, a.srcv
    FROM {current} s JOIN _af_assets a ON a.asset = s.asset
    JOIN _af_keys k ON k.def = a.def AND k.key = s.partition),
local AS (
    SELECT p.aid, p.idx, p.flags + CASE WHEN p.flags & 2 = 0 AND p.v < coalesce(w.v, p.srcv) THEN 16 ELSE 0 END AS flags
    FROM p LEFT JOIN _af_windowed w ON w.aid = p.aid AND w.idx = p.idx),
per_asset AS MATERIALIZED (    -- one pass over each asset's records: how many, the newest, all versions
    SELECT a.aid, a.def, coalesce(c.n, 0) AS n, nk.n AS expected, c.v, c.vs, coalesce(c.built, false) AS built
    FROM _af_assets a JOIN (SELECT def, count(*) AS n FROM _af_keys GROUP BY def) nk ON nk.def = a.def
    LEFT JOIN (SELECT aid, count(*) AS n, max(v) AS v, list(v ORDER BY idx) AS vs, bool_and(flags & 2 = 0) AS built
               FROM p GROUP BY aid) c ON c.aid = a.aid),
short AS (SELECT aid, def FROM per_asset WHERE n < expected),   -- only those can have missing partitions
missing AS (
    SELECT sh.aid, k.idx, 3 AS flags FROM short sh JOIN _af_keys k ON k.def = sh.def
    ANTI JOIN p ON p.aid = sh.aid AND p.idx = k.idx),
newest AS (SELECT aid, v FROM per_asset WHERE n > 0),
arr AS (SELECT aid, vs FROM per_asset WHERE built AND n = expected),   -- built in every partition, in index order
listed AS (   -- same-grain edges between two such assets: compared list to list, not joined row by row
    SELECT e.down, e.up, e.delta, d.vs AS dvs, u.vs AS uvs FROM _af_shifts e
    JOIN arr d ON d.aid = e.down JOIN arr u ON u.aid = e.up),
joined AS (SELECT e.* FROM _af_shifts e ANTI JOIN listed l ON l.down = e.down AND l.up = e.up AND l.delta = e.delta),
reads AS (    -- every built partition with each upstream partition it reads (same grain, or pairs)
    SELECT d.aid, d.idx, d.v, e.up, d.idx + e.delta AS uidx FROM joined e JOIN p d ON d.aid = e.down
    WHERE d.flags & 2 = 0
    UNION ALL
    SELECT d.aid, d.idx, d.v, e.up, e.ui FROM _af_pairs e JOIN p d ON d.aid = e.down AND d.idx = e.di
    WHERE d.flags & 2 = 0),
changed AS (
    SELECT r.aid, r.idx, 32 AS flags FROM reads r JOIN p u ON u.aid = r.up AND u.idx = r.uidx WHERE u.v > r.v
    UNION ALL    -- (an index past either end of the upstream list reads nothing, as a missing row does)
    SELECT aid, idx, 32 FROM (SELECT down AS aid, delta, dvs, uvs, unnest(range(len(dvs))) AS idx FROM listed)
    WHERE idx + delta >= 0 AND uvs[idx + delta + 1] > dvs[idx + 1]
    UNION ALL
    SELECT d.aid, d.idx, 32 FROM _af_everything e JOIN p d ON d.aid = e.down JOIN newest u ON u.aid = e.up
    WHERE d.flags & 2 = 0 AND u.v > d.v)
SELECT aid, idx, bit_or(flags) AS flags FROM (
    SELECT * FROM local WHERE flags <> 0 UNION ALL SELECT * FROM missing UNION ALL SELECT * FROM changed)
GROUP BY aid, idx
"""


# Below this many expected partitions the Python rules over the records read as they are answer
# sooner: DuckDB spends 15-30 ms planning the query above and creating its six tables whatever the
# size, Python 6-15 us per partition (measured: 180 partitions 8 ms against 25 ms, 1,000 assets 18
# against 30, 30,000 partitions 190 against 40).
SQL_FROM = 2_000


def deviations(cur: Any, expectation: Expectation, sql_from: int = SQL_FROM) -> dict[str, dict[int, int]]:
    """The partitions that deviate from `expectation` (see freshness.py), with their flag bits."""
    if not has_schema(cur):
        return deviations_of(StateSnapshot(), expectation)
    if sum(len(expectation.keys_of(a)) for a in expectation.assets) < sql_from:
        aging = any(a.built_by is not None for a in expectation.assets)
        return deviations_of(read_state(cur, with_built=aging), expectation)
    assets = expectation.assets
    aid = {a.name: n for n, a in enumerate(assets)}
    shifts, everything, pairs = mapping_rows(expectation)
    rows = {
        "_af_assets": [(a.name, a.code_version, a.definition, a.source_version, n, a.built_by, a.aged_from)
                       for n, a in enumerate(assets)],
        "_af_keys": [(d, i, key) for d, keys in enumerate(expectation.keys) for i, key in enumerate(keys)],
        "_af_windowed": [(aid[a.name], i, v) for a in assets for i, v in a.windowed.items()],
        "_af_shifts": [(aid[d], aid[u], delta) for d, u, o, lb in shifts for delta in range(o - lb, o + 1)],
        "_af_everything": [(aid[d], aid[u]) for d, u in everything],
        "_af_pairs": [(aid[d], aid[u], i, j) for d, u, i, j in pairs],
    }
    for table, columns in _EXPECTATION_TABLES.items():
        _temp_table(cur, table, columns, rows[table])
    out: dict[str, dict[int, int]] = {}
    for asset, idx, flags in run(cur, _DEVIATIONS.format(current=current_partitions(cur))):
        out.setdefault(assets[asset].name, {})[idx] = flags
    return out


def _temp_table(cur: Any, name: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """A temporary table from rows, sent as one list per column (one statement, no per-row work)."""
    select = ", ".join(f"unnest(${n + 1}::{c.split()[1]}[]) AS {c.split()[0]}" for n, c in enumerate(columns))
    values = [[r[n] for r in rows] for n in range(len(columns))]
    run(cur, f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select}", values)


