"""SELECTION grammar (SPEC section 7) and "a selection is exactly what gets built" (SPEC section 5).

Graph used throughout:

    staging.stg_a [finance] --+
                              +--> marts.m1 [core] --> marts.m2 [finance]
    staging.stg_b ------------+
    main.other [ops]                 seeds.countries
"""
from __future__ import annotations

import textwrap

import pytest

from conftest import query, run_cli, write_project

FILES = {
    "assets/staging/stg_a.sql": """
        /* assetflow
        tags = ["finance"]
        */
        select 1 as id, 10 as v
        """,
    "assets/staging/stg_b.sql": "select 1 as id, 'b' as label\n",
    "assets/marts/m1.sql": """
        /* assetflow
        tags = ["core"]
        */
        select a.id, a.v, b.label from stg_a a join stg_b b using (id)
        """,
    "assets/marts/m2.sql": """
        /* assetflow
        tags = ["finance"]
        */
        select id, v * 2 as v2 from marts.m1
        """,
    "assets/other.sql": """
        /* assetflow
        tags = ["ops"]
        */
        select 42 as answer
        """,
    "seeds/countries.csv": "code,name\nDE,Germany\n",
}

STG_A, STG_B, M1, M2, OTHER, SEED = (
    "staging.stg_a", "staging.stg_b", "marts.m1", "marts.m2", "main.other", "seeds.countries")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One fully materialized project, shared by the read-only (dry-run / status) tests."""
    p = write_project(tmp_path_factory.mktemp("sel") / "proj", FILES)
    r = run_cli(p, "materialize")
    assert r.exit_code == 0, r.output
    return p


def plan(p, *selection: str, full_refresh: bool = True) -> set[str]:
    args = ["materialize", *selection, "--dry-run", "--json"]
    if full_refresh:
        args.append("--full-refresh")  # plan the whole selection whatever its state
    r = run_cli(p, *args)
    assert r.exit_code == 0, r.output
    return {x["asset"] for x in r.json()["results"]}


SELECTIONS = [
    (("marts.m1",), {M1}),
    (("m1",), {M1}),
    (("MARTS.M1",), {M1}),
    (("+m1",), {STG_A, STG_B, M1}),
    (("m1+",), {M1, M2}),
    (("+m1+",), {STG_A, STG_B, M1, M2}),
    (("+marts.m2",), {STG_A, STG_B, M1, M2}),
    (("stg_a+",), {STG_A, M1, M2}),
    (("tag:finance",), {STG_A, M2}),
    (("tag:finance+",), {STG_A, M1, M2}),  # dbt allows graph operators on any selector
    (("path:assets/marts",), {M1, M2}),
    (("path:assets/staging", "other"), {STG_A, STG_B, OTHER}),
    (("stg_b", "tag:ops"), {STG_B, OTHER}),
    (("seeds.countries",), {SEED}),
    ((), {STG_A, STG_B, M1, M2, OTHER, SEED}),
]


@pytest.mark.parametrize("selection,expected", SELECTIONS, ids=[" ".join(s) or "<all>" for s, _ in SELECTIONS])
def test_selection_grammar(built, selection, expected):
    assert plan(built, *selection) == expected


def test_selection_without_full_refresh_plans_only_stale(built):
    assert plan(built, "+m2", full_refresh=False) == set()


def test_status_accepts_a_selection(built):
    r = run_cli(built, "status", "tag:finance", "--json")
    assert r.exit_code == 0, r.output
    assert {a["name"] for a in r.json()["assets"]} == {STG_A, M2}


def test_unknown_selection_is_an_error_with_suggestion(built):
    r = run_cli(built, "materialize", "marts.m3", "--dry-run")
    assert r.exit_code == 2, r.output
    assert "marts.m3" in r.stderr
    assert "marts.m1" in r.stderr or "marts.m2" in r.stderr
    assert "Traceback" not in r.output


# ---- selections on projects of their own (these write) -------------------------------------

def _write(p, rel, text):
    (p / rel).write_text(textwrap.dedent(text).lstrip())


def _mat_json(p, *args, expect=0):
    r = run_cli(p, "materialize", *args, "--json")
    assert r.exit_code == expect, r.output
    return r.json()


def _reasons(p, name):
    r = run_cli(p, "status", "--json")
    assert r.exit_code == 0, r.output
    (a,) = [a for a in r.json()["assets"] if a["name"] == name]
    return {x for s in a["stale"] for x in s["reasons"]}


def test_plus_name_builds_upstream_first(project):
    p = project(FILES)
    res = _mat_json(p, "+m1")
    assert {x["asset"] for x in res["results"]} == {STG_A, STG_B, M1}
    assert all(x["status"] == "success" for x in res["results"])
    assert query(p, "select id, v, label from marts.m1") == [(1, 10, "b")]


def test_selection_is_exactly_what_gets_built(project):
    """SPEC 5: a stale upstream outside the selection is not built; the selected downstream (stale
    as "upstream stale") is, from the upstream's current table. `+name` brings the upstream in."""
    p = project(FILES)
    assert _mat_json(p)["status"] == "success"
    _write(p, "assets/marts/m1.sql", """
        /* assetflow
        tags = ["core"]
        */
        select a.id, a.v + 1 as v, b.label from stg_a a join stg_b b using (id)
        """)
    assert _reasons(p, M1) == {"code changed"}
    assert _reasons(p, M2) == {"upstream stale"}

    res = _mat_json(p, "m2")
    assert {x["asset"] for x in res["results"]} == {M2}
    assert query(p, "select v from marts.m1") == [(10,)]      # m1 not rebuilt
    assert query(p, "select v2 from marts.m2") == [(20,)]     # m2 built from m1 as it stands
    assert _reasons(p, M1) == {"code changed"}

    res = _mat_json(p, "+m2")
    assert {x["asset"] for x in res["results"]} == {M1, M2}   # stg_a, stg_b are fresh
    assert query(p, "select v2 from marts.m2") == [(22,)]


def test_never_built_unselected_upstream_blocks_downstream(project):
    p = project(FILES)
    r = run_cli(p, "materialize", "m1")
    assert "blocked" in r.output.lower(), r.output
    assert M1 in r.output
    assert "Traceback" not in r.output
    if (p / "warehouse.duckdb").exists():
        rows = query(p, "select schema_name || '.' || table_name from duckdb_tables() "
                        "union all select schema_name || '.' || view_name from duckdb_views()")
        built_names = {row[0] for row in rows}
        assert not ({STG_A, STG_B, M1} & built_names), built_names
