"""Project variables: `[vars]` in assetflow.toml and `--var NAME=VALUE`, read in SQL with DuckDB's
`getvariable('NAME')` and in Python through `context.vars`. A variable's value is part of the code
version of exactly the assets that read it. Real DuckDB files, the real CLI in a subprocess."""
from __future__ import annotations

import pytest

from conftest import query, run_cli, write_project

TOML = """
[project]
name = "vars"

[vars]
min_amount = 10
region = "${REGION:-EU}"
since = 2024-01-02

[targets.dev]
path = "warehouse.duckdb"
threads = 2
"""

FILES = {
    "assets/staging/orders.sql": """
        select * from (values (1, 5, 'EU', DATE '2024-01-01'), (2, 20, 'EU', DATE '2024-01-03'),
                              (3, 30, 'US', DATE '2024-01-05')) t(id, amount, region, day)
        """,
    "assets/marts/big.sql": """
        select id, amount from staging.orders
        where amount >= getvariable('min_amount')
        """,
    "assets/marts/recent.sql": """
        select id from staging.orders where day >= getvariable('SINCE')
        """,
    "assets/marts/regional.sql": """
        /* assetflow
        kind = "view"
        */
        select id from staging.orders where region = getvariable('region')
        """,
    "assets/marts/counted.sql": "select count(*) as n from staging.orders\n",
    "assets/marts/scored.py": '''
        import pyarrow as pa
        from assetflow import asset

        @asset
        def scored(context, orders):
            bonus = context.vars["min_amount"]
            return pa.table({"id": orders.column("id"), "score": [a + bonus for a in orders.column("amount").to_pylist()]})
        ''',
    "assets/marts/plain.py": '''
        import pyarrow as pa
        from assetflow import asset

        @asset
        def plain(orders):
            return pa.table({"n": [orders.num_rows]})
        ''',
}


def built(p, *args, env=None) -> set[str]:
    r = run_cli(p, "materialize", "--json", *args, env=env)
    assert r.exit_code == 0, r.output
    return {x["asset"] for x in r.json()["results"] if x["status"] == "success"}


def stale(p, *args) -> set[str]:
    r = run_cli(p, "status", "--json", *args)
    assert r.exit_code == 0, r.output
    return {a["name"] for a in r.json()["assets"] if a["partitions"]["stale"]}


@pytest.fixture
def proj(tmp_path):
    return write_project(tmp_path / "p", FILES, TOML)


def test_sql_reads_vars_and_a_value_change_rebuilds_only_the_readers(proj):
    assert len(built(proj)) == 7
    assert query(proj, "select id from marts.big order by id") == [(2,), (3,)]
    assert query(proj, "select id from marts.recent order by id") == [(2,), (3,)]
    assert query(proj, "select score from marts.scored order by id") == [(15,), (30,), (40,)]
    assert built(proj) == set()                                   # nothing changed: nothing built

    toml = proj / "assetflow.toml"
    toml.write_text(toml.read_text().replace("min_amount = 10", "min_amount = 25"))
    assert stale(proj) == {"marts.big", "marts.scored"}
    assert built(proj) == {"marts.big", "marts.scored"}           # not recent, regional, counted, plain
    assert query(proj, "select id from marts.big") == [(3,)]
    assert query(proj, "select score from marts.scored order by id") == [(30,), (45,), (55,)]


def test_var_on_the_command_line_overrides_toml_and_env(proj):
    assert len(built(proj)) == 7
    assert built(proj, "--var", "min_amount=30") == {"marts.big", "marts.scored"}
    assert query(proj, "select id from marts.big") == [(3,)]
    # back to the [vars] value: the readers are stale again (the value is in their code version)
    assert stale(proj) == {"marts.big", "marts.scored"}
    assert stale(proj, "--var", "min_amount=30") == set()
    # ${REGION} in [vars] comes from the environment; --var wins over both
    assert built(proj, env={"REGION": "US"}) == {"marts.big", "marts.scored", "marts.regional"}
    assert query(proj, "select id from marts.regional") == [(3,)]
    assert built(proj, "--var", "region=EU", "--var", "min_amount=10") == {"marts.regional"}
    assert query(proj, "select id from marts.regional order by id") == [(1,), (2,)]
    # typed: a date value compares with a DATE column
    assert built(proj, "--var", "since=2024-01-04", "--var", "region=EU") == {"marts.recent"}
    assert query(proj, "select id from marts.recent") == [(3,)]


