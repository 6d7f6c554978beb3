"""`assetflow.dbt.import_project` on small dbt projects written here, one Jinja construct or rule
at a time: what each renders to, where the converted files go, and the errors with file:line."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assetflow.dbt import import_project, parse_var
from assetflow.errors import ProjectError, UsageError

PROJECT_YML = """
name: shop
config-version: 2
vars:
  country: NL
  shop:
    scoped: from-project
"""


def dbt(tmp_path: Path, files: dict[str, str], project_yml: str = PROJECT_YML) -> Path:
    root = tmp_path / "dbt"
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(textwrap.dedent(project_yml).lstrip())
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def convert(tmp_path: Path, files: dict[str, str], project_yml: str = PROJECT_YML, **kwargs):
    out = tmp_path / "out"
    kwargs.setdefault("env", {})
    report = import_project(dbt(tmp_path, files, project_yml), out, **kwargs)
    return report, out


def query_of(out: Path, rel: str) -> str:
    """The asset's SQL after its header and the `-- converted from` line."""
    text = (out / rel).read_text()
    return text[text.index("-- converted from"):].split("\n", 1)[1].strip()


def header_of(out: Path, rel: str) -> str:
    text = (out / rel).read_text()
    return text[:text.index("*/")]


# ------------------------------------------------------------------------------------------ ref, source


def test_ref_one_and_two_arguments_and_seeds(tmp_path):
    report, out = convert(tmp_path, {
        "models/staging/stg_a.sql": "select * from {{ ref('raw_a') }}",
        "models/marts/b.sql": "select * from {{ ref('stg_a') }} join {{ ref('shop', 'stg_a') }} using (id)",
        "seeds/raw_a.csv": "id\n1\n"})
    assert query_of(out, "assets/staging/stg_a.sql") == "select * from seeds.raw_a"
    assert query_of(out, "assets/marts/b.sql") == "select * from staging.stg_a join staging.stg_a using (id)"
    assert (out / "seeds" / "raw_a.csv").read_text() == "id\n1\n"
    assert [m.asset for m in report.models] == ["marts.b", "staging.stg_a"]


def test_ref_to_another_package_or_unknown_model_is_listed_and_the_rest_converts(tmp_path):
    report, out = convert(tmp_path, {
        "models/a.sql": "select 1 as id",
        "models/b.sql": "select *\nfrom {{ ref('other_pkg', 'x') }}",
        "models/c.sql": "select * from {{ ref('aa') }}"})
    assert [m.asset for m in report.models] == ["main.a"]
    found = {f.location: f.what for f in report.skipped}
    assert "names a model of package other_pkg" in found["models/b.sql:2"]
    assert "no model or seed is named aa" in found["models/c.sql:1"]
    toml = (out / "assetflow.toml").read_text()
    assert '"main.b" = { table = "main.b" }' in toml     # declared, so readers of b still load


def test_sources_become_table_sources_with_freshness(tmp_path):
    report, out = convert(tmp_path, {
        "models/sources.yml": """
            version: 2
            sources:
              - name: app
                schema: "{{ var('raw_schema', 'landing') }}"
                tables:
                  - name: orders
                    identifier: orders_v2
                    loaded_at_field: loaded_at
            """,
        "models/stg.sql": "select * from {{ source('app', 'orders') }}"})
    assert query_of(out, "assets/stg.sql") == "select * from landing.orders_v2"
    assert ('"landing.orders_v2" = { table = "landing.orders_v2", '
            'freshness = "select max(loaded_at) from landing.orders_v2" }') in (out / "assetflow.toml").read_text()
    assert report.sources == (("app.orders", "landing.orders_v2"),)


# ------------------------------------------------------------------------------------------ config


def test_config_materialization_schema_alias_and_tags(tmp_path):
    yml = PROJECT_YML + "models:\n  shop:\n    +materialized: table\n    +tags: [nightly]\n" \
                        "    staging:\n      +materialized: view\n      +schema: stage\n"
    report, out = convert(tmp_path, {
        "models/staging/a.sql": "{{ config(tags=['pii']) }}\nselect 1 as id",
        "models/marts/b.sql": "{{ config(alias='bee', schema='gold') }}\nselect * from {{ ref('a') }}",
        "models/c.sql": "{{ config(materialized='view') }}\nselect {{ config.get('materialized') | tojson }} as m"},
        project_yml=yml)
    assert 'kind = "view"\ntags = ["nightly", "pii"]' in header_of(out, "assets/stage/a.sql")
    assert 'kind = "table"' in header_of(out, "assets/gold/bee.sql")
    assert query_of(out, "assets/gold/bee.sql") == "select * from stage.a"
    assert query_of(out, "assets/c.sql") == 'select "view" as m'
    assert {m.asset: m.kind for m in report.models} == {"stage.a": "view", "gold.bee": "table", "main.c": "view"}


