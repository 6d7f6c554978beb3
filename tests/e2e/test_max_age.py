"""`max_age` through the CLI (SPEC section 11): an extract whose inputs assetflow cannot see is
rebuilt by a plain `materialize` once its last good build is that old, and its readers with it.

Time passes by moving the stored build times back (the real clock is never slept on)."""
from __future__ import annotations

import duckdb
import pytest

FILES = {
    # an "API extract": nothing assetflow can fingerprint changes between runs
    "assets/raw/rates.py": """
        import pyarrow as pa
        from assetflow import asset

        @asset(max_age="24h")
        def rates():
            return pa.table({"currency": ["EUR"], "rate": [1.1]})
        """,
    "assets/raw/calendar.sql": """
        /* assetflow
        max_age = "1d12h"
        */
        select 1 as day
        """,
    "assets/raw/days.sql": """
        /* assetflow
        partition_by = "day"
        time_column = "day"
        start = "2024-01-01"
        end = "2024-01-03"
        max_age = "24h"
        */
        select $start as day
        """,
    "assets/marts/priced.sql": "select currency, rate * 2 as doubled from raw.rates\n",
    "assets/marts/plain.sql": "select 2 as x\n",
}


def age(p, hours: int) -> None:
    """Every good build happened `hours` earlier than it did."""
    con = duckdb.connect(str(p / "warehouse.duckdb"))
    try:
        con.execute(f"UPDATE _assetflow.partitions SET built_at = built_at - INTERVAL {hours} HOUR")
    finally:
        con.close()


def stale(af, p) -> dict[str, list]:
    r = af(p, "status", "--json")
    assert r.exit_code == 0, r.output
    return {a["name"]: [(s["partition"], s["reasons"]) for s in a["stale"]] for a in r.json()["assets"] if a["stale"]}


def built(af, p) -> list[tuple[str, str | None]]:
    r = af(p, "materialize", "--json")
    assert r.exit_code == 0, r.output
    return sorted((x["asset"], x["partition"]) for x in r.json()["results"])


def test_an_old_extract_is_rebuilt_with_its_readers_and_only_then(project, af):
    p = project(FILES)
    assert len(built(af, p)) == 7
    assert stale(af, p) == {} and built(af, p) == []
    age(p, 23)
    assert stale(af, p) == {}                                     # 23 h: nothing is old yet
    age(p, 1)
    assert stale(af, p) == {
        "raw.rates": [(None, ["older than 24h"])], "marts.priced": [(None, ["upstream stale"])],
        "raw.days": [("2024-01-03", ["older than 24h"])]}         # the latest window only
    assert built(af, p) == [("marts.priced", None), ("raw.days", "2024-01-03"), ("raw.rates", None)]
    assert stale(af, p) == {} and built(af, p) == []
    age(p, 36)
    assert set(stale(af, p)) == {"raw.rates", "marts.priced", "raw.days", "raw.calendar"}
    assert stale(af, p)["raw.calendar"] == [(None, ["older than 1d12h"])]


@pytest.mark.parametrize("header, message", [
    ('max_age = "a day"', "max_age 'a day' is not a duration longer than 0"),
    ('max_age = "0"', "max_age '0' is not a duration longer than 0"),
    ('max_age = 24', "setting 'max_age' must be str"),
    ('kind = "view"\nmax_age = "1h"', "max_age has no effect on a view"),
])
def test_a_bad_max_age_is_rejected_with_its_file(project, af, header, message):
    p = project({"assets/a.sql": f"/* assetflow\n{header}\n*/\nselect 1 as x\n"})
    r = af(p, "materialize")
    assert r.exit_code == 2, r.output
    assert "assets/a.sql" in r.stderr and message in r.stderr and "Traceback" not in r.output
