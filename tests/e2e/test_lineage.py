"""Lineage inferred from SQL, observed through `assetflow graph` (SPEC sections 3 and 7).

Every table a query reads (FROM, JOIN, subqueries, CTE bodies; never CTE names or aliases) is an
upstream; table functions are not tables; files read directly are sources; `deps = [...]` adds
upstreams. References resolve by `schema.name` or an unambiguous bare name, case-insensitively.
"""
from __future__ import annotations

import re

import pytest

from conftest import run_cli, write_project

# A small fixed set of real assets that the queries under test (assets/main/q_*.sql) read from.
BASE = {
    "assets/main/orders.sql": "select 1 as id, 10 as customer_id, 5.0 as amount\n",
    "assets/main/customers.sql": "select 10 as id, 'ann' as name\n",
    "assets/main/items.sql": "select 1 as order_id, [1, 2, 3] as tags\n",
    "assets/staging/stg_orders.sql": "select * from main.orders\n",
}


def graph_json(af, p) -> dict:
    r = af(p, "graph", "--format", "json")
    assert r.exit_code == 0, r.output
    return r.json()


def upstream_map(af, p) -> dict[str, list[str]]:
    return {a["name"]: a["upstream"] for a in graph_json(af, p)["assets"]}


# (id, sql, expected upstream set of asset main.q_<id>)
CASES = [
    # --- CTEs: the body's tables are upstream, the CTE name never is -------------------------
    ("cte_shadows_asset",
     "with orders as (select * from customers)\nselect * from orders\n",
     {"main.customers"}),
    ("cte_named_like_itself",  # {me} is the asset's own name
     "with {me} as (select * from orders)\nselect * from {me}\n",
     {"main.orders"}),
    ("cte_shadow_used_in_subquery",
     "with orders as (select id from customers)\n"
     "select * from items where order_id in (select id from orders)\n",
     {"main.customers", "main.items"}),
    ("cte_chain",
     "with c1 as (select * from orders),\n"
     "     c2 as (select c1.*, c.name from c1 join customers c on c.id = c1.customer_id)\n"
     "select * from c2\n",
     {"main.orders", "main.customers"}),
    ("nested_with_inside_cte",
     "with outer_c as (with inner_c as (select * from items) select * from inner_c)\n"
     "select * from outer_c\n",
     {"main.items"}),
    ("cte_scope_ends_with_its_subquery",
     # inside the subquery `orders` is the CTE (reads customers); outside it is the real asset
     "select * from (with orders as (select id from customers) select id from orders) s\n"
     "join orders o on o.id = s.id\n",
     {"main.customers", "main.orders"}),
    ("recursive_cte",
     "with recursive r(n) as (\n"
     "  select min(id) from orders\n"
     "  union all\n"
     "  select n + 1 from r where n < 5\n"
     ")\nselect n from r\n",
     {"main.orders"}),
    ("recursive_cte_shadowing_asset",
     "with recursive customers(n) as (select 1 union all select n + 1 from customers where n < 3)\n"
     "select * from customers join orders on orders.id = customers.n\n",
     {"main.orders"}),
    # --- subqueries ---------------------------------------------------------------------
    ("correlated_subquery_in_where",
     "select * from orders o\n"
     "where o.customer_id = (select max(c.id) from customers c where c.id = o.customer_id)\n",
     {"main.orders", "main.customers"}),
    ("scalar_subquery_in_select",
     "select o.id, (select c.name from customers c where c.id = o.customer_id) as name\n"
     "from orders o\n",
     {"main.orders", "main.customers"}),
    ("exists_and_not_exists",
     "select * from customers c\n"
     "where exists (select 1 from orders o where o.customer_id = c.id)\n"
     "  and not exists (select 1 from items i where i.order_id = c.id)\n",
     {"main.customers", "main.orders", "main.items"}),
    ("subqueries_in_from",
     "select s.id from (select id from orders where amount > 0) s\n"
     "join (select id from customers) c on s.id = c.id\n",
     {"main.orders", "main.customers"}),
    # --- aliases, quoting, qualification ------------------------------------------------
    ("alias_named_like_other_asset",
     "select customers.id from orders as customers\n",
     {"main.orders"}),
    ("quoted_mixed_case_identifier",
     'select * from "Orders"\n',
     {"main.orders"}),
    ("quoted_schema_and_table",
     'select * from "MAIN"."Customers"\n',
     {"main.customers"}),
    ("bare_name_other_schema",
     "select * from stg_orders\n",
     {"staging.stg_orders"}),
    ("qualified_name_any_case",
     "select * from STAGING.Stg_Orders\n",
     {"staging.stg_orders"}),
    # --- table functions are not tables -------------------------------------------------
    ("unnest_table_function",
     "select i.order_id, t.tag from items i, unnest(i.tags) as t(tag)\n",
     {"main.items"}),
    ("lateral_subquery",
     "select * from orders o, lateral (select o.amount * 2 as doubled) d\n",
     {"main.orders"}),
    ("range_joined_to_asset",
     "select * from range(3) r(i) join orders on orders.id = r.i\n",
     {"main.orders"}),
    ("generate_series_only",
     "select * from generate_series(1, 3) g(i)\n",
     set()),
    ("values_only",
     "select * from (values (1), (2)) v(x)\n",
     set()),
    # --- set operations read both sides -------------------------------------------------
    *[(f"setop_{op.replace(' ', '_')}",
       f"select id from orders\n{op}\nselect id from customers\n",
       {"main.orders", "main.customers"})
      for op in ("union", "union all", "intersect", "except")],
    # --- declared deps ------------------------------------------------------------------
    ("deps_header_adds_upstream",
     '/* assetflow\ndeps = ["main.customers", "staging.stg_orders"]\n*/\nselect * from orders\n',
     {"main.orders", "main.customers", "staging.stg_orders"}),
    # --- files read directly are sources (FILE stands for the entry naming data/x.csv) ----
    ("file_literal", "select * from 'data/x.csv'\n", {"FILE"}),
    ("file_read_csv", "select * from read_csv('data/x.csv')\n", {"FILE"}),
    ("file_read_csv_auto_with_options",
     "select * from read_csv_auto('data/x.csv', header = true) f join orders using (id)\n",
     {"FILE", "main.orders"}),
]