def test_disabled_models_are_not_converted(tmp_path):
    report, out = convert(tmp_path, {"models/a.sql": "{{ config(enabled=false) }}\nselect 1 as x",
                                     "models/b.sql": "select 2 as y"},
                          project_yml=PROJECT_YML + "models:\n  shop:\n    b:\n      +enabled: false\n")
    assert report.models == ()
    assert not (out / "assets" / "a.sql").exists() and not (out / "assets" / "b.sql").exists()


# ------------------------------------------------------------------------------------------ var, env_var


def test_var_from_project_scope_command_line_and_default(tmp_path):
    _, out = convert(tmp_path, {"models/a.sql": """
        select '{{ var("country") }}' as c, '{{ var("scoped") }}' as s, {{ var("n") }} as n,
               '{{ var("missing", "fallback") }}' as d
        """}, vars={"n": 3, "country": "DE"})
    assert query_of(out, "assets/a.sql") == "select 'DE' as c, 'from-project' as s, 3 as n,\n       'fallback' as d"


def test_an_undefined_var_is_an_error_with_file_and_line(tmp_path):
    with pytest.raises(ProjectError) as caught:
        convert(tmp_path, {"models/a.sql": "select\n  {{ var('start_date') }} as x"})
    assert (caught.value.path, caught.value.line) == ("models/a.sql", 2)
    assert "required var 'start_date'" in caught.value.message and "--var start_date=" in caught.value.hint
    assert not (tmp_path / "out").exists()                  # nothing written


def test_env_var_with_default_set_and_missing(tmp_path):
    _, out = convert(tmp_path, {"models/a.sql": "select '{{ env_var('A') }}' as a, '{{ env_var('B', 'b') }}' as b"},
                     env={"A": "from-env"})
    assert query_of(out, "assets/a.sql") == "select 'from-env' as a, 'b' as b"
    with pytest.raises(ProjectError) as caught:
        convert(tmp_path / "second", {"macros/m.sql": "{% macro m() %}\n{{ env_var('NOPE') }}\n{% endmacro %}",
                                      "models/a.sql": "select {{ m() }} as a"})
    assert (caught.value.path, caught.value.line) == ("macros/m.sql", 2)


# ------------------------------------------------------------------------------------------ this, target


def test_this_target_and_is_incremental(tmp_path):
    _, out = convert(tmp_path, {"models/marts/a.sql": """
        select '{{ this }}' as me, '{{ this.schema }}.{{ this.identifier }}' as parts,
               '{{ target.name }}/{{ target.type }}/{{ target.schema }}' as t
        from {{ ref('b') }}
        {% if is_incremental() %} where x > (select max(x) from {{ this }}) {% endif %}
        """, "models/b.sql": "select 1 as x"})
    assert query_of(out, "assets/marts/a.sql") == (
        "select 'marts.a' as me, 'marts.a' as parts,\n       'dev/duckdb/main' as t\nfrom main.b")


# ------------------------------------------------------------------------------------------ incremental


def test_incremental_with_a_max_from_this_filter_is_partitioned_by_day(tmp_path):
    report, out = convert(tmp_path, {"models/events.sql": """
        {{ config(materialized='incremental') }}
        select id, loaded_at from raw_events
        {% if is_incremental() %}
        where loaded_at > (select coalesce(max(loaded_at), '1900-01-01') from {{ this }})
        {% endif %}
        """}, start="2024-02-01")
    head = header_of(out, "assets/events.sql")
    assert 'kind = "partitioned"\npartition_by = "day"\ntime_column = "loaded_at"\nstart = "2024-02-01"' in head
    assert query_of(out, "assets/events.sql").endswith(
        ") as dbt_model\nwhere loaded_at >= $start and loaded_at < $end")
    assert any("partitions start at 2024-02-01" in f.what for f in report.findings)


def test_microbatch_takes_event_time_begin_batch_size_and_lookback(tmp_path):
    _, out = convert(tmp_path, {"models/m.sql": """
        {{ config(materialized='incremental', incremental_strategy='microbatch', event_time='ts',
                  begin='2023-05-17 08:00:00', batch_size='hour', lookback=2) }}
        select 1 as x, now() as ts
        """})
    head = header_of(out, "assets/m.sql")
    assert ('partition_by = "hour"\ntime_column = "ts"\nstart = "2023-05-17T08"\nbatch_size = 168\n'
            'lookback = 2') in head


def test_incremental_without_a_time_column_is_a_table_with_a_note(tmp_path):
    report, out = convert(tmp_path, {"models/m.sql": "{{ config(materialized='incremental') }}\nselect 1 as x"})
    assert 'kind = "table"' in header_of(out, "assets/m.sql")
    assert any("without an event_time" in f.what and f.effect == "note" for f in report.findings)


