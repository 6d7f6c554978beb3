"""Building unpartitioned SQL projects on real DuckDB files (SPEC sections 2, 3, 5, 6, 7)."""
from __future__ import annotations

import re
import textwrap

from conftest import query

TOML = """
[project]
name = "shop"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[sources]
"raw.orders" = { path = "data/orders.csv" }
"""

REVENUE_SQL = """
select c.name as country, sum(o.amount) as revenue, count(*) as n
from stg_orders o
join seeds.countries c on c.code = o.country
group by all
"""

FILES = {
    "seeds/countries.csv": "code,name\nDE,Germany\nFR,France\n",
    "data/orders.csv": "id,country,amount\n1,DE,10\n2,FR,20\n3,DE,5\n",
    "assets/staging/stg_orders.sql": """
        select id, country, amount
        from raw.orders
        """,
    "assets/marts/revenue_by_country.sql": REVENUE_SQL,
    "assets/numbers.sql": "select i from range(5) t(i)\n",
    "assets/marts/big_numbers.sql": """
        /* assetflow
        kind = "view"
        */
        select i from main.numbers where i >= 2
        """,
}

ALL = {"seeds.countries", "staging.stg_orders", "marts.revenue_by_country", "main.numbers",
       "marts.big_numbers"}


def make(project, extra: dict | None = None):
    files = dict(FILES)
    files.update(extra or {})
    return project(files, TOML)


def write(p, rel: str, text: str) -> None:
    (p / rel).write_text(textwrap.dedent(text).lstrip())


def mat(af, p, *args, expect: int = 0) -> dict:
    r = af(p, "materialize", *args, "--json")
    assert r.exit_code == expect, r.output
    return r.json()


def planned(res: dict) -> set[str]:
    return {x["asset"] for x in res["results"]}


def status(af, p, *args) -> dict[str, dict]:
    r = af(p, "status", *args, "--json")
    assert r.exit_code == 0, r.output
    return {a["name"]: a for a in r.json()["assets"]}


def reasons(entry: dict) -> set[str]:
    return {reason for s in entry["stale"] for reason in s["reasons"]}


def built(af, project, extra: dict | None = None):
    p = make(project, extra)
    res = mat(af, p)
    assert res["status"] == "success"
    assert planned(res) >= ALL
    return p


def user_relations(p) -> set[str]:
    """Tables and views in the DuckDB file, minus assetflow's bookkeeping schema and the schema of
    the declared source (an implementation may expose `raw.orders` as a view; that is not an asset)."""
    rows = query(p, "select schema_name, table_name from duckdb_tables() where not internal "
                    "union all select schema_name, view_name from duckdb_views() where not internal")
    return {f"{s}.{n}" for s, n in rows if s not in ("_assetflow", "raw")}


REVENUE_ROWS = [("France", 20, 1), ("Germany", 15, 2)]


def revenue(p):
    return query(p, "select country, revenue, n from marts.revenue_by_country order by country")


# ------------------------------------------------------------------------------------------

def test_first_build_creates_tables_with_rows(af, project):
    p = make(project)
    res = mat(af, p)
    assert res["status"] == "success"
    assert res["run_id"]
    assert planned(res) == ALL
    by = {x["asset"]: x for x in res["results"]}
    for name, x in by.items():
        assert x["status"] == "success", x
        assert x["partition"] is None
        assert x["error"] is None
        assert x["attempts"] == 1
    assert by["staging.stg_orders"]["rows"] == 3
    assert by["marts.revenue_by_country"]["rows"] == 2

    assert query(p, "select count(*) from seeds.countries") == [(2,)]
    assert query(p, "select id from staging.stg_orders order by id") == [(1,), (2,), (3,)]
    assert revenue(p) == REVENUE_ROWS  # read its upstreams after they were built
    assert query(p, "select count(*) from main.numbers") == [(5,)]
    assert user_relations(p) == ALL
    schemas = {r[0] for r in query(p, "select schema_name from duckdb_schemas()")}
    assert "_assetflow" in schemas

    # the view asset is a view, the others are tables
    views = set(query(p, "select schema_name, view_name from duckdb_views() where not internal"))
    tables = set(query(p, "select schema_name, table_name from duckdb_tables()"))
    assert ("marts", "big_numbers") in views
    assert ("marts", "big_numbers") not in tables
    assert ("marts", "revenue_by_country") in tables and ("seeds", "countries") in tables
    assert query(p, "select i from marts.big_numbers order by i") == [(2,), (3,), (4,)]


def test_long_chain_builds_in_dependency_order(af, project):
    files = {"assets/c0.sql": "select i from range(10) t(i)\n"}
    for k in range(1, 8):
        files[f"assets/c{k}.sql"] = f"select i + 1 as i from c{k - 1}\n"
    files["assets/fan_a.sql"] = "select i from c3 where i % 2 = 0\n"
    files["assets/fan_b.sql"] = "select i from c3 where i % 2 = 1\n"
    files["assets/joined.sql"] = "select (select count(*) from fan_a) + (select count(*) from fan_b) as n\n"
    p = project(files)
    r = af(p, "materialize", "--threads", "4")
    assert r.exit_code == 0, r.output
    assert query(p, "select min(i), max(i), count(*) from main.c7") == [(7, 16, 10)]
    assert query(p, "select n from main.joined") == [(10,)]


