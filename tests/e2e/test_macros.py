"""Project macros: `macros/*.sql` holding DuckDB CREATE MACRO statements (scalar and table
macros), created before the assets that use them; a macro's text (and that of the macros it calls)
is in its users' code versions; a table macro's tables are its users' upstreams. Real DuckDB
files, the real CLI in a subprocess."""
from __future__ import annotations

import pytest

from conftest import query, run_cli, write_project

MACROS = """\
-- money helpers
create macro dollars(c) as round(c / 100.0, 2);
CREATE OR REPLACE MACRO with_tax(c, rate := 0.2) AS dollars(c) * (1 + rate);

create macro big_orders(n) as table
    select id, cents from raw.orders where cents >= n;
"""

FILES = {
    "macros/money.sql": MACROS,
    "macros/text.sql": "create temp macro shout(s) as upper(s) || '!';\n",
    "assets/raw/orders.sql": """
        select * from (values (1, 500, 'eu'), (2, 2000, 'eu'), (3, 3000, 'us')) t(id, cents, region)
        """,
    "assets/marts/priced.sql": "select id, dollars(cents) as usd from raw.orders\n",
    "assets/marts/gross.sql": "select id, with_tax(cents) as gross from raw.orders\n",
    "assets/marts/big.sql": "select * from big_orders(1000)\n",
    "assets/marts/regions.sql": """
        /* assetflow
        kind = "view"
        */
        select distinct shout(region) as region from raw.orders
        """,
    "assets/marts/plain.sql": "select count(*) as n from raw.orders\n",
}


def built(p, *args) -> set[str]:
    r = run_cli(p, "materialize", "--json", *args)
    assert r.exit_code == 0, r.output
    return {x["asset"] for x in r.json()["results"] if x["status"] == "success"}


def stale(p) -> set[str]:
    r = run_cli(p, "status", "--json")
    assert r.exit_code == 0, r.output
    return {a["name"] for a in r.json()["assets"] if a["partitions"]["stale"]}


def edit(p, rel, old, new):
    path = p / rel
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


@pytest.fixture
def proj(tmp_path):
    return write_project(tmp_path / "p", FILES)


def test_scalar_and_table_macros_build(proj):
    assert len(built(proj)) == 6
    assert query(proj, "select usd from marts.priced order by id") == [(5.0,), (20.0,), (30.0,)]
    assert query(proj, "select gross from marts.gross order by id") == [(6.0,), (24.0,), (36.0,)]
    assert query(proj, "select id from marts.big order by id") == [(2,), (3,)]
    # a view calling a macro reads the same rows from any DuckDB client: the macros persist
    assert query(proj, "select region from marts.regions order by 1") == [("EU!",), ("US!",)]
    assert built(proj) == set()


def test_editing_a_macro_makes_only_its_users_stale(proj):
    built(proj)
    edit(proj, "macros/money.sql", "round(c / 100.0, 2)", "round(c / 100.0, 0) + 0.5")
    # gross calls with_tax, which calls dollars: the text of both is in its code version
    assert stale(proj) == {"marts.priced", "marts.gross"}
    assert built(proj) == {"marts.priced", "marts.gross"}
    assert query(proj, "select usd from marts.priced order by id") == [(5.5,), (20.5,), (30.5,)]
    edit(proj, "macros/money.sql", "cents >= n", "cents > n")
    assert stale(proj) == {"marts.big"}
    # a comment or a layout change in a macro file changes nothing
    edit(proj, "macros/money.sql", "-- money helpers", "-- money helpers, in cents")
    edit(proj, "macros/money.sql", "create macro dollars(c) as", "create macro dollars(c)\n    as")
    assert stale(proj) == {"marts.big"}


def test_lineage_sees_through_a_table_macro(proj):
    r = run_cli(proj, "graph", "--format", "json")
    assert r.exit_code == 0, r.output
    big = next(a for a in r.json()["assets"] if a["name"] == "marts.big")
    assert "raw.orders" in str(big)
    r = run_cli(proj, "lineage", "raw.orders")
    assert r.exit_code == 0, r.output
    assert "marts.big" in r.stdout
    # editing the table the macro reads rebuilds the macro's users
    built(proj)
    edit(proj, "assets/raw/orders.sql", "(3, 3000, 'us')", "(3, 3000, 'us'), (4, 9000, 'us')")
    assert "marts.big" in built(proj)
    assert query(proj, "select id from marts.big order by id") == [(2,), (3,), (4,)]


def test_compile_shows_the_macros_an_asset_uses(proj):
    r = run_cli(proj, "compile", "marts.gross")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "CREATE OR REPLACE MACRO dollars(c) as round(c / 100.0, 2);"
    assert lines[1].startswith("CREATE OR REPLACE MACRO with_tax(c, rate := 0.2)")
    assert "with_tax(cents)" in lines[2]
    assert "MACRO" not in run_cli(proj, "compile", "marts.plain").stdout


@pytest.mark.parametrize("text,line,message", [
    ("create macro a(x) as x;\n\ncreate table t as select 1;\n", 3,
     "only CREATE MACRO statements belong in a macro file, not `create table t ...`"),
    ("-- a comment\nselect 1;\n", 2, "only CREATE MACRO statements belong in a macro file, not `select 1 ...`"),
    ("create macro a(x) as x;\ncreate view v as select 1;\n", 2, "not `create view v ...`"),
    ("create macro a(x) as x;\ncreate macro a(y) as y;\n", 2, "macro a is defined twice: in macros/bad.sql:1"),
    ("create macro a(x) as b(x);\ncreate macro b(x) as a(x);\n", 1, "macros call each other in a cycle"),
    ("create macro a(x) as (x +;\n", 1, "DuckDB cannot parse this macro file"),
])
def test_a_bad_macro_file_is_exit_2_with_file_and_line(tmp_path, text, line, message):
    files = {"macros/bad.sql": text, "assets/t.sql": "select a(1) as y\n"}
    p = write_project(tmp_path / "p", files)
    r = run_cli(p, "status")
    assert r.exit_code == 2, r.output
    assert message in r.stderr, r.stderr
    assert f"macros/bad.sql:{line}:" in r.stderr or ("cycle" in message and "macros/bad.sql:" in r.stderr)
    assert "Traceback" not in r.output


def test_a_macro_in_its_own_schema(tmp_path):
    files = {"macros/util.sql": "create macro util.twice(x) as x * 2;\n",
             "assets/t.sql": "select util.twice(21) as y\n"}
    p = write_project(tmp_path / "p", files)
    r = run_cli(p, "materialize")
    assert r.exit_code == 0, r.output
    assert query(p, "select y from main.t") == [(42,)]