def test_a_view_keeps_the_values_it_was_built_with(proj):
    """A view's query runs on the reader's connection, where no variable is set: the value is
    written into the view, so any DuckDB client reads the same rows assetflow built."""
    built(proj, "--var", "region=US")
    assert query(proj, "select id from marts.regional") == [(3,)]
    r = run_cli(proj, "compile", "marts.regional", "--var", "region=US")
    assert r.exit_code == 0, r.output
    assert "region = ('US')" in r.stdout and "getvariable" not in r.stdout


def test_compile_shows_the_set_variable_statements(proj):
    r = run_cli(proj, "compile", "marts.big", "--var", "min_amount=7")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "SET VARIABLE min_amount = 7;"
    assert "getvariable('min_amount')" in r.stdout
    assert "SET VARIABLE" not in run_cli(proj, "compile", "marts.counted").stdout
    r = run_cli(proj, "compile", "marts.recent")
    assert r.stdout.splitlines()[0] == "SET VARIABLE since = DATE '2024-01-02';"


def test_backfill_takes_var(tmp_path):
    files = {"assets/daily.sql": """
        /* assetflow
        partition_by = "day"
        time_column = "day"
        start = "2024-01-01"
        end = "2024-01-03"
        */
        select $start::date as day, getvariable('factor') as factor
        """}
    p = write_project(tmp_path / "p", files, TOML.replace("since = 2024-01-02", "since = 2024-01-02\nfactor = 2"))
    r = run_cli(p, "materialize")
    assert r.exit_code == 0, r.output
    r = run_cli(p, "backfill", "main.daily", "--from", "2024-01-02", "--to", "2024-01-02", "--var", "factor=3")
    assert r.exit_code == 0, r.output
    assert query(p, "select factor from main.daily order by day") == [(2,), (3,), (2,)]


def test_an_undefined_variable_is_exit_2_with_file_line_and_fix(proj):
    (proj / "assets/marts/typo.sql").write_text("select 1 as x\nwhere getvariable('min_amout') > 0\n")
    for command in (("status",), ("materialize",), ("compile", "marts.big")):
        r = run_cli(proj, *command)
        assert r.exit_code == 2, r.output
        assert "assets/marts/typo.sql:2: getvariable('min_amout') reads a variable that is not defined" in r.stderr
        assert "did you mean min_amount?" in r.stderr and "--var NAME=VALUE" in r.stderr
        assert "Traceback" not in r.output
    # --var defines it
    assert run_cli(proj, "status", "--var", "min_amout=1").exit_code == 0


def test_python_asset_reading_an_undefined_variable(proj):
    (proj / "assets/marts/needs.py").write_text(
        "from assetflow import asset\n\n@asset\ndef needs(context):\n    return context.vars['nope']\n")
    r = run_cli(proj, "status")
    assert r.exit_code == 2, r.output
    assert "assets/marts/needs.py:5: getvariable('nope')" in r.stderr


@pytest.mark.parametrize("args,message", [
    (("--var", "nameonly"), "--var 'nameonly' is not NAME=VALUE"),
    (("--var", "2x=1"), "--var '2x=1' is not NAME=VALUE"),
    (("--var", 'x=[1, "a"]'), "--var x mixes int and str in one list"),
])
def test_bad_var_option_is_exit_2(proj, args, message):
    r = run_cli(proj, "materialize", *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("toml,message", [
    ('[vars]\n"my var" = 1\n', "variable name 'my var' is not a plain identifier"),
    ("[vars]\nx = { a = 1 }\n", "vars.x must be a string, number, boolean, date or time, or a list of them"),
    ("[vars]\nx = 1\nX = 2\n", "variable 'X' is defined twice"),
    ('vars = 3\n', "[vars] must be a table"),
    ('[vars]\nx = "${NOT_SET_ANYWHERE}"\n', "NOT_SET_ANYWHERE"),
])
def test_bad_vars_table_is_exit_2_naming_the_line(tmp_path, toml, message):
    p = write_project(tmp_path / "p", {"assets/a.sql": "select 1 as x\n"}, toml)
    r = run_cli(p, "status")
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "assetflow.toml" in r.stderr and "Traceback" not in r.output