EXTRA = {"data/x.csv": "id,v\n1,a\n"}


def normalize(upstream) -> set[str]:
    """Upstream names as a set, with whatever entry names the file data/x.csv shown as FILE."""
    return {"FILE" if "data/x.csv" in u.replace("\\", "/") else u for u in upstream}


@pytest.fixture(scope="module")
def all_cases_graph(tmp_path_factory):
    """All CASES as assets main.q_<id> of one project, graphed with a single CLI call.

    Returns None when that project does not graph cleanly; each test then falls back to a project
    of its own, so a single unsupported construct cannot hide the results of the others.
    """
    files = dict(BASE, **EXTRA)
    for cid, sql, _ in CASES:
        files[f"assets/main/q_{cid}.sql"] = sql.replace("{me}", f"q_{cid}")
    p = write_project(tmp_path_factory.mktemp("lineage") / "all", files)
    r = run_cli(p, "graph", "--format", "json")
    if r.exit_code != 0:
        return None
    return {a["name"]: a["upstream"] for a in r.json()["assets"]}


@pytest.mark.parametrize("cid,sql,expected", CASES, ids=[c[0] for c in CASES])
def test_inferred_upstream(af, project, all_cases_graph, cid, sql, expected):
    name = f"main.q_{cid}"
    if all_cases_graph is not None:
        up = all_cases_graph[name]
    else:
        files = dict(BASE, **EXTRA)
        files[f"assets/main/q_{cid}.sql"] = sql.replace("{me}", f"q_{cid}")
        up = upstream_map(af, project(files))[name]
    assert normalize(up) == expected
    assert len(up) == len(expected)  # no duplicates, no extra entry for the same file


def test_graph_json_shape_names_kinds_and_sorted_upstream(af, project):
    p = project({
        **BASE,
        "assets/marts/report.sql": """
            /* assetflow
            kind = "view"
            */
            select o.id, c.name, s.amount
            from stg_orders s
            join main.orders o on o.id = s.id
            join customers c on c.id = o.customer_id
            """,
    })
    g = graph_json(af, p)
    names = {a["name"] for a in g["assets"]}
    assert names == {"main.orders", "main.customers", "main.items", "staging.stg_orders", "marts.report"}
    by_name = {a["name"]: a for a in g["assets"]}
    assert by_name["marts.report"]["kind"] == "view"
    assert by_name["main.orders"]["kind"] == "table"
    assert by_name["marts.report"]["upstream"] == ["main.customers", "main.orders", "staging.stg_orders"]
    assert by_name["staging.stg_orders"]["upstream"] == ["main.orders"]
    assert by_name["main.orders"]["upstream"] == []
    assert g["sources"] == []


def test_reserved_word_asset_name_quoted(af, project):
    files = dict(BASE)
    files["assets/main/order.sql"] = "select 1 as id\n"
    files["assets/main/q.sql"] = 'select * from main."order" join orders using (id)\n'
    up = upstream_map(af, project(files))
    assert "main.order" in up
    assert set(up["main.q"]) == {"main.order", "main.orders"}