def test_noop_rerun_plans_nothing(af, project):
    p = built(af, project)
    res = mat(af, p)
    assert res["status"] == "success"
    assert res["results"] == []
    st = status(af, p)
    for name, a in st.items():
        assert a["partitions"]["stale"] == 0, (name, a)
        assert a["partitions"]["fresh"] == 1, (name, a)
        assert a["stale"] == [], (name, a)


def test_whitespace_and_comment_edit_is_not_stale(af, project):
    p = built(af, project)
    write(p, "assets/marts/revenue_by_country.sql", """
        -- revenue per country, reformatted
        SELECT   c.name AS country,
                 SUM(o.amount) AS revenue,   /* total amount */
                 COUNT(*) AS n
        FROM stg_orders o
        JOIN seeds.countries c
          ON c.code = o.country

        GROUP BY ALL   -- trailing comment
        """)
    st = status(af, p)
    assert st["marts.revenue_by_country"]["partitions"]["stale"] == 0, st["marts.revenue_by_country"]
    assert mat(af, p)["results"] == []


def test_semantic_edit_rebuilds_exactly_asset_and_downstream(af, project):
    p = built(af, project)
    write(p, "assets/staging/stg_orders.sql", """
        select id, country, amount
        from raw.orders
        where amount > 5
        """)
    st = status(af, p)
    assert reasons(st["staging.stg_orders"]) == {"code changed"}
    assert reasons(st["marts.revenue_by_country"]) == {"upstream stale"}
    for fresh in ("seeds.countries", "main.numbers", "marts.big_numbers"):
        assert st[fresh]["partitions"]["stale"] == 0, st[fresh]

    res = mat(af, p)
    assert planned(res) == {"staging.stg_orders", "marts.revenue_by_country"}
    assert all(x["status"] == "success" for x in res["results"])
    assert revenue(p) == [("France", 20, 1), ("Germany", 10, 1)]


def test_rebuilt_upstream_makes_downstream_stale_with_upstream_changed(af, project):
    p = built(af, project)
    res = mat(af, p, "staging.stg_orders", "--full-refresh")
    assert planned(res) == {"staging.stg_orders"}
    st = status(af, p)
    assert st["staging.stg_orders"]["partitions"]["stale"] == 0
    assert reasons(st["marts.revenue_by_country"]) == {"upstream changed"}
    assert st["seeds.countries"]["partitions"]["stale"] == 0
    assert planned(mat(af, p)) == {"marts.revenue_by_country"}


def test_seed_content_change_rebuilds_seed_and_downstream(af, project):
    p = built(af, project)
    (p / "seeds/countries.csv").write_text("code,name\nDE,Germany\nFR,La France\n")
    res = mat(af, p)
    assert planned(res) == {"seeds.countries", "marts.revenue_by_country"}
    assert revenue(p) == [("Germany", 15, 2), ("La France", 20, 1)]


def test_file_source_change_makes_consumers_stale(af, project):
    p = built(af, project)
    (p / "data/orders.csv").write_text("id,country,amount\n1,DE,10\n2,FR,20\n3,DE,5\n4,FR,1\n")
    st = status(af, p)
    assert "source changed" in reasons(st["staging.stg_orders"])
    assert st["marts.revenue_by_country"]["partitions"]["stale"] == 1
    assert st["main.numbers"]["partitions"]["stale"] == 0
    res = mat(af, p)
    assert planned(res) == {"staging.stg_orders", "marts.revenue_by_country"}
    assert query(p, "select count(*) from staging.stg_orders") == [(4,)]
    assert revenue(p) == [("France", 21, 2), ("Germany", 15, 2)]


def test_dry_run_on_fresh_project_writes_nothing(af, project):
    p = make(project)
    res = mat(af, p, "--dry-run")
    assert planned(res) == ALL
    if (p / "warehouse.duckdb").exists():
        assert user_relations(p) == set()

    # ... so status still reports every asset as never materialized (one partition, key null)
    st = status(af, p)
    assert set(st) == ALL
    for name, a in st.items():
        assert a["partitions"]["total"] == 1, name
        assert a["partitions"]["stale"] == 1, name
        assert a["partitions"]["fresh"] == 0, name
        assert [s["partition"] for s in a["stale"]] == [None], name
        assert reasons(a) == {"never materialized"}, name
    assert st["marts.big_numbers"]["kind"] == "view"
    assert st["staging.stg_orders"]["kind"] == "table"


def test_dry_run_after_edit_changes_nothing(af, project):
    p = built(af, project)
    write(p, "assets/staging/stg_orders.sql", "select id, country, amount * 100 as amount from raw.orders\n")
    res = mat(af, p, "--dry-run")
    assert planned(res) == {"staging.stg_orders", "marts.revenue_by_country"}
    assert query(p, "select sum(amount) from staging.stg_orders") == [(35,)]
    assert revenue(p) == REVENUE_ROWS
    st = status(af, p)
    assert reasons(st["staging.stg_orders"]) == {"code changed"}


