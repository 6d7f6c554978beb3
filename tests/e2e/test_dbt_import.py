"""`import-dbt` end to end: a converted dbt project builds, through the CLI on DuckDB, exactly the
rows that the SQL the import renders gives when run directly in DuckDB in dependency order.

The reference side uses only DuckDB and `render_models` (the rendered SQL with assetflow's names,
no header, no partition filter), so a wrong header, partition window, seed load, view/table choice
or check shows up as a difference table by table.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assetflow.dbt import import_project, render_models
from conftest import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dbt"
ENV = {"AF_DBT_TEST_REGION": "apac"}


def build_reference(dbt_dir: Path, db: Path, setup: str = "", vars: dict | None = None) -> list[str]:
    """Run every converted model's rendered SQL directly in DuckDB; returns the relations built."""
    con = duckdb.connect(str(db))
    try:
        if setup:
            con.execute(setup)
        con.execute("create schema if not exists seeds")
        for csv in sorted((dbt_dir / "seeds").rglob("*.csv")):
            con.execute(f"create table seeds.{csv.stem.lower()} as select * from read_csv_auto('{csv}')")
        built = []
        for model in render_models(dbt_dir, vars=vars, env=ENV):
            if not model.converted or not set(model.reads) <= set(built):
                continue                               # not converted, or reads one that is not
            schema = model.relation.split(".")[0]
            kind = "view" if model.materialized in ("view", "ephemeral") else "table"
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create {kind} {model.relation} as {model.sql}")
            built.append(model.relation)
        return built
    finally:
        con.close()


def assert_same_tables(reference: Path, warehouse: Path, relations: list[str]) -> None:
    con = duckdb.connect()
    try:
        con.execute(f"attach '{reference}' as ref (read_only)")
        con.execute(f"attach '{warehouse}' as af (read_only)")
        for relation in relations:
            ref_cols = con.execute(f"describe select * from ref.{relation}").fetchall()
            af_cols = con.execute(f"describe select * from af.{relation}").fetchall()
            assert [c[:2] for c in af_cols] == [c[:2] for c in ref_cols], relation
            count = con.execute(f"select count(*) from ref.{relation}").fetchone()[0]
            assert con.execute(f"select count(*) from af.{relation}").fetchone()[0] == count, relation
            differ = con.execute(f"select count(*) from ((from ref.{relation} except all from af.{relation}) "
                                 f"union all (from af.{relation} except all from ref.{relation}))").fetchone()[0]
            assert differ == 0, f"{relation}: {differ} rows differ"
    finally:
        con.close()


def test_jaffle_shop_duckdb_builds_the_same_rows(tmp_path):
    dbt_dir = FIXTURES / "jaffle_shop_duckdb"
    out = tmp_path / "shop"
    report = import_project(dbt_dir, out, env=ENV)
    assert not report.findings
    assert {m.asset for m in report.models} == {"staging.stg_customers", "staging.stg_orders",
                                                "staging.stg_payments", "main.customers", "main.orders"}
    built = run_cli(out, "materialize")
    assert built.exit_code == 0, built.output
    checks = run_cli(out, "check")
    assert checks.exit_code == 0 and "FAIL" not in checks.stdout and "21 of 21 checks passed" in checks.stdout
    relations = build_reference(dbt_dir, tmp_path / "reference.duckdb")
    assert len(relations) == 5
    assert_same_tables(tmp_path / "reference.duckdb", out / "warehouse.duckdb", relations)
    # the rows are jaffle shop's: 100 customers, 99 orders
    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*), sum(number_of_orders) from main.customers").fetchone() == (100, 99)
    con.close()


RAW_EVENTS = ("create schema raw; create table raw.events as select * from "
              f"read_csv_auto('{FIXTURES / 'constructs' / 'data' / 'events.csv'}')")


def test_every_construct_builds_the_same_rows(tmp_path):
    dbt_dir = FIXTURES / "constructs"
    out = tmp_path / "constructs"
    report = import_project(dbt_dir, out, env=ENV, start="2024-01-01")
    warehouse = duckdb.connect(str(out / "warehouse.duckdb"))
    warehouse.execute(RAW_EVENTS)                              # the table behind [sources] raw.events
    warehouse.close()
    built = run_cli(out, "materialize")
    # marts.after_package reads a model that uses dbt_utils: blocked until someone builds that table
    assert built.exit_code == 1 and "marts.after_package: source missing: marts.uses_package" in built.output
    relations = build_reference(dbt_dir, tmp_path / "reference.duckdb", RAW_EVENTS)
    assert set(relations) == {m.asset for m in report.models} - {"marts.after_package"}
    assert_same_tables(tmp_path / "reference.duckdb", out / "warehouse.duckdb", relations)
    checks = run_cli(out, "check")
    assert checks.exit_code == 0 and "FAIL" not in checks.stdout, checks.output


def test_partitioned_incremental_rebuilds_one_partition(tmp_path):
    """A converted incremental model is partitioned: changing one day's source rows and
    backfilling that day changes only that day."""
    out = tmp_path / "constructs"
    import_project(FIXTURES / "constructs", out, env=ENV, start="2024-01-01")
    con = duckdb.connect(str(out / "warehouse.duckdb"))
    con.execute(RAW_EVENTS)
    con.close()
    # with stg_users too: the relationships check on stg_events reads it
    built = run_cli(out, "materialize", "+marts.events_incremental", "+staging.stg_users")
    assert built.exit_code == 0, built.output
    con = duckdb.connect(str(out / "warehouse.duckdb"))
    con.execute("insert into raw.events values (8, 2, timestamp '2024-01-03 13:00:00', 'view', 0)")
    con.close()
    rebuilt = run_cli(out, "backfill", "marts.events_incremental", "--from", "2024-01-03", "--to", "2024-01-03")
    assert rebuilt.exit_code == 0, rebuilt.output
    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    rows = con.execute("select cast(event_ts as date) as day, count(*) from marts.events_incremental "
                       "group by all order by 1").fetchall()
    con.close()
    assert [str(d) for d, _ in rows] == ["2024-01-03", "2024-01-04", "2024-01-10", "2024-02-01", "2024-02-14",
                                         "2024-03-30"]
    assert dict((str(d), n) for d, n in rows)["2024-01-03"] == 3


