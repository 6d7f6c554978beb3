"""Column lineage, asset lineage and `compile` through the CLI (issue 6).

`assetflow lineage ASSET.COLUMN` prints the upstream columns a column derives from, traced
through CTEs and joins, asset by asset, down to sources (or to a Python asset, where tracing
stops); `--json` gives {"asset", "column", "upstream": [...recursive...]}. `lineage ASSET` lists
upstream and downstream assets. `compile ASSET --partition KEY` prints the SQL exactly as it would
run, which executes in DuckDB and gives the materialized partition's rows.
"""
from __future__ import annotations

import pytest

from conftest import query

TOML = """
[project]
name = "lin"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[sources]
"raw.orders" = { path = "data/orders.csv" }
"raw.customers" = { path = "data/customers.csv" }
"""

FILES = {
    "data/orders.csv": "order_id,customer_id,amount,order_date\n"
                       "1,10,5.5,2024-01-01\n2,10,4.5,2024-01-02\n3,20,7.0,2024-01-02\n4,30,1.0,2024-01-02\n",
    "data/customers.csv": "customer_id,name,country\n10,ann,DE\n20,bob,FR\n30,cy,FR\n",
    "data/weights.csv": "country,weight\nDE,2\nFR,3\n",
    # staging: renames and expressions over the sources
    "assets/staging/stg_orders.sql": """
        select order_id, customer_id, amount * 2 as amount_x2, cast(order_date as date) as order_date
        from raw.orders
        """,
    "assets/staging/stg_customers.sql": """
        select customer_id as cust_id, upper(name) as name, country from raw.customers
        """,
    # a CTE (itself over a CTE) and a join; a file read directly
    "assets/marts/cust_rev.sql": """
        with per_order as (
            select customer_id, amount_x2 from staging.stg_orders
        ),
        totals as (
            select customer_id, sum(amount_x2) as revenue
            from per_order
            group by customer_id
        )
        select c.name as customer_name,
               c.country,
               t.revenue,
               t.revenue * w.weight as weighted,
               c.country || '-' || cast(t.customer_id as varchar) as tag
        from totals as t
        join staging.stg_customers as c on c.cust_id = t.customer_id
        left join 'data/weights.csv' as w on w.country = c.country
        """,
    # a third SQL asset in the chain
    "assets/reports/top.sql": """
        select customer_name, revenue as best_revenue
        from marts.cust_rev
        order by revenue desc
        limit 2
        """,
    # a partitioned asset with a CTE and a join, for compile
    "assets/marts/daily.sql": """
        /* assetflow
        partition_by = "day"
        time_column = "order_date"
        start = "2024-01-01"
        end = "2024-01-02"
        */
        with o as (
            select * from staging.stg_orders where order_date >= $start and order_date < $end
        )
        select o.order_date, c.country, sum(o.amount_x2) as revenue, count(*) as n
        from o join staging.stg_customers as c on c.cust_id = o.customer_id
        group by all
        """,
    # a Python asset in the chain: lineage stops there
    "assets/marts/scores.py": """
        import pyarrow as pa
        from assetflow import asset


        @asset
        def scores(stg_orders: pa.Table) -> pa.Table:
            return pa.table({"customer_id": stg_orders.column("customer_id"),
                             "score": stg_orders.column("amount_x2")})
        """,
    "assets/reports/best_score.sql": """
        with s as (select customer_id, score from marts.scores)
        select customer_id, max(score) as best from s group by customer_id
        """,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The project, materialized once for the module (tests only read it)."""
    from conftest import run_cli, write_project
    p = write_project(tmp_path_factory.mktemp("lineage") / "p", FILES, TOML)
    r = run_cli(p, "materialize")
    assert r.exit_code == 0, r.output
    return p


def lineage_json(af, p, target: str) -> dict:
    r = af(p, "lineage", target, "--json")
    assert r.exit_code == 0, r.output
    return r.json()


def edges(tree: dict) -> set[tuple[str, str]]:
    """(column, upstream column) pairs of a lineage tree, as 'asset.column' texts."""
    me = f"{tree['asset']}.{tree['column']}"
    out = set()
    for child in tree["upstream"]:
        out.add((me, f"{child['asset']}.{child['column']}"))
        out |= edges(child)
    return out


def leaves(tree: dict) -> set[str]:
    if not tree["upstream"]:
        return {f"{tree['asset']}.{tree['column']}"}
    return set().union(*(leaves(c) for c in tree["upstream"]))


def check_shape(tree: dict) -> None:
    assert set(tree) == {"asset", "column", "description", "upstream"}, tree
    assert isinstance(tree["upstream"], list)
    for child in tree["upstream"]:
        check_shape(child)


# ------------------------------------------------------------------------------------ columns

def test_column_through_ctes_to_source(af, built):
    tree = lineage_json(af, built, "marts.cust_rev.revenue")
    check_shape(tree)
    assert (tree["asset"], tree["column"]) == ("marts.cust_rev", "revenue")
    assert edges(tree) == {
        ("marts.cust_rev.revenue", "staging.stg_orders.amount_x2"),
        ("staging.stg_orders.amount_x2", "raw.orders.amount"),
    }


def test_column_through_join_to_renamed_source_column(af, built):
    tree = lineage_json(af, built, "marts.cust_rev.customer_name")
    assert edges(tree) == {
        ("marts.cust_rev.customer_name", "staging.stg_customers.name"),
        ("staging.stg_customers.name", "raw.customers.name"),
    }


def test_column_from_both_sides_of_a_join(af, built):
    tree = lineage_json(af, built, "marts.cust_rev.tag")
    assert {c for _, c in edges(tree) if _ == "marts.cust_rev.tag"} == {
        "staging.stg_customers.country", "staging.stg_orders.customer_id"}
    assert leaves(tree) == {"raw.customers.country", "raw.orders.customer_id"}


def test_column_from_a_join_with_a_file(af, built):
    tree = lineage_json(af, built, "marts.cust_rev.weighted")
    ups = {c for p, c in edges(tree) if p == "marts.cust_rev.weighted"}
    assert "staging.stg_orders.amount_x2" in ups
    assert any(c.endswith(".weight") for c in ups), ups
    assert "raw.orders.amount" in leaves(tree)


def test_three_sql_assets_deep(af, built):
    tree = lineage_json(af, built, "reports.top.best_revenue")
    assert edges(tree) == {
        ("reports.top.best_revenue", "marts.cust_rev.revenue"),
        ("marts.cust_rev.revenue", "staging.stg_orders.amount_x2"),
        ("staging.stg_orders.amount_x2", "raw.orders.amount"),
    }


def test_text_output_is_an_indented_tree(af, built):
    r = af(built, "lineage", "reports.top.best_revenue")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "reports.top.best_revenue",
        "  <- marts.cust_rev.revenue",
        "    <- staging.stg_orders.amount_x2",
        "      <- raw.orders.amount",
    ]


def test_bare_asset_name_and_case(af, built):
    assert edges(lineage_json(af, built, "cust_rev.revenue")) == edges(
        lineage_json(af, built, "MARTS.CUST_REV.revenue"))


def test_select_star_cte_traced_with_built_database(af, built):
    tree = lineage_json(af, built, "marts.daily.revenue")
    assert edges(tree) == {
        ("marts.daily.revenue", "staging.stg_orders.amount_x2"),
        ("staging.stg_orders.amount_x2", "raw.orders.amount"),
    }


def test_python_asset_ends_lineage(af, built):
    tree = lineage_json(af, built, "reports.best_score.best")
    assert tree["upstream"] == [{"asset": "marts.scores", "column": "score", "description": None, "upstream": []}]
    r = af(built, "lineage", "marts.scores.score")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "marts.scores.score"


def test_lineage_without_a_database(af, project):
    """Lineage reads the SQL: it works before anything is built (no `select *` involved)."""
    p = project({k: v for k, v in FILES.items()}, toml=TOML)
    tree = lineage_json(af, p, "reports.top.best_revenue")
    assert leaves(tree) == {"raw.orders.amount"}
    assert not (p / "warehouse.duckdb").exists(), "lineage must not create the database"


def test_select_star_lineage_before_build(af, project):
    """Without a database there is no schema to expand `select *` with: a column read through it
    is the column of the same name in the table the star reads."""
    p = project({k: v for k, v in FILES.items()}, toml=TOML)
    tree = lineage_json(af, p, "marts.daily.revenue")
    assert edges(tree) >= {("marts.daily.revenue", "staging.stg_orders.amount_x2"),
                           ("staging.stg_orders.amount_x2", "raw.orders.amount")}, tree
    assert leaves(tree) == {"raw.orders.amount"}
    assert leaves(lineage_json(af, p, "marts.daily.order_date")) == {"raw.orders.order_date"}
    assert not (p / "warehouse.duckdb").exists()


# ------------------------------------------------------------------------------------ assets

def test_asset_lineage_lists_upstream_and_downstream(af, built):
    data = lineage_json(af, built, "marts.cust_rev")
    assert data["name"] == "marts.cust_rev"
    assert set(data["upstream"]) >= {"staging.stg_orders", "staging.stg_customers"}
    assert data["downstream"] == ["reports.top"]
    assert set(data["all_upstream"]) >= {"staging.stg_orders", "staging.stg_customers"}
    assert data["all_downstream"] == ["reports.top"]

    data = lineage_json(af, built, "staging.stg_orders")
    assert "raw.orders" in data["upstream"]
    assert set(data["downstream"]) == {"marts.cust_rev", "marts.daily", "marts.scores"}
    assert set(data["all_downstream"]) == {"marts.cust_rev", "marts.daily", "marts.scores", "reports.top",
                                           "reports.best_score"}

    r = af(built, "lineage", "staging.stg_orders")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.splitlines()[0] == "staging.stg_orders"
    assert "upstream:" in out and "raw.orders" in out
    assert "downstream:" in out and "marts.cust_rev" in out and "reports.best_score" in out


# ------------------------------------------------------------------------------------ errors

def test_unknown_asset_exits_2_with_suggestion(af, built):
    r = af(built, "lineage", "marts.cust_revv")
    assert r.exit_code == 2, r.output
    assert "marts.cust_rev" in r.output and "Traceback" not in r.output
    r = af(built, "lineage", "nothing_like_it")
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_unknown_column_exits_2_with_suggestion(af, built):
    r = af(built, "lineage", "marts.cust_rev.revenu")
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert "revenue" in r.output, r.output


def test_unknown_column_exits_2_no_traceback(af, built):
    r = af(built, "lineage", "marts.cust_rev.nope")
    assert r.exit_code == 2, r.output
    assert "nope" in r.output and "Traceback" not in r.output


# ------------------------------------------------------------------------------------ compile

def run_sql(p, sql: str):
    return sorted(query(p, sql), key=repr)


def test_compile_partition_runs_and_equals_materialized_rows(af, built):
    for key in ("2024-01-01", "2024-01-02"):
        r = af(built, "compile", "marts.daily", "--partition", key)
        assert r.exit_code == 0, r.output
        sql = r.stdout
        assert "$start" not in sql and "$end" not in sql
        assert key in sql
        got = run_sql(built, sql)
        want = run_sql(built, f"select * from marts.daily where order_date = date '{key}'")
        assert got == want and got, (key, got, want)


def test_compile_table_asset_with_file_read_runs(af, built):
    r = af(built, "compile", "marts.cust_rev")
    assert r.exit_code == 0, r.output
    assert "'data/weights.csv'" not in r.stdout          # file paths are made absolute
    assert run_sql(built, r.stdout) == run_sql(built, "select * from marts.cust_rev")


def test_compile_errors(af, built):
    r = af(built, "compile", "marts.scores")
    assert r.exit_code == 2 and "python" in r.output.lower() and "Traceback" not in r.output
    r = af(built, "compile", "marts.daily", "--partition", "2030-01-01")
    assert r.exit_code == 2 and "2030-01-01" in r.output and "Traceback" not in r.output
    r = af(built, "compile", "marts.cust_rev", "--partition", "2024-01-01")
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = af(built, "compile", "marts.nope")
    assert r.exit_code == 2 and "Traceback" not in r.output
