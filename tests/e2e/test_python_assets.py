"""Python assets through the CLI (SPEC section 4, with 5-8 as they apply to Python).

Lineage from function signatures, partitioned inputs, return types, user errors (at import and at
run time), code versions and staleness, SQL <-> Python interplay, and Python work not starving SQL.
"""
from __future__ import annotations

import re
import textwrap
from datetime import date, datetime

import pytest

from conftest import query

DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")

# A day-partitioned SQL asset with 1 row on Jan 1, 2 on Jan 2, 3 on Jan 3.
EVENTS_SQL = """
    /* assetflow
    kind = "partitioned"
    partition_by = "day"
    time_column = "day"
    start = "2024-01-01"
    end = "2024-01-03"
    */
    select $start as day, i as v
    from range(extract(day from $start)::bigint) t(i)
    """

ORDERS_SQL = """
    select * from (values (1, 'a', 10), (2, 'b', 20), (3, 'a', 5)) t(id, customer, amount)
    """


def write(p, rel: str, text: str) -> None:
    path = p / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def line_of(text: str, needle: str) -> int:
    """1-based line of `needle` in `text` as write_project/write store it (dedented, lstripped)."""
    lines = textwrap.dedent(text).lstrip().splitlines()
    hits = [n for n, line in enumerate(lines, 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def mat(af, p, *args, expect: int = 0, env: dict | None = None) -> dict:
    r = af(p, "materialize", *args, "--json", env=env)
    assert r.exit_code == expect, r.output
    return r.json()


def by_key(res: dict) -> dict[tuple[str, str | None], dict]:
    return {(x["asset"], x["partition"]): x for x in res["results"]}


def planned(res: dict) -> set[str]:
    return {x["asset"] for x in res["results"]}


def status(af, p, *args) -> dict[str, dict]:
    r = af(p, "status", *args, "--json")
    assert r.exit_code == 0, r.output
    return {a["name"]: a for a in r.json()["assets"]}


def reasons(entry: dict) -> set[str]:
    return {reason for s in entry["stale"] for reason in s["reasons"]}


def run_show(af, p, run_id: str) -> dict:
    r = af(p, "runs", "show", run_id, "--json")
    assert r.exit_code == 0, r.output
    return r.json()


def assert_clean_load_error(r, location_regex: str) -> None:
    """Exit 2, `path:line` on stderr, and no Python traceback (no --debug)."""
    assert r.exit_code == 2, r.output
    assert re.search(location_regex, r.stderr), r.stderr
    assert "Traceback" not in r.output, r.output


# ------------------------------------------------------------------------------------------ lineage

LINEAGE_PY = """
    import pyarrow as pa
    import pyarrow.compute as pc
    from assetflow import asset, AssetContext


    @asset
    def scores(stg_orders: pa.Table, context: AssetContext) -> pa.Table:
        assert isinstance(stg_orders, pa.Table), type(stg_orders)
        return pa.table({"asset": [context.asset], "rows": [stg_orders.num_rows],
                         "part": pa.array([context.partition], pa.string())})


    @asset()
    def qualified(staging__stg_orders, ctx: AssetContext):
        # `ctx` is the context because of its annotation, not its name
        assert isinstance(ctx, AssetContext), type(ctx)
        total = pc.sum(staging__stg_orders["amount"]).as_py()
        return pa.table({"asset": [ctx.asset], "total": [total]})


    @asset(deps={"orders": "staging.stg_orders"}, schema="analytics", name="renamed")
    def explicit(orders: pa.Table, context):
        return pa.table({"asset": [context.asset], "rows": [orders.num_rows]})


    @asset(deps=["staging.side"])
    def via_con(context: AssetContext):
        # reads its upstream through the connection, not a parameter: deps= orders the build
        return context.con.sql("select answer from staging.side")
    """

LINEAGE_FILES = {
    "assets/staging/stg_orders.sql": ORDERS_SQL,
    "assets/staging/side.sql": "select 42 as answer\n",
    "assets/marts/scores.py": LINEAGE_PY,
    # SQL reads Python assets by bare and by qualified table name
    "assets/reports/top.sql": """
        select asset, rows from scores
        union all
        select asset, rows from analytics.renamed
        """,
}


def test_lineage_from_signatures_graph_lineage_selection_and_data(af, project):
    p = project(LINEAGE_FILES)

    r = af(p, "graph", "--format", "json")
    assert r.exit_code == 0, r.output
    graph = r.json()
    ups = {a["name"]: a["upstream"] for a in graph["assets"]}
    assert ups == {
        "staging.stg_orders": [],
        "staging.side": [],
        "marts.scores": ["staging.stg_orders"],             # bare parameter name
        "marts.qualified": ["staging.stg_orders"],          # schema__name parameter
        "analytics.renamed": ["staging.stg_orders"],        # deps={param: name}, schema=/name=
        "marts.via_con": ["staging.side"],                  # deps=[...] ordering-only upstream
        "reports.top": ["analytics.renamed", "marts.scores"],
    }
    kinds = {a["name"]: a["kind"] for a in graph["assets"]}
    assert kinds["marts.scores"] == "table"
    order = [a["name"] for a in graph["assets"]]
    assert order.index("staging.side") < order.index("marts.via_con")
    assert order.index("marts.scores") < order.index("reports.top")

    r = af(p, "lineage", "marts.scores")
    assert r.exit_code == 0, r.output
    assert re.search(r"^\s*upstream:\s+staging\.stg_orders\s*$", r.stdout, re.M), r.stdout
    assert re.search(r"^\s*downstream:\s+reports\.top\s*$", r.stdout, re.M), r.stdout

    # selection treats Python assets like SQL ones: +name pulls in Python upstreams
    res = mat(af, p, "+reports.top")
    assert planned(res) == {"staging.stg_orders", "marts.scores", "analytics.renamed", "reports.top"}
    assert all(x["status"] == "success" for x in res["results"]), res
    res = mat(af, p)
    assert planned(res) == {"staging.side", "marts.via_con", "marts.qualified"}
    assert all(x["status"] == "success" for x in res["results"]), res

    assert query(p, "select asset, rows, part from marts.scores") == [("marts.scores", 3, None)]
    assert query(p, "select asset, total from marts.qualified") == [("marts.qualified", 35)]
    assert query(p, "select asset, rows from analytics.renamed") == [("analytics.renamed", 3)]
    assert query(p, "select answer from marts.via_con") == [(42,)]
    assert sorted(query(p, "select asset, rows from reports.top")) == [
        ("analytics.renamed", 3), ("marts.scores", 3)]

    st = status(af, p)
    assert set(st) == set(ups)
    for name, entry in st.items():
        assert entry["partitions"] == {"total": 1, "fresh": 1, "stale": 0, "blocked": 0, "failed": 0}, (
            name, entry)


def test_unknown_parameter_names_file_line_and_near_miss(af, project):
    bad = """
        import pyarrow as pa
        from assetflow import asset


        @asset
        def bad(stg_ordrs: pa.Table):
            return stg_ordrs
        """
    p = project({"assets/staging/stg_orders.sql": ORDERS_SQL, "assets/marts/bad.py": bad})
    r = af(p, "graph")
    deco, defn = line_of(bad, "@asset"), line_of(bad, "def bad")
    assert_clean_load_error(r, rf"assets/marts/bad\.py:({deco}|{defn})\b")
    assert "stg_ordrs" in r.stderr, r.stderr
    assert "stg_orders" in r.stderr.replace("stg_ordrs", ""), r.stderr   # the near-miss suggestion
    assert not (p / "warehouse.duckdb").exists()


def test_ambiguous_bare_parameter_is_an_error_naming_the_candidates(af, project):
    text = """
        from assetflow import asset


        @asset
        def uses(orders):
            return orders
        """
    p = project({"assets/staging/orders.sql": ORDERS_SQL, "assets/marts/orders.sql": ORDERS_SQL,
                 "assets/reports/uses.py": text})
    r = af(p, "graph")
    deco, defn = line_of(text, "@asset"), line_of(text, "def uses")
    assert_clean_load_error(r, rf"assets/reports/uses\.py:({deco}|{defn})\b")
    assert "staging.orders" in r.stderr and "marts.orders" in r.stderr, r.stderr


# ------------------------------------------------------------------------------------------ SQL -> Py -> SQL

def test_sql_python_sql_chain_has_correct_data(af, project):
    p = project({
        "assets/staging/stg_orders.sql": ORDERS_SQL,
        "assets/marts/enriched.py": """
            import pyarrow as pa
            import pyarrow.compute as pc
            from assetflow import asset


            @asset
            def enriched(stg_orders: pa.Table) -> pa.Table:
                return stg_orders.append_column("doubled", pc.multiply(stg_orders["amount"], 2))
            """,
        "assets/reports/by_customer.sql": """
            select customer, sum(doubled) as doubled, count(*) as n
            from marts.enriched
            group by all
            """,
    })
    res = mat(af, p)
    assert [x["asset"] for x in res["results"]] == ["staging.stg_orders", "marts.enriched",
                                                    "reports.by_customer"]
    assert all(x["status"] == "success" for x in res["results"]), res
    assert by_key(res)[("marts.enriched", None)]["rows"] == 3
    assert query(p, "select customer, doubled, n from reports.by_customer order by customer") == [
        ("a", 30, 2), ("b", 40, 1)]
    assert query(p, "select id, doubled from marts.enriched order by id") == [(1, 20), (2, 40), (3, 10)]


# ------------------------------------------------------------------------------------------ partitions

def test_partitioned_python_asset_receives_only_its_partition(af, project):
    p = project({
        "assets/staging/events.sql": EVENTS_SQL,
        "assets/staging/totals.sql": "select i from range(5) t(i)\n",
        "assets/marts/per_day.py": """
            import pyarrow as pa
            from assetflow import asset, AssetContext


            @asset(partition_by="day", start="2024-01-01", end="2024-01-03", time_column="day")
            def per_day(events: pa.Table, totals: pa.Table, context: AssetContext) -> pa.Table:
                days = sorted(set(events["day"].to_pylist()))
                return pa.table({
                    "day": [context.start],
                    "part": [context.partition],
                    "win_end": [context.end],
                    "n": [events.num_rows],
                    "first_day": [days[0] if days else None],
                    "distinct_days": [len(days)],
                    "totals_rows": [totals.num_rows],
                })


            @asset
            def all_days(per_day: pa.Table) -> pa.Table:
                # unpartitioned reader of a partitioned asset: gets every partition
                return pa.table({"n": [per_day.num_rows], "sum_n": [sum(per_day["n"].to_pylist())]})


            @asset(partition_by="week", start="2024-W01", end="2024-W01", time_column="week")
            def weekly(events: pa.Table, context: AssetContext) -> pa.Table:
                # coarser grain: every day partition inside the week
                return pa.table({"week": [context.start], "part": [context.partition], "n": [events.num_rows]})


            @asset(partition_by="static", partitions=["eu", "us"], partition_column="region")
            def regional(by_region: pa.Table, context: AssetContext) -> pa.Table:
                regions = ",".join(sorted(set(by_region["region"].to_pylist())))
                return pa.table({"region": [context.partition], "n": [by_region.num_rows], "seen": [regions]})
            """,
        "assets/staging/by_region.sql": """
            /* assetflow
            kind = "partitioned"
            partition_by = "static"
            partition_column = "region"
            partitions = ["eu", "us"]
            */
            select $partition as region, i
            from range(case when $partition = 'eu' then 2 else 5 end) t(i)
            """,
    })
    res = mat(af, p)
    assert res["status"] == "success", res
    got = by_key(res)
    for day in DAYS:
        assert got[("marts.per_day", day)]["status"] == "success"
        assert got[("marts.per_day", day)]["rows"] == 1
    assert ("marts.all_days", None) in got

    rows = query(p, "select day, part, win_end, n, first_day, distinct_days, totals_rows "
                    "from marts.per_day order by day")
    assert rows == [
        (date(2024, 1, 1), "2024-01-01", date(2024, 1, 2), 1, date(2024, 1, 1), 1, 5),
        (date(2024, 1, 2), "2024-01-02", date(2024, 1, 3), 2, date(2024, 1, 2), 1, 5),
        (date(2024, 1, 3), "2024-01-03", date(2024, 1, 4), 3, date(2024, 1, 3), 1, 5),
    ]
    # context.start/end are DATEs for day partitions
    assert query(p, "select distinct typeof(day), typeof(win_end) from marts.per_day") == [("DATE", "DATE")]
    assert query(p, "select n, sum_n from marts.all_days") == [(3, 6)]
    assert query(p, "select week, part, n from marts.weekly") == [(date(2024, 1, 1), "2024-W01", 6)]
    assert query(p, "select region, n, seen from marts.regional order by region") == [
        ("eu", 2, "eu"), ("us", 5, "us")]


def test_rows_outside_the_partition_window_fail_that_partition(af, project):
    p = project({
        "assets/marts/leaky.py": """
            import pyarrow as pa
            from assetflow import asset, AssetContext


            @asset(partition_by="day", start="2024-01-01", end="2024-01-02", time_column="day")
            def leaky(context: AssetContext) -> pa.Table:
                day = context.end if context.partition == "2024-01-02" else context.start
                return pa.table({"day": [day], "v": [1]})
            """,
    })
    res = mat(af, p, expect=1)
    assert res["status"] == "failed"
    got = by_key(res)
    assert got[("marts.leaky", "2024-01-01")]["status"] == "success"
    bad = got[("marts.leaky", "2024-01-02")]
    assert bad["status"] == "failed"
    assert "outside the partition" in bad["error"], bad
    assert query(p, "select day from marts.leaky") == [(date(2024, 1, 1),)]


def test_failure_in_one_partition_skips_and_blocks_only_mapped_downstream(af, project):
    p = project({
        "assets/marts/flaky.py": """
            import pyarrow as pa
            from assetflow import asset, AssetContext


            @asset(partition_by="day", start="2024-01-01", end="2024-01-03", time_column="day")
            def flaky(context: AssetContext) -> pa.Table:
                if context.partition == "2024-01-02":
                    raise RuntimeError("no data for " + context.partition)
                return pa.table({"day": [context.start], "v": [int(context.partition[-1])]})
            """,
        "assets/reports/flaky_x10.sql": """
            /* assetflow
            kind = "partitioned"
            partition_by = "day"
            time_column = "day"
            start = "2024-01-01"
            end = "2024-01-03"
            */
            select day, v * 10 as v from marts.flaky where day >= $start and day < $end
            """,
        "assets/independent.sql": "select 1 as x\n",
    })
    res = mat(af, p, expect=1)
    assert res["status"] == "failed"
    got = {k: v["status"] for k, v in by_key(res).items()}
    assert got == {
        ("marts.flaky", "2024-01-01"): "success",
        ("marts.flaky", "2024-01-02"): "failed",
        ("marts.flaky", "2024-01-03"): "success",
        ("reports.flaky_x10", "2024-01-01"): "success",
        ("reports.flaky_x10", "2024-01-02"): "skipped",
        ("reports.flaky_x10", "2024-01-03"): "success",
        ("main.independent", None): "success",
    }
    assert "no data for 2024-01-02" in by_key(res)[("marts.flaky", "2024-01-02")]["error"]
    assert query(p, "select day, v from reports.flaky_x10 order by day") == [
        (date(2024, 1, 1), 10), (date(2024, 1, 3), 30)]

    # the downstream partition is blocked while its upstream's last attempt failed
    res = mat(af, p, "reports.flaky_x10", expect=1)
    assert res["results"] == [], res
    assert [(b["asset"], b["partition"]) for b in res["blocked"]] == [("reports.flaky_x10", "2024-01-02")]
    st = status(af, p)
    assert st["marts.flaky"]["partitions"]["failed"] == 1, st["marts.flaky"]
    assert st["reports.flaky_x10"]["partitions"]["blocked"] == 1, st["reports.flaky_x10"]
    assert st["reports.flaky_x10"]["partitions"]["fresh"] == 2, st["reports.flaky_x10"]


# ------------------------------------------------------------------------------------------ return types

RETURNS_PY = """
    import duckdb
    import pyarrow as pa
    from assetflow import asset, AssetContext


    @asset
    def as_arrow(stg_orders: pa.Table) -> pa.Table:
        return stg_orders.select(["id", "amount"])


    @asset(deps=["staging.stg_orders"])
    def as_relation(context: AssetContext):
        return context.con.sql("select id, amount * 3 as amount from staging.stg_orders where id < 3")


    @asset
    def as_relation_over_input(stg_orders: pa.Table, context: AssetContext):
        return context.con.from_arrow(stg_orders).filter("amount >= 10").project("id, amount")


    @asset
    def as_foreign_relation():
        return duckdb.sql("select 7 as id, 70 as amount")
    """


def test_accepted_return_types_arrow_and_duckdb_relation(af, project):
    p = project({"assets/staging/stg_orders.sql": ORDERS_SQL, "assets/ret/shapes.py": RETURNS_PY})
    res = mat(af, p)
    assert all(x["status"] == "success" for x in res["results"]), res
    assert query(p, "select id, amount from ret.as_arrow order by id") == [(1, 10), (2, 20), (3, 5)]
    assert query(p, "select id, amount from ret.as_relation order by id") == [(1, 30), (2, 60)]
    assert query(p, "select id, amount from ret.as_relation_over_input order by id") == [(1, 10), (2, 20)]
    assert query(p, "select id, amount from ret.as_foreign_relation") == [(7, 70)]
    assert by_key(res)[("ret.as_relation", None)]["rows"] == 2


def test_accepted_return_type_pandas(af, project):
    pytest.importorskip("pandas")
    p = project({
        "assets/staging/stg_orders.sql": ORDERS_SQL,
        "assets/ret/frames.py": """
            import pandas as pd
            import pyarrow as pa
            from assetflow import asset


            @asset
            def as_pandas(stg_orders: pa.Table):
                df = stg_orders.to_pandas()
                return df[df["amount"] >= 10][["id", "customer"]]   # a filtered frame: index 0, 1
            """,
    })
    res = mat(af, p)
    assert all(x["status"] == "success" for x in res["results"]), res
    assert query(p, "select id, customer from ret.as_pandas order by id") == [(1, "a"), (2, "b")]
    # the DataFrame index does not become a column
    cols = query(p, "select column_name from duckdb_columns() where schema_name = 'ret' "
                    "and table_name = 'as_pandas' order by column_index")
    assert cols == [("id",), ("customer",)]


def test_accepted_return_type_polars(af, project):
    pytest.importorskip("polars")
    p = project({
        "assets/ret/frames.py": """
            import polars as pl
            from assetflow import asset


            @asset
            def as_polars():
                return pl.DataFrame({"id": [1, 2], "name": ["x", "y"]})
            """,
    })
    res = mat(af, p)
    assert all(x["status"] == "success" for x in res["results"]), res
    assert query(p, "select id, name from ret.as_polars order by id") == [(1, "x"), (2, "y")]


def test_wrong_return_types_fail_naming_function_file_and_type(af, project):
    p = project({
        "assets/bad/wrong.py": """
            import pyarrow as pa
            from assetflow import asset, AssetContext


            @asset
            def gives_dict():
                return {"x": [1, 2]}


            @asset
            def gives_list():
                return [{"x": 1}]


            @asset(partition_by="day", start="2024-01-01", end="2024-01-02", time_column="day")
            def gives_nothing(context: AssetContext):
                pa.table({"day": [context.start]})      # forgot to return


            @asset
            def fine():
                return pa.table({"x": [1]})
            """,
        "assets/after_dict.sql": "select * from bad.gives_dict\n",
    })
    res = mat(af, p, expect=1)
    assert res["status"] == "failed"
    got = by_key(res)
    expect = {("bad.gives_dict", None): ("gives_dict", "dict"),
              ("bad.gives_list", None): ("gives_list", "list"),
              ("bad.gives_nothing", "2024-01-01"): ("gives_nothing", "NoneType"),
              ("bad.gives_nothing", "2024-01-02"): ("gives_nothing", "NoneType")}
    for key, (function, type_name) in expect.items():
        entry = got[key]
        assert entry["status"] == "failed", entry
        assert function in entry["error"], entry
        assert "assets/bad/wrong.py" in entry["error"], entry
        assert re.search(rf"\b{type_name}\b", entry["error"]), entry
        assert "Traceback" not in entry["error"], entry
    assert got[("bad.fine", None)]["status"] == "success"
    assert got[("main.after_dict", None)]["status"] == "skipped"
    tables = {r[0] for r in query(p, "select table_name from duckdb_tables() where schema_name = 'bad'")}
    assert tables == {"fine"}


# ------------------------------------------------------------------------------------------ user errors at run time

RAISING_PY = """
    import os

    import pyarrow as pa
    from assetflow import asset


    def _helper(n):
        if os.environ.get("AF_TEST_BOOM"):
            raise ValueError(f"bad value {n}")
        return pa.table({"n": [n]})


    @asset
    def explode(stg_orders: pa.Table):
        return _helper(stg_orders.num_rows)
    """


def test_function_that_raises_records_user_traceback_and_keeps_old_data(af, project):
    p = project({
        "assets/staging/stg_orders.sql": ORDERS_SQL,
        "assets/marts/explode.py": RAISING_PY,
        "assets/reports/after.sql": "select n * 2 as n2 from marts.explode\n",
    })
    assert mat(af, p)["status"] == "success"
    assert query(p, "select n from marts.explode") == [(3,)]

    res = mat(af, p, "--full-refresh", expect=1, env={"AF_TEST_BOOM": "1"})
    got = by_key(res)
    failed = got[("marts.explode", None)]
    assert failed["status"] == "failed"
    assert got[("reports.after", None)]["status"] == "skipped"
    assert got[("staging.stg_orders", None)]["status"] == "success"

    raise_line, call_line = line_of(RAISING_PY, "raise ValueError"), line_of(RAISING_PY, "return _helper(")
    shown = run_show(af, p, res["run_id"])
    assert shown["run"]["status"] == "failed"
    attempts = [a for a in shown["attempts"] if a["asset"] == "marts.explode"]
    assert len(attempts) == 1 and attempts[0]["status"] == "failed", attempts
    for error in (failed["error"], attempts[0]["error"]):
        assert "ValueError: bad value 3" in error, error
        # the user's frames: the asset function and the helper, with their lines
        assert re.search(rf'explode\.py", line {call_line}, in explode', error), error
        assert re.search(rf'explode\.py", line {raise_line}, in _helper', error), error
        # ...and none of the tool's
        for internal in ("assetflow/", "pyassets.py", "steps.py", "executor.py", "concurrent/futures"):
            assert internal not in error, (internal, error)

    # the text summary reports it too, and nothing already materialized was changed
    r = af(p, "materialize", "--full-refresh", "marts.explode", env={"AF_TEST_BOOM": "1"})
    assert r.exit_code == 1, r.output
    assert "bad value 3" in r.output and "marts.explode" in r.output, r.output
    assert "pyassets.py" not in r.output and "steps.py" not in r.output, r.output
    assert query(p, "select n from marts.explode") == [(3,)]
    assert query(p, "select n2 from reports.after") == [(6,)]


def test_sys_exit_in_an_asset_fails_only_that_partition(af, project):
    p = project({
        "assets/marts/quits.py": """
            import sys

            from assetflow import asset


            @asset
            def quits():
                sys.exit(3)
            """,
        "assets/other.sql": "select 1 as x\n",
    })
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    res = r.json()
    got = by_key(res)
    assert got[("marts.quits", None)]["status"] == "failed"
    assert "SystemExit" in got[("marts.quits", None)]["error"], got
    assert got[("main.other", None)]["status"] == "success"


def test_missing_time_column_is_a_clear_error(af, project):
    p = project({
        "assets/marts/nocol.py": """
            import pyarrow as pa
            from assetflow import asset, AssetContext


            @asset(partition_by="day", start="2024-01-01", end="2024-01-01", time_column="day")
            def nocol(context: AssetContext):
                return pa.table({"x": [1]})
            """,
    })
    res = mat(af, p, expect=1)
    error = by_key(res)[("marts.nocol", "2024-01-01")]["error"]
    assert "day" in error and "assets/marts/nocol.py" in error, error
    assert "__af_" not in error, error


# ------------------------------------------------------------------------------------------ errors at load time

def test_syntax_error_in_asset_file_exits_2_with_file_and_line(af, project):
    text = """
        import pyarrow as pa
        from assetflow import asset


        @asset
        def broken(:
            return pa.table({"x": [1]})
        """
    p = project({"assets/ok.sql": "select 1 as x\n", "assets/marts/broken.py": text})
    r = af(p, "status")
    assert_clean_load_error(r, rf"assets/marts/broken\.py:{line_of(text, 'def broken(:')}\b")
    assert not (p / "warehouse.duckdb").exists()


def test_file_raising_at_import_exits_2_with_file_and_line(af, project):
    text = """
        import pyarrow as pa
        from assetflow import asset

        SETTINGS = {"region": "eu"}
        REGION = SETTINGS["country"]


        @asset
        def regional():
            return pa.table({"region": [REGION]})
        """
    p = project({"assets/ok.sql": "select 1 as x\n", "assets/marts/regional.py": text})
    r = af(p, "materialize")
    assert_clean_load_error(r, rf"assets/marts/regional\.py:{line_of(text, 'REGION = ')}\b")
    assert "KeyError" in r.stderr and "country" in r.stderr, r.stderr
    assert not (p / "warehouse.duckdb").exists()
    r = af(p, "--debug", "status")
    assert r.exit_code == 2 and "Traceback" in r.stderr, r.output


def test_same_stem_in_two_schema_folders_both_load_without_interfering(af, project):
    def util(factor: int) -> str:
        return f"""
            import pyarrow as pa
            from assetflow import asset

            FACTOR = {factor}


            @asset
            def metric():
                return pa.table({{"v": [FACTOR]}})
            """
    p = project({
        "assets/alpha/util.py": util(2),
        "assets/beta/util.py": util(3),
        # a file named like a stdlib module must not shadow it (for the tool or for other files)
        "assets/staging/json.py": """
            import json

            import pyarrow as pa
            from assetflow import asset


            @asset
            def payload():
                return pa.table({"doc": [json.dumps({"a": 1})]})
            """,
    })
    res = mat(af, p)
    assert planned(res) == {"alpha.metric", "beta.metric", "staging.payload"}
    assert all(x["status"] == "success" for x in res["results"]), res
    assert query(p, "select v from alpha.metric") == [(2,)]
    assert query(p, "select v from beta.metric") == [(3,)]
    assert query(p, "select doc from staging.payload") == [('{"a": 1}',)]


def test_python_and_sql_asset_with_the_same_name_is_an_error_naming_both_files(af, project):
    text = """
        import pyarrow as pa
        from assetflow import asset


        @asset
        def Scores():
            return pa.table({"x": [1]})
        """
    p = project({"assets/marts/scores.sql": "select 1 as x\n", "assets/marts/more.py": text})
    r = af(p, "graph")
    assert_clean_load_error(r, r"assets/marts/more\.py")
    assert "assets/marts/scores.sql" in r.stderr and "marts.scores" in r.stderr.lower(), r.stderr


# ------------------------------------------------------------------------------------------ code versions

MID_PY = """
    import pyarrow as pa
    import pyarrow.compute as pc
    from assetflow import asset


    @asset
    def mid(src: pa.Table) -> pa.Table:
        \"\"\"Doubles i.\"\"\"
        # multiply by two
        return pa.table({"i": src["i"], "j": pc.multiply(src["i"], 2)})


    @asset
    def lonely() -> pa.Table:
        return pa.table({"k": [1]})
    """


def test_code_change_stales_only_that_asset_and_downstream(af, project):
    p = project({
        "assets/staging/src.sql": "select i from range(3) t(i)\n",
        "assets/marts/fns.py": MID_PY,
        "assets/reports/final.sql": "select sum(j) as s from marts.mid\n",
        "assets/reports/other.sql": "select * from marts.lonely\n",
    })
    assert mat(af, p)["status"] == "success"
    assert query(p, "select s from reports.final") == [(6,)]

    # docstring, comments and formatting: not a change
    write(p, "assets/marts/fns.py", MID_PY
          .replace('"""Doubles i."""', '"""Doubles i; documented at length now."""')
          .replace("# multiply by two", "# multiply by two (the factor the business asked for)")
          .replace('return pa.table({"i": src["i"], "j": pc.multiply(src["i"], 2)})',
                   'return pa.table({"i": src["i"],\n'
                   '                         "j": pc.multiply(src["i"], 2)})  # trailing'))
    st = status(af, p)
    for name, entry in st.items():
        assert entry["partitions"]["stale"] == 0, (name, entry)

    # a body change: that asset and what reads it, nothing else (not its neighbour in the same file)
    write(p, "assets/marts/fns.py", MID_PY.replace('pc.multiply(src["i"], 2)', 'pc.multiply(src["i"], 3)'))
    st = status(af, p)
    assert reasons(st["marts.mid"]) == {"code changed"}
    assert st["reports.final"]["partitions"]["stale"] == 1
    for fresh in ("staging.src", "marts.lonely", "reports.other"):
        assert st[fresh]["partitions"]["stale"] == 0, st[fresh]
    res = mat(af, p)
    assert planned(res) == {"marts.mid", "reports.final"}
    assert query(p, "select s from reports.final") == [(9,)]


PINNED_PY = """
    import pyarrow as pa
    from assetflow import asset


    @asset(code_version="v1")
    def pinned():
        return pa.table({"x": [1]})
    """


def test_explicit_code_version_ignores_body_until_the_string_changes(af, project):
    p = project({"assets/marts/pinned.py": PINNED_PY,
                 "assets/reports/uses_pinned.sql": "select x * 10 as x10 from marts.pinned\n"})
    assert mat(af, p)["status"] == "success"

    write(p, "assets/marts/pinned.py", PINNED_PY.replace('[1]', '[2]'))
    st = status(af, p)
    assert st["marts.pinned"]["partitions"]["stale"] == 0, st["marts.pinned"]
    assert mat(af, p)["results"] == []
    assert query(p, "select x from marts.pinned") == [(1,)]

    write(p, "assets/marts/pinned.py", PINNED_PY.replace('[1]', '[2]').replace('"v1"', '"v2"'))
    st = status(af, p)
    assert reasons(st["marts.pinned"]) == {"code changed"}
    assert st["reports.uses_pinned"]["partitions"]["stale"] == 1
    res = mat(af, p)
    assert planned(res) == {"marts.pinned", "reports.uses_pinned"}
    assert query(p, "select x10 from reports.uses_pinned") == [(20,)]


PICK_PY = """
    import pyarrow as pa
    from assetflow import asset


    @asset(deps={"src": "staging.a"})
    def pick(src: pa.Table):
        return src
    """


def test_repointing_a_parameter_with_deps_makes_the_asset_stale(af, project):
    p = project({"assets/staging/a.sql": "select 1 as v\n", "assets/staging/b.sql": "select 2 as v\n",
                 "assets/marts/pick.py": PICK_PY})
    assert mat(af, p)["status"] == "success"
    write(p, "assets/marts/pick.py", PICK_PY.replace('"staging.a"', '"staging.b"'))
    st = status(af, p)
    assert st["marts.pick"]["partitions"]["stale"] == 1, st["marts.pick"]
    mat(af, p)
    assert query(p, "select v from marts.pick") == [(2,)]


# ------------------------------------------------------------------------------------------ concurrency

def test_pure_python_work_does_not_block_sql_assets(af, project):
    p = project({
        "assets/slow_py.py": """
            import time

            import pyarrow as pa
            from assetflow import asset


            @asset
            def slow_py():
                deadline = time.perf_counter() + 1.5
                n = 0
                while time.perf_counter() < deadline:     # pure Python, holds the GIL
                    n += 1
                return pa.table({"n": [n]})
            """,
        "assets/fast_a.sql": "select count(*) as c from range(2000000)\n",
        "assets/fast_b.sql": "select c + 1 as c from fast_a\n",
        "assets/fast_c.sql": "select c + 1 as c from fast_b\n",
    })
    r = af(p, "materialize", "--threads", "2")
    assert r.exit_code == 0, r.output
    done_order = re.findall(r"^\[\d+/4\]\s+\S+\s+(main\.\w+)", r.stderr, re.M)
    assert sorted(done_order) == ["main.fast_a", "main.fast_b", "main.fast_c", "main.slow_py"], r.stderr
    assert done_order[-1] == "main.slow_py", r.stderr
    assert query(p, "select c from main.fast_c") == [(2000002,)]

    run_id = re.search(r"run (\S+)", r.stdout).group(1)
    attempts = {a["asset"]: a for a in run_show(af, p, run_id)["attempts"]}
    started = {name: datetime.fromisoformat(str(a["started_at"])) for name, a in attempts.items()}
    # The last SQL step started after the Python asset had started, yet finished before it did:
    # the SQL chain ran while the pure-Python loop held the worker (and, often, the GIL).
    assert started["main.slow_py"] < started["main.fast_c"], attempts
    seconds = dict(re.findall(r"^\[\d+/4\]\s+OK\s+(main\.\w+)\s+.*?([\d.]+)s\s*$", r.stderr, re.M))
    assert float(seconds["main.slow_py"]) >= 1.4, r.stderr


def test_attempt_times_cover_the_python_call(af, project):
    p = project({
        "assets/sleepy.py": """
            import time

            import pyarrow as pa
            from assetflow import asset


            @asset
            def sleepy():
                time.sleep(0.6)
                return pa.table({"x": [1]})
            """,
    })
    res = mat(af, p)
    (attempt,) = run_show(af, p, res["run_id"])["attempts"]
    took = (datetime.fromisoformat(str(attempt["ended_at"]))
            - datetime.fromisoformat(str(attempt["started_at"]))).total_seconds()
    assert took >= 0.6, attempt
