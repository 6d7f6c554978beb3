"""The rest of the selection grammar through the CLI: --exclude, depth limits, @name, state:modified.

Same graph as test_selection.py:

    staging.stg_a [finance] --+
                              +--> marts.m1 [core] --> marts.m2 [finance]
    staging.stg_b ------------+
    main.other [ops]                 seeds.countries
"""
from __future__ import annotations

import pytest
from test_selection import FILES, M1, M2, OTHER, SEED, STG_A, STG_B, plan

from conftest import run_cli, write_project


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    p = write_project(tmp_path_factory.mktemp("selmore") / "proj", FILES)
    r = run_cli(p, "materialize")
    assert r.exit_code == 0, r.output
    return p


SELECTIONS = [
    (("+m2", "--exclude", "stg_b"), {STG_A, M1, M2}),
    (("--exclude", "tag:finance", "--exclude", "seeds.countries"), {STG_B, M1, OTHER}),
    (("--exclude", "stg_a+ other"), {STG_B, SEED}),                  # one --exclude, two words
    (("1+m2",), {M1, M2}),
    (("stg_a+1",), {STG_A, M1}),
    (("@stg_a",), {STG_A, STG_B, M1, M2}),                               # stg_b: an ancestor of m1
    (("@stg_a", "--exclude", "m2"), {STG_A, STG_B, M1}),
]


@pytest.mark.parametrize("selection,expected", SELECTIONS, ids=[" ".join(s) for s, _ in SELECTIONS])
def test_selection_grammar_more(built, selection, expected):
    assert plan(built, *selection) == expected


def test_status_and_check_take_exclude(built):
    r = run_cli(built, "status", "tag:finance", "--exclude", "m2", "--json")
    assert r.exit_code == 0, r.output
    assert {a["name"] for a in r.json()["assets"]} == {STG_A}
    r = run_cli(built, "check", "--exclude", "nope_typo")
    assert r.exit_code == 2 and "matches no asset" in r.stderr


def test_a_bad_term_is_pointed_at(built):
    r = run_cli(built, "materialize", "m1 tag:finance+ colour:red", "--dry-run")
    assert r.exit_code == 2
    assert "unknown selection method 'colour:'" in r.stderr and "(column 17)" in r.stderr
    lines = r.stderr.splitlines()
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret - 1].strip() == "m1 tag:finance+ colour:red"
    assert lines[caret].index("^") == lines[caret - 1].index("colour")


def test_state_modified_selects_what_changed_since_it_was_built(tmp_path):
    p = write_project(tmp_path / "proj", FILES)
    # never built: everything is new, so everything is modified (as in dbt)
    assert plan(p, "state:modified", full_refresh=False) == {STG_A, STG_B, M1, M2, OTHER, SEED}
    assert run_cli(p, "materialize").exit_code == 0
    assert plan(p, "state:modified") == set()            # nothing modified: an empty plan, exit 0
    (p / "assets/marts/m1.sql").write_text("select a.id, a.v + 1 as v, b.label from stg_a a join stg_b b using (id)\n")
    assert plan(p, "state:modified") == {M1}
    assert plan(p, "state:modified+") == {M1, M2}
    assert plan(p, "--exclude", "state:modified") == {STG_A, STG_B, M2, OTHER, SEED}
    r = run_cli(p, "status", "state:modified", "--json")
    assert {a["name"] for a in r.json()["assets"]} == {M1}
    assert run_cli(p, "materialize", "state:modified+").exit_code == 0
    assert plan(p, "state:modified") == set()            # rebuilt: no longer modified


def test_graph_takes_exclude_and_state(built):
    r = run_cli(built, "graph", "+m2", "--exclude", "stg_b", "--format", "json")
    assert r.exit_code == 0, r.output
    assert {a["name"] for a in r.json()["assets"]} == {STG_A, M1, M2}
    r = run_cli(built, "graph", "state:modified", "--format", "json")
    assert r.exit_code == 0, r.output
    assert r.json()["assets"] == []
    assert "state:modified" in run_cli(built, "materialize", "--help").stdout