# ------------------------------------------------------------------------------------------ macros


def test_macros_call_macros_across_files_dispatch_and_return(tmp_path):
    _, out = convert(tmp_path, {
        "macros/a.sql": "{% macro money(c) %}{{ return(adapter.dispatch('money')(c)) }}{% endmacro %}\n"
                        "{% macro default__money(c) %}round({{ c }} / 100, {{ digits() }}){% endmacro %}",
        "macros/b.sql": "{% macro digits() %}{{ return(2) }}{% endmacro %}\n"
                        "{% macro duckdb__money(c) %}({{ c }} / 100.0)::decimal(10, {{ digits() }}){% endmacro %}",
        "models/a.sql": "select {{ money('cents') }} as amount, {{ dbt.dateadd('day', 1, 'd') }} as next_day, "
                        "{{ digits() + 1 }} as three from t"})
    assert query_of(out, "assets/a.sql") == (
        "select (cents / 100.0)::decimal(10, 2) as amount, date_add(d, interval (1) day) as next_day, "
        "3 as three from t")


def test_package_macros_and_unknown_names_are_listed_with_their_line(tmp_path):
    report, out = convert(tmp_path, {
        "macros/m.sql": "{% macro keys() %}\n{{ dbt_utils.generate_surrogate_key(['a']) }}\n{% endmacro %}",
        "models/a.sql": "select\n{{ keys() }} as k",
        "models/b.sql": "select\n\n{{ no_such_macro() }} as x",
        "models/c.sql": "select {{ dbt.listagg('x') }} as x",
        "models/d.sql": "select 1 as ok"})
    found = {f.location: f.what for f in report.skipped}
    assert found["macros/m.sql:2"] == "dbt_utils.generate_surrogate_key() is a macro of package dbt_utils"
    assert "no_such_macro" in found["models/b.sql:3"]
    assert found["models/c.sql:1"] == "dbt.listagg is not supported"
    assert [m.asset for m in report.models] == ["main.d"]


def test_a_jinja_syntax_error_is_an_error_with_file_and_line(tmp_path):
    with pytest.raises(ProjectError) as caught:
        convert(tmp_path, {"models/a.sql": "select 1,\n  {{ 1 + }} as y"})
    assert caught.value.path == "models/a.sql" and caught.value.line == 2
    assert "Jinja syntax error" in caught.value.message
    with pytest.raises(ProjectError) as caught:
        convert(tmp_path / "second", {"macros/m.sql": "{% macro m( %}", "models/a.sql": "select 1 as x"})
    assert (caught.value.path, caught.value.line) == ("macros/m.sql", 1)


def test_unknown_tags_python_models_snapshots_and_custom_materializations_are_listed(tmp_path):
    report, _ = convert(tmp_path, {
        "models/a.sql": "select 1 as x\n{% unknown_tag %}",
        "models/p.py": "def model(dbt, session):\n    return None\n",
        "snapshots/s.sql": "-- history\n{% snapshot snap %}\nselect 1 as x\n{% endsnapshot %}",
        "macros/mat.sql": "{% materialization insert_only, default %}{% endmaterialization %}",
        "models/b.sql": "{{ config(materialized='insert_only') }}\nselect 1 as x",
        "models/ok.sql": "select 1 as x"})
    found = {f.location: f.what for f in report.skipped}
    assert "unknown Jinja construct" in found["models/a.sql:2"]
    assert found["models/p.py:1"] == "Python model"
    assert found["snapshots/s.sql:2"] == "snapshot snap is not converted"
    assert found["macros/mat.sql:1"] == "custom materialization insert_only is not converted"
    assert found["models/b.sql:1"] == "materialization 'insert_only' is not converted"
    assert [m.asset for m in report.models] == ["main.ok"]


# ------------------------------------------------------------------------------------------ tests -> checks


def test_schema_yml_tests_become_checks(tmp_path):
    report, out = convert(tmp_path, {
        "models/a.sql": "select 1 as id, 'x' as status, 1 as b_id from {{ ref('b') }}",
        "models/b.sql": "select 1 as id",
        "models/schema.yml": """
            version: 2
            models:
              - name: a
                columns:
                  - name: id
                    data_tests: [not_null, unique]
                  - name: status
                    tests:
                      - accepted_values: {values: ['x', 'y'], config: {severity: warn}}
                      - accepted_values: {values: ['upper(status)'], quote: false}
                  - name: b_id
                    tests:
                      - relationships: {to: ref('b'), field: id}
                      - not_null: {where: "id > 0"}
            """})
    head = header_of(out, "assets/a.sql")
    assert ('checks = [\n  "not_null(id)",\n  "unique(id)",\n'
            '  { check = "accepted_values(status, [\'x\', \'y\'])", severity = "warn" },\n'
            '  "relationships(b_id, main.b.id)",\n]') in head
    custom = sorted(p.name for p in (out / "checks").iterdir())
    assert custom == ["main__a__accepted_values__status.sql", "main__a__not_null__b_id.sql"]
    assert "where status not in (upper(status))" in (out / "checks" / custom[0]).read_text()
    assert "(select * from main.a where id > 0) as dbt_filtered where b_id is null" in \
        (out / "checks" / custom[1]).read_text()
    assert report.header_checks == 4