def test_full_refresh_rebuilds_everything_selected(af, project):
    p = built(af, project)
    res = mat(af, p, "--full-refresh")
    assert planned(res) == ALL
    assert all(x["status"] == "success" for x in res["results"])
    res = mat(af, p, "marts.revenue_by_country", "--full-refresh")
    assert planned(res) == {"marts.revenue_by_country"}
    assert revenue(p) == REVENUE_ROWS


def test_thread_count_does_not_change_data(af, project):
    extra = {f"assets/fan/f{k}.sql": f"select i * {k} as v, {k} as k from main.numbers\n" for k in range(6)}
    extra["assets/fan/all_f.sql"] = " union all ".join(f"select * from fan.f{k}" for k in range(6)) + "\n"
    p1, p4 = make(project, extra), make(project, extra)
    assert af(p1, "materialize", "--threads", "1").exit_code == 0
    assert af(p4, "materialize", "--threads", "4").exit_code == 0
    names = ALL | {f"fan.f{k}" for k in range(6)} | {"fan.all_f"}
    assert user_relations(p1) == user_relations(p4) == names
    for name in sorted(names):
        sql = f"select * from {name} order by all"
        assert query(p1, sql) == query(p4, sql), name
    assert query(p4, "select count(*), sum(v) from fan.all_f") == [(30, 150)]


FAIL_FILES = {
    "assets/src.sql": "select * from (values ('1'), ('2')) v(s)\n",
    "assets/parsed.sql": "select cast(s as integer) as n from main.src\n",
    "assets/total.sql": "select sum(n) as total from main.parsed\n",
    "assets/indep.sql": "select 1 as x\n",
}


def test_failure_skips_downstream_keeps_old_table_and_other_branch_runs(af, project):
    p = project(FAIL_FILES)
    assert mat(af, p)["status"] == "success"
    assert query(p, "select n from main.parsed order by n") == [(1,), (2,)]

    # src now yields a value `parsed` cannot cast: parsed fails at run time
    write(p, "assets/src.sql", "select * from (values ('1'), ('2'), ('x')) v(s)\n")
    write(p, "assets/indep.sql", "select 2 as x\n")
    res = mat(af, p, expect=1)
    assert res["status"] == "failed"
    by = {x["asset"]: x for x in res["results"]}
    assert set(by) == {"main.src", "main.parsed", "main.total", "main.indep"}
    assert by["main.src"]["status"] == "success"
    assert by["main.parsed"]["status"] == "failed"
    assert isinstance(by["main.parsed"]["error"], str) and by["main.parsed"]["error"].strip()
    assert by["main.total"]["status"] == "skipped"
    assert by["main.indep"]["status"] == "success"

    # the failed asset's previous table and its downstream are untouched; the other branch is new
    assert query(p, "select n from main.parsed order by n") == [(1,), (2,)]
    assert query(p, "select total from main.total") == [(3,)]
    assert query(p, "select x from main.indep") == [(2,)]
    assert query(p, "select count(*) from main.src") == [(3,)]

    st = status(af, p)
    assert st["main.parsed"]["partitions"]["failed"] == 1
    assert st["main.parsed"]["partitions"]["fresh"] == 0
    assert st["main.total"]["partitions"]["blocked"] == 1
    assert st["main.total"]["partitions"]["fresh"] == 0
    assert st["main.indep"]["partitions"]["fresh"] == 1

    # human output: non-zero exit, a summary naming what failed, no traceback
    r = af(p, "materialize")
    assert r.exit_code == 1, r.output
    assert "main.parsed" in r.output
    assert "Traceback" not in r.output


def test_runs_lists_and_shows_runs(af, project):
    p = make(project)
    run1 = mat(af, p)["run_id"]
    run2 = mat(af, p, "main.numbers", "--full-refresh")["run_id"]
    assert run1 != run2

    r = af(p, "runs")
    assert r.exit_code == 0, r.output
    assert run1 in r.stdout and run2 in r.stdout

    r = af(p, "runs", "--limit", "1")
    assert r.exit_code == 0, r.output
    assert run2 in r.stdout and run1 not in r.stdout

    r = af(p, "runs", "show", run1)
    assert r.exit_code == 0, r.output
    assert run1 in r.stdout
    assert "staging.stg_orders" in r.stdout and "marts.revenue_by_country" in r.stdout

    r = af(p, "runs", "show", "no-such-run")
    assert r.exit_code == 2, r.output
    assert "no-such-run" in r.stderr
    assert "Traceback" not in r.output


def test_compile_qualifies_bare_references(af, project):
    p = make(project)
    r = af(p, "compile", "marts.revenue_by_country")
    assert r.exit_code == 0, r.output
    sql = r.stdout.replace('"', "").lower()
    assert "staging.stg_orders" in sql
    assert "seeds.countries" in sql
    assert not re.search(r"\bfrom\s+stg_orders\b", sql)
    assert re.search(r"\bselect\b", sql)
