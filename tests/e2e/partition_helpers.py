"""Shared data and helpers for the partition and backfill acceptance tests (issue 3).

The source is a deterministic CSV of events: NDAYS days from 2024-01-01, PER_DAY rows a day, each
row with a UTC timestamp inside its day. Expected results are always computed by a direct DuckDB
query over that CSV (an in-memory connection that knows nothing about assetflow).
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb

from conftest import query

D0 = date(2024, 1, 1)
NDAYS = 90                      # 2024-01-01 .. 2024-03-30
PER_DAY = 50
REGIONS = ("eu", "us", "apac")

TOML = """
[project]
name = "parts"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 4

[sources]
"raw.events" = { path = "data/events.csv" }
"""


# ------------------------------------------------------------------------------------ data

def event_rows(days: int = NDAYS, per_day: int = PER_DAY):
    for d in range(days):
        day = D0 + timedelta(days=d)
        for i in range(per_day):
            ts = datetime.combine(day, time()) + timedelta(minutes=(i * 29 + d * 7) % 1440)
            yield d * 1000 + i, ts, day, REGIONS[(i + d) % 3], (d * 7 + i * 13) % 100 + 1


def events_csv(days: int = NDAYS, per_day: int = PER_DAY, override: dict | None = None) -> str:
    """The events CSV; `override` maps an id to a replacement amount (a changed source row)."""
    lines = ["id,ts,day,region,amount"]
    for id_, ts, day, region, amount in event_rows(days, per_day):
        amount = (override or {}).get(id_, amount)
        lines.append(f"{id_},{ts:%Y-%m-%d %H:%M:%S},{day},{region},{amount}")
    return "\n".join(lines) + "\n"


def header(**settings) -> str:
    """An assetflow SQL header for a partitioned asset; values are written as TOML."""
    lines = ["/* assetflow", 'kind = "partitioned"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines + ["*/", ""])


def day_header(start: str = "2024-01-01", end: str = "2024-03-30", column: str = "day", **more) -> str:
    return header(partition_by="day", time_column=column, start=start, end=end, **more)


# ------------------------------------------------------------------------------------ keys

def days(first: str, last: str) -> list[str]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [str(a + timedelta(days=i)) for i in range((b - a).days + 1)]


def hours(first: str, last: str) -> list[str]:
    """Hour keys from `first` to `last` inclusive, e.g. hours("2024-01-01T00", "2024-01-03T23")."""
    a = datetime.strptime(first, "%Y-%m-%dT%H")
    b = datetime.strptime(last, "%Y-%m-%dT%H")
    n = int((b - a).total_seconds() // 3600) + 1
    return [f"{a + timedelta(hours=i):%Y-%m-%dT%H}" for i in range(n)]


def iso_week_key(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"{year:04d}-W{week:02d}"


def keyed(asset: str, keys) -> set[tuple[str, str | None]]:
    return {(asset, k) for k in keys}


# ------------------------------------------------------------------------------------ CLI

def mat(af, p: Path, *args: str, expect: int = 0, cmd: str = "materialize", env: dict | None = None) -> dict:
    r = af(p, cmd, *args, "--json", env=env)
    assert r.exit_code == expect, r.output
    assert "Traceback" not in r.output, r.output
    return r.json()


def backfill(af, p: Path, *args: str, expect: int = 0) -> dict:
    return mat(af, p, *args, expect=expect, cmd="backfill")


def pairs(res: dict, status: str | None = None) -> set[tuple[str, str | None]]:
    """(asset, partition) of every result (of one status, if given)."""
    out = [(x["asset"], x["partition"]) for x in res["results"] if status is None or x["status"] == status]
    assert len(out) == len(set(out)), f"a partition appears twice in one run: {out}"
    return set(out)


def blocked_pairs(res: dict) -> set[tuple[str, str | None]]:
    return {(x["asset"], x["partition"]) for x in res["blocked"]}


def status(af, p: Path, *args: str) -> dict[str, dict]:
    r = af(p, "status", *args, "--json")
    assert r.exit_code == 0, r.output
    return {a["name"]: a for a in r.json()["assets"]}


def by_partition(entry: dict, category: str = "stale") -> dict[str | None, list[str]]:
    """{partition: reasons} of one status entry's stale / blocked / failed list."""
    return {x["partition"]: x["reasons"] for x in entry.get(category, [])}


def assert_all_fresh(st: dict[str, dict]) -> None:
    for name, entry in st.items():
        counts = entry["partitions"]
        assert counts["fresh"] == counts["total"], (name, counts, entry.get("stale"), entry.get("blocked"))


# ------------------------------------------------------------------------------------ data checks

def source(p: Path, sql: str, csv: str = "data/events.csv") -> list[tuple]:
    """Run `sql` against a view `events` over the project's CSV, outside assetflow, in UTC."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        path = str(p / csv).replace("'", "''")
        con.execute(f"CREATE VIEW events AS SELECT * FROM read_csv_auto('{path}')")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def checksum(p: Path, schemas: tuple[str, ...] | None = None) -> dict[str, tuple]:
    """Row count and an order-independent hash of every table (in `schemas`, default all)."""
    con = duckdb.connect(str(p / "warehouse.duckdb"), read_only=True)
    try:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal "
                             "ORDER BY ALL").fetchall()
        views = con.execute("SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal "
                            "ORDER BY ALL").fetchall()
        out: dict[str, tuple] = {f"view {s}.{v}": () for s, v in views if schemas is None or s in schemas}
        for s, t in tables:
            if schemas is not None and s not in schemas:
                continue
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                "ORDER BY column_index", [s, t]).fetchall()]
            out[f"{s}.{t}"] = (tuple(cols),) + con.execute(
                f'SELECT count(*), bit_xor(hash(x)) FROM "{s}"."{t}" AS x').fetchone()
        return out
    finally:
        con.close()


def user_checksum(p: Path) -> dict[str, tuple]:
    """Like checksum, without assetflow's bookkeeping schema (a run may record itself there)."""
    full = checksum(p)
    return {k: v for k, v in full.items() if not re.match(r"(view )?_assetflow\.", k)}


def duplicates(p: Path, table: str, key: str) -> list[tuple]:
    return query(p, f"SELECT {key}, count(*) FROM {table} GROUP BY ALL HAVING count(*) > 1")


def columns(p: Path, schema: str, table: str) -> list[str]:
    return [c for (c,) in query(p, "SELECT column_name FROM duckdb_columns() WHERE schema_name = "
                                   f"'{schema}' AND table_name = '{table}' ORDER BY column_index")]