def test_declared_sources_are_upstream_and_listed(af, project):
    toml = """
        [project]
        name = "t"
        dialect = "duckdb"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"

        [sources]
        "raw.payments" = { table = "raw.payments" }
        "raw.events" = { path = "data/events.csv" }
        """
    p = project({
        "data/events.csv": "id,kind\n1,click\n",
        "assets/staging/stg_events.sql": "select * from raw.events\n",
        "assets/staging/stg_payments.sql": "select * from payments\n",  # bare, unambiguous
        "assets/marts/m.sql": "select * from staging.stg_events join raw.payments using (id)\n",
    }, toml)
    g = graph_json(af, p)
    up = {a["name"]: set(a["upstream"]) for a in g["assets"]}
    assert set(g["sources"]) == {"raw.payments", "raw.events"}
    assert up["staging.stg_events"] == {"raw.events"}
    assert up["staging.stg_payments"] == {"raw.payments"}
    assert up["marts.m"] == {"staging.stg_events", "raw.payments"}
    assert "raw.events" not in up and "raw.payments" not in up  # sources are not assets


def test_ambiguous_bare_name_is_an_error_naming_both(af, project):
    p = project({
        "assets/staging/users.sql": "select 1 as id\n",
        "assets/marts/users.sql": "select 2 as id\n",
        "assets/report.sql": "select *\nfrom users\n",
    })
    r = af(p, "graph", "--format", "json")
    assert r.exit_code == 2, r.output
    assert "assets/report.sql" in r.stderr
    assert "staging.users" in r.stderr and "marts.users" in r.stderr
    assert "Traceback" not in r.output


def test_unknown_table_names_file_line_and_suggestion(af, project):
    sql = """
        /* assetflow
        tags = ["x"]
        */
        select id
        from staging.stg_ordrs
        """
    p = project({**BASE, "assets/marts/rev.sql": sql})
    r = af(p, "graph", "--format", "json")
    assert r.exit_code == 2, r.output
    assert "assets/marts/rev.sql:5" in r.stderr
    assert "stg_ordrs" in r.stderr
    assert "staging.stg_orders" in r.stderr  # did you mean
    assert "Traceback" not in r.output


def test_unknown_table_inside_cte_body(af, project):
    sql = "with x as (\n  select * from custmers\n)\nselect * from x\n"
    p = project({**BASE, "assets/main/q.sql": sql})
    r = af(p, "graph", "--format", "json")
    assert r.exit_code == 2, r.output
    assert "assets/main/q.sql:2" in r.stderr
    assert "custmers" in r.stderr
    assert "main.customers" in r.stderr


def _edges_mentioned(text: str, a: str, b: str, arrow: str) -> bool:
    """True when some line draws `a arrow b`.

    Tolerates quoting, id sanitising (main.a -> main_a) and opaque node ids with labels
    (mermaid `n1["main.a"]`, dot `n1 [label="main.a"]`).
    """
    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9]+", "_", s.lower())

    labels: dict[str, str] = {}
    for m in re.finditer(r'(\w+)\s*[\[\(\{]+\s*"?([^"\]\)\}]+?)"?\s*[\]\)\}]+', text):
        labels[m.group(1)] = m.group(2)
    for m in re.finditer(r'"?(\w+)"?\s*\[[^\]]*label\s*=\s*"([^"]+)"', text):
        labels[m.group(1)] = m.group(2)

    def side(s: str) -> str:
        return norm(" ".join(labels.get(w, w) + " " + w for w in re.findall(r"[\w.]+", s)))

    na, nb = norm(a), norm(b)
    for line in text.splitlines():
        if arrow in line:
            left, _, right = line.partition(arrow)
            if na in side(left) and nb in side(right):
                return True
    return False


def test_mermaid_and_dot_draw_edges(af, project):
    p = project({
        "assets/staging/stg.sql": "select 1 as id\n",
        "assets/marts/mart.sql": "select * from staging.stg\n",
        "assets/lonely.sql": "select 2 as id\n",
    })
    mer = af(p, "graph", "--format", "mermaid")
    assert mer.exit_code == 0, mer.output
    assert re.search(r"^\s*(graph|flowchart)\b", mer.stdout, re.M)
    assert _edges_mentioned(mer.stdout, "staging.stg", "marts.mart", "-->")
    assert not _edges_mentioned(mer.stdout, "marts.mart", "staging.stg", "-->")
    assert "main.lonely" in mer.stdout or "main_lonely" in mer.stdout

    dot = af(p, "graph", "--format", "dot")
    assert dot.exit_code == 0, dot.output
    assert "digraph" in dot.stdout
    assert _edges_mentioned(dot.stdout, "staging.stg", "marts.mart", "->")
    assert not _edges_mentioned(dot.stdout, "marts.mart", "staging.stg", "->")