# ------------------------------------------------------------------------------------------ bad input, OUT_DIR


def test_a_folder_without_dbt_project_yml_is_an_error(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ProjectError) as caught:
        import_project(tmp_path / "nothing", tmp_path / "out")
    assert "is not a dbt project: it has no dbt_project.yml" in caught.value.message


def test_out_dir_must_be_empty_unless_forced(tmp_path):
    root = dbt(tmp_path, {"models/a.sql": "select 1 as x"})
    out = tmp_path / "out"
    (out / "assets").mkdir(parents=True)
    (out / "assets" / "stale.sql").write_text("select 1")
    (out / "warehouse.duckdb").write_text("keep me")
    with pytest.raises(UsageError) as caught:
        import_project(root, out, env={})
    assert "is not empty" in caught.value.message and "--force" in caught.value.hint
    assert (out / "assets" / "stale.sql").exists()
    import_project(root, out, env={}, force=True)
    assert sorted(p.name for p in (out / "assets").iterdir()) == ["a.sql"]
    assert (out / "warehouse.duckdb").read_text() == "keep me"
    with pytest.raises(UsageError):
        import_project(root, root, env={}, force=True)       # never over the dbt project itself


def test_two_models_that_would_be_one_asset_are_an_error(tmp_path):
    with pytest.raises(ProjectError) as caught:
        convert(tmp_path, {"models/a.sql": "{{ config(schema='x', alias='same') }}\nselect 1 as v",
                           "models/b.sql": "{{ config(schema='X', alias='SAME') }}\nselect 2 as v"})
    assert "would be asset x.same, like models/a.sql" in caught.value.message


def test_a_model_and_a_seed_of_one_name_are_an_error(tmp_path):
    with pytest.raises(ProjectError) as caught:
        convert(tmp_path, {"models/users.sql": "select 1 as x", "seeds/users.csv": "id\n1\n"})
    assert "model users (models/users.sql) and seed seeds/users.csv have one name" in caught.value.message


def test_parse_var():
    assert parse_var("n=3") == ("n", 3)
    assert parse_var("flag=true") == ("flag", True)
    assert parse_var("day=2024-01-01") == ("day", "2024-01-01")
    assert parse_var("s=a=b") == ("s", "a=b")
    with pytest.raises(UsageError):
        parse_var("novalue")


def test_compile_time_database_calls_are_listed(tmp_path):
    report, _ = convert(tmp_path, {
        "models/a.sql": "{% set rows = run_query('select 1') %}select 1 as x",
        "models/b.sql": "select\n{{ adapter.get_columns_in_relation(ref('a')) }} as cols",
        "models/c.sql": "{% if true %}{{ exceptions.raise_compiler_error('no') }}{% endif %}select 1 as x",
        "models/d.sql": "select * from {{ source('nope', 't') }}",
        "models/e.sql": "{% set xs = [] %}{% do xs.append(1) %}select {{ xs | length }} as n"})
    found = {f.location: f.what for f in report.skipped}
    assert found == {
        "models/a.sql:1": "run_query() (a query at compile time) is not supported",
        "models/b.sql:2": "adapter.get_columns_in_relation() (a database call at compile time) is not supported",
        "models/c.sql:1": "the model raises a compiler error: no",
        "models/d.sql:1": "source('nope', 't') is not declared in any sources: yml"}
    assert [m.asset for m in report.models] == ["main.e"]


def test_generic_and_singular_tests_of_the_project_become_custom_checks(tmp_path):
    report, out = convert(tmp_path, {
        "models/a.sql": "select 1 as amount",
        "tests/generic/positive.sql": "{% test positive(model, column_name) %}\n"
                                      "select * from {{ model }} where {{ column_name }} <= 0\n{% endtest %}",
        "tests/no_rows.sql": "{{ config(severity='warn') }}\nselect * from {{ ref('a') }} where amount is null",
        "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: amount\n"
                             "        tests: [positive]\n"})
    assert (out / "checks" / "main__a__positive__amount.sql").read_text() == (
        "-- dbt test: positive(amount) on main.a\nselect * from main.a where amount <= 0\n")
    assert (out / "checks" / "no_rows.sql").read_text() == (
        '/* assetflow severity = "warn" */\n-- dbt test: singular test tests/no_rows.sql\n'
        "select * from main.a where amount is null\n")
    assert len(report.custom_checks) == 2