@pytest.mark.parametrize("fixture", ["jaffle_shop_duckdb", "constructs"])
def test_import_is_deterministic(tmp_path, fixture):
    first, second = tmp_path / "a", tmp_path / "b"
    import_project(FIXTURES / fixture, first, env=ENV, start="2024-01-01")
    import_project(FIXTURES / fixture, second, env=ENV, start="2024-01-01")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        a, b = (first / rel).read_bytes(), (second / rel).read_bytes()
        if rel.name == "IMPORT_REPORT.md":
            a, b = a.replace(str(first).encode(), b""), b.replace(str(second).encode(), b"")
        assert a == b, rel


# ------------------------------------------------------------------------------------------ the command line


def test_import_dbt_command_converts_and_the_result_materializes(tmp_path):
    out = tmp_path / "constructs"
    result = run_cli(None, "import-dbt", str(FIXTURES / "constructs"), str(out), "--start", "2024-01-01",
                     "--var", "seed_schema=raw", env=ENV)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Imported dbt project constructs: 10 model(s), 2 seed(s), 1 source(s)")
    assert "skipped  models/marts/uses_package.sql:2: dbt_utils.generate_surrogate_key()" in result.stdout
    assert "Next: cd" in result.stdout
    assert (out / "IMPORT_REPORT.md").read_text().startswith("# Import of dbt project `constructs`")
    # env_var() read the environment the command ran in
    assert "'apac' as region" in (out / "assets" / "staging" / "stg_users.sql").read_text()
    con = duckdb.connect(str(out / "warehouse.duckdb"))
    con.execute(RAW_EVENTS)
    con.close()
    built = run_cli(out, "materialize", "+marts.user_summary")
    assert built.exit_code == 0, built.output


def dbt_dir(tmp_path: Path, model: str) -> Path:
    root = tmp_path / "dbt"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: p\nconfig-version: 2\n")
    (root / "models" / "a.sql").write_text(model)
    return root


@pytest.mark.parametrize("model, where, message", [
    ("select 1 as x,\n  {{ 1 + }} as y\n", "models/a.sql:2", "Jinja syntax error"),
    ("select\n  {{ var('start_date') }} as x\n", "models/a.sql:2", "required var 'start_date' is not set"),
])
def test_bad_dbt_projects_exit_2_with_file_and_line(tmp_path, model, where, message):
    result = run_cli(None, "import-dbt", str(dbt_dir(tmp_path, model)), str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert f"error: {tmp_path / 'dbt'}" not in result.stderr
    assert result.stderr.startswith(f"error: {where}: {message}") and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_var_on_the_command_line_fills_an_undefined_var(tmp_path):
    root = dbt_dir(tmp_path, "select cast('{{ var(\"start_date\") }}' as date) as d\n")
    result = run_cli(None, "import-dbt", str(root), str(tmp_path / "out"), "--var", "start_date=2024-03-01")
    assert result.exit_code == 0, result.output
    assert run_cli(tmp_path / "out", "materialize").exit_code == 0
    con = duckdb.connect(str(tmp_path / "out" / "warehouse.duckdb"), read_only=True)
    assert str(con.execute("select d from main.a").fetchone()[0]) == "2024-03-01"
    con.close()


def test_not_a_dbt_project_and_a_non_empty_out_dir_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli(None, "import-dbt", str(tmp_path / "empty"), str(tmp_path / "out"))
    assert result.exit_code == 2 and "is not a dbt project: it has no dbt_project.yml" in result.stderr
    root = dbt_dir(tmp_path, "select 1 as x\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run_cli(None, "import-dbt", str(root), str(out))
    assert result.exit_code == 2 and "is not empty" in result.stderr and "--force" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    forced = run_cli(None, "import-dbt", str(root), str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "assets" / "a.sql").exists() and (out / "notes.txt").read_text() == "mine"
    bad_var = run_cli(None, "import-dbt", str(root), str(tmp_path / "new"), "--var", "oops")
    assert bad_var.exit_code == 2 and "is not NAME=VALUE" in bad_var.stderr


def test_descriptions_become_header_docs(tmp_path):
    """A model's and its columns' descriptions (schema.yml) become `description` and `columns`:
    `graph --format json` shows them; a `*/` in the text does not end the header."""
    root = dbt_dir(tmp_path, "select 1 as id, 'x' as label\n")
    (root / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n  - name: a\n    description: |\n      One row per thing.\n      Ends with */ here.\n"
        "    columns:\n      - name: id\n        description: the id\n      - name: label\n")
    result = run_cli(None, "import-dbt", str(root), str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    graph = run_cli(tmp_path / "out", "graph", "--format", "json")
    assert graph.exit_code == 0, graph.output
    (a,) = [x for x in graph.json()["assets"] if x["name"] == "main.a"]
    assert a["description"] == "One row per thing.\nEnds with */ here."
    assert a["columns"] == {"id": "the id"}
    assert run_cli(tmp_path / "out", "materialize").exit_code == 0
