"""DuckDB's PIVOT and UNPIVOT in assets (issue 12 item 4): a pivot whose columns come from the
data runs as several statements in DuckDB and returns no row count, and bare PIVOT / UNPIVOT
statements are assets with lineage like any SELECT.
"""
from __future__ import annotations

import duckdb

from conftest import query

SALES = ("select * from (values (date '2024-01-01', 'eu', 10), (date '2024-01-01', 'us', 5), "
         "(date '2024-01-02', 'eu', 3), (date '2024-01-02', 'apac', 7)) v(d, region, amount)\n")
FILES = {
    "assets/raw/sales.sql": SALES,
    "assets/marts/wrapped.sql": "select * from (pivot raw.sales on region using sum(amount) group by d)\n",
    "assets/marts/bare.sql": "-- dynamic columns: one per region in the data\npivot sales on region using sum(amount) group by d\n",
    "assets/marts/with_cte.sql": "with eu_us as (select * from raw.sales where region <> 'apac')\n"
                                 "pivot eu_us on region using count(*) group by d\n",
    "assets/marts/long.sql": "unpivot (select d, eu, us from marts.bare) on eu, us into name region value amount\n",
    "assets/marts/fixed_view.sql": '/* assetflow\nkind = "view"\n*/\n'
                                   "pivot raw.sales on region in ('eu', 'us') using sum(amount) group by d\n",
}


def expected(sql: str) -> list[tuple]:
    """The same statement run by a DuckDB that knows nothing about assetflow."""
    con = duckdb.connect()
    con.execute("create schema raw; create schema marts")
    con.execute(f"create table raw.sales as {SALES}")
    return sorted(con.execute(sql).fetchall(), key=repr)


def rows_of(p, relation: str) -> list[tuple]:
    return sorted(query(p, f"select * from {relation}"), key=repr)


def test_a_dynamic_pivot_in_a_table_asset_counts_its_rows(af, project):
    """The issue's example: it used to fail with `IndexError: list index out of range`."""
    p = project({"assets/raw/sales.sql": SALES, "assets/marts/wrapped.sql": FILES["assets/marts/wrapped.sql"]})
    r = af(p, "materialize", "--json")
    assert r.exit_code == 0, r.output
    assert {x["asset"]: x["rows"] for x in r.json()["results"]} == {"raw.sales": 4, "marts.wrapped": 2}
    assert query(p, "select rows from _assetflow.partitions where asset = 'marts.wrapped'") == [(2,)]


def test_pivot_and_unpivot_assets_build_with_row_counts_and_lineage(af, project):
    p = project(FILES)
    r = af(p, "materialize", "--json")
    assert r.exit_code == 0, r.output
    rows = {x["asset"]: x["rows"] for x in r.json()["results"]}
    assert rows["marts.wrapped"] == 2 and rows["marts.bare"] == 2 and rows["marts.with_cte"] == 2
    assert rows["marts.long"] == 3                      # UNPIVOT drops the NULL cell of us on 2024-01-02
    pivot = "pivot raw.sales on region using sum(amount) group by d"
    assert rows_of(p, "marts.wrapped") == rows_of(p, "marts.bare") == expected(pivot)
    assert [c for (c,) in query(p, "select column_name from duckdb_columns() where table_name = 'bare' "
                                   "order by column_index")] == ["d", "apac", "eu", "us"]
    assert rows_of(p, "marts.with_cte") == expected(
        "pivot (select * from raw.sales where region <> 'apac') on region using count(*) group by d")
    assert rows_of(p, "marts.long") == expected(
        f"unpivot (select d, eu, us from ({pivot})) on eu, us into name region value amount")
    assert rows_of(p, "marts.fixed_view") == expected(
        "pivot raw.sales on region in ('eu', 'us') using sum(amount) group by d")

    graph = {a["name"]: a["upstream"] for a in af(p, "graph", "--format", "json").json()["assets"]}
    assert graph["marts.bare"] == graph["marts.wrapped"] == graph["marts.with_cte"] == ["raw.sales"]
    assert graph["marts.fixed_view"] == ["raw.sales"] and graph["marts.long"] == ["marts.bare"]
    st = af(p, "status", "--verify", "--json")
    assert st.exit_code == 0 and all(a["partitions"]["fresh"] == 1 for a in st.json()["assets"]), st.output
    compiled = af(p, "compile", "marts.bare")
    # compile shows the statement as written, with its names qualified (issue 12 item 6)
    assert compiled.exit_code == 0 and 'pivot "raw"."sales" on region' in compiled.stdout, compiled.output

    traced = af(p, "lineage", "marts.bare.eu")
    assert traced.exit_code == 2 and "PIVOT" in traced.stderr and "Traceback" not in traced.output, traced.output


def test_a_partitioned_dynamic_pivot_fails_with_a_clear_error(af, project):
    """DuckDB cannot bind parameters into a pivot whose columns come from the data."""
    header = ('/* assetflow\nkind = "partitioned"\npartition_by = "day"\ntime_column = "d"\n'
              'start = "2024-01-01"\nend = "2024-01-02"\n*/\n')
    p = project({"assets/raw/sales.sql": SALES,
                 "assets/marts/daily.sql": header + "select * from (pivot raw.sales on region using sum(amount) "
                                                    "group by d) where d >= $start and d < $end\n"})
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    errors = {x["error"] for x in r.json()["results"] if x["asset"] == "marts.daily"}
    assert len(errors) == 1 and "PIVOT whose columns come from the data" in errors.pop()
    (p / "assets/marts/daily.sql").write_text(
        header + "pivot (select * from raw.sales where d >= $start and d < $end) "
                 "on region in ('eu', 'us', 'apac') using sum(amount) group by d\n")
    r = af(p, "materialize", "--json")
    assert r.exit_code == 0, r.output
    assert rows_of(p, "marts.daily") == expected("pivot raw.sales on region in ('eu', 'us', 'apac') "
                                                 "using sum(amount) group by d")
