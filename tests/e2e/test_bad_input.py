"""The bad-input catalogue of SPEC section 8, for unpartitioned SQL projects.

Every mistake: exit code 2, one message on stderr naming the file (relative to the project root,
with `:LINE` where there is a line), no Python traceback unless `--debug`, nothing materialized.
"""
from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from conftest import query, run_cli

REPO = Path(__file__).resolve().parents[2]

GOOD_TOML = """
[project]
name = "t"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2
"""

BASE = {"assets/base.sql": "select 1 as id\n"}


def toml_with(old: str, new: str) -> str:
    t = textwrap.dedent(GOOD_TOML)
    assert old in t
    return t.replace(old, new)


@dataclass
class Case:
    id: str
    files: dict = field(default_factory=dict)
    toml: str | None = None
    # each entry must appear in stderr; a tuple means "any one of these"
    expect: list = field(default_factory=list)
    args: tuple = ("materialize",)
    setup: Callable | None = None


def _rm_assets(p):
    shutil.rmtree(p / "assets")


def _rm_toml(p):
    (p / "assetflow.toml").unlink()


def _mkdir_adir(p):
    (p / "adir").mkdir()


HEADER_SQL = """
/* assetflow
{line}
*/
select 1 as id
"""

CASES = [
    # ---- assetflow.toml ------------------------------------------------------------------
    Case("toml_syntax_error",
         toml='[project]\nname = "t"\ndialect = "duckdb"\n\n[targets.dev]\nengine = "duckdb"\n'
              'path = "warehouse.duckdb\n',
         expect=["assetflow.toml:7"]),
    Case("toml_unknown_project_key", toml=toml_with('name = "t"', 'nmae = "t"'),
         expect=["assetflow.toml", "nmae"]),
    Case("toml_unknown_target_key", toml=toml_with("threads = 2", "treads = 2"),
         expect=["assetflow.toml", "treads"]),
    Case("toml_unknown_top_level_table", toml=GOOD_TOML + '\n[sauces]\n"raw.x" = { table = "raw.x" }\n',
         expect=["assetflow.toml", "sauces"]),
    Case("toml_unknown_source_key", toml=GOOD_TOML + '\n[sources]\n"raw.x" = { pth = "data/x.csv" }\n',
         expect=["assetflow.toml", "pth"]),
    Case("toml_wrong_type", toml=toml_with("threads = 2", 'threads = "four"'),
         expect=["assetflow.toml", "threads"]),
    Case("toml_unknown_dialect", toml=toml_with('dialect = "duckdb"', 'dialect = "nosuchsql"'),
         expect=["assetflow.toml", "nosuchsql"]),
    Case("toml_unknown_engine", toml=toml_with('engine = "duckdb"', 'engine = "oracle"'),
         expect=["assetflow.toml", "oracle"]),
    Case("no_assetflow_toml", setup=_rm_toml, expect=["assetflow.toml"]),
    # ---- targets ---------------------------------------------------------------------------
    Case("unknown_target", args=("materialize", "--target", "prod"), expect=["prod", "dev"]),
    Case("target_path_is_a_directory", toml=toml_with('path = "warehouse.duckdb"', 'path = "adir"'),
         setup=_mkdir_adir, expect=["adir"]),
    Case("target_path_not_a_duckdb_file", toml=toml_with('path = "warehouse.duckdb"', 'path = "junk.duckdb"'),
         files={"junk.duckdb": "this is not a duckdb database\n"}, expect=["junk.duckdb"]),
    # ---- project layout and names ----------------------------------------------------------
    Case("no_asset_folder", setup=_rm_assets, expect=["assets"]),  # id avoids "assets" in the tmp path
    Case("duplicate_name_case_insensitive",
         files={"assets/staging/orders.sql": "select 1 as id\n", "assets/staging/Orders.sql": "select 2 as id\n"},
         expect=["assets/staging/orders.sql", "assets/staging/Orders.sql"]),
    Case("duplicate_schema_folder_case_insensitive",
         files={"assets/staging/x.sql": "select 1 as id\n", "assets/Staging/x.sql": "select 2 as id\n"},
         expect=["assets/staging/x.sql", "assets/Staging/x.sql"]),
    Case("seed_and_asset_collide",
         files={"seeds/countries.csv": "code\nDE\n", "assets/seeds/countries.sql": "select 'DE' as code\n"},
         expect=["seeds/countries.csv", "assets/seeds/countries.sql"]),
    # ---- SQL headers -------------------------------------------------------------------------
    Case("header_unknown_key", files={"assets/staging/a.sql": HEADER_SQL.format(line='knd = "view"')},
         expect=["assets/staging/a.sql", "knd"]),
    Case("header_wrong_type_retries", files={"assets/staging/a.sql": HEADER_SQL.format(line='retries = "two"')},
         expect=["assets/staging/a.sql", "retries"]),
    Case("header_bad_kind_value", files={"assets/staging/a.sql": HEADER_SQL.format(line='kind = "tabel"')},
         expect=["assets/staging/a.sql", "tabel"]),
    Case("header_toml_syntax_error",
         files={"assets/staging/a.sql": '/* assetflow\nkind = "view"\ntags = [x]\n*/\nselect 1 as id\n'},
         expect=["assets/staging/a.sql:3"]),
    Case("header_deps_unknown_asset",
         files={"assets/staging/a.sql": HEADER_SQL.format(line='deps = ["main.bsae"]')},
         expect=["assets/staging/a.sql", "main.bsae", "main.base"]),
    # ---- SQL bodies ----------------------------------------------------------------------------
    Case("sql_syntax_error", files={"assets/q.sql": "select id\nfrom main.base\nwhere id = 1)\n"},
         expect=["assets/q.sql:3"]),
    Case("sql_syntax_error_after_header",
         files={"assets/q.sql": '/* assetflow\ntags = ["x"]\n*/\nselect id,\nfrom main.base\njoin on\n'},
         expect=["assets/q.sql:6"]),
    Case("unknown_table", files={"assets/marts/q.sql": "select id\nfrom main.bsae\n"},
         expect=["assets/marts/q.sql:2", "main.bsae", "main.base"]),
    Case("cycle_of_two",
         files={"assets/a.sql": "select * from main.b\n", "assets/b.sql": "select * from main.a\n"},
         expect=[("main.a -> main.b -> main.a", "main.b -> main.a -> main.b"),
                 ("assets/a.sql", "assets/b.sql")]),
    Case("cycle_of_three_across_schemas",
         files={"assets/x/a.sql": "select * from y.b\n", "assets/y/b.sql": "select * from z.c\n",
                "assets/z/c.sql": "select id from x.a\n"},
         expect=[("x.a -> y.b -> z.c -> x.a", "y.b -> z.c -> x.a -> y.b", "z.c -> x.a -> y.b -> z.c"),
                 ("assets/x/a.sql", "assets/y/b.sql", "assets/z/c.sql")]),
    Case("self_reference_cycle", files={"assets/a.sql": "select * from main.a\n"},
         expect=["main.a -> main.a", "assets/a.sql"]),
    Case("not_a_select_drop", files={"assets/q.sql": "drop table main.base\n"}, expect=["assets/q.sql"]),
    Case("empty_sql_file", files={"assets/q.sql": ""}, expect=["assets/q.sql"]),
    Case("header_but_no_query", files={"assets/q.sql": '/* assetflow\ntags = ["x"]\n*/\n'},
         expect=["assets/q.sql"]),
    Case("multiple_statements", files={"assets/q.sql": "select 1 as a;\nselect 2 as b;\n"},
         expect=["assets/q.sql"]),
]


def _user_tables(p) -> set[str]:
    rows = query(p, "select schema_name || '.' || table_name from duckdb_tables() "
                    "union all select schema_name || '.' || view_name from duckdb_views() where not internal")
    return {r[0] for r in rows if not r[0].startswith("_assetflow.")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(project, af, case: Case):
    p = project({**BASE, **case.files}, case.toml)
    if case.setup:
        case.setup(p)
    junk = p / "junk.duckdb"
    junk_before = junk.read_bytes() if junk.exists() else None

    r = af(p, *case.args)

    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert r.stderr.strip(), "the message belongs on stderr"
    for exp in case.expect:
        alternatives = exp if isinstance(exp, tuple) else (exp,)
        assert any(a in r.stderr for a in alternatives), f"none of {alternatives} in stderr:\n{r.stderr}"
    # nothing was built
    if (p / "warehouse.duckdb").is_file():
        assert _user_tables(p) == set()
    if junk_before is not None:
        assert junk.read_bytes() == junk_before


def test_no_project_found_upwards(tmp_path):
    empty = tmp_path / "nowhere" / "deeper"
    empty.mkdir(parents=True)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    r = run_cli(None, "status", cwd=empty, env=env)
    assert r.exit_code == 2, r.output
    assert "assetflow.toml" in r.stderr
    assert "Traceback" not in r.output


def test_status_rejects_a_bad_project_too(project, af):
    p = project({**BASE, "assets/marts/q.sql": "select id\nfrom main.bsae\n"})
    r = af(p, "status")
    assert r.exit_code == 2, r.output
    assert "assets/marts/q.sql:2" in r.stderr
    assert "Traceback" not in r.output


def test_debug_shows_the_traceback(project, af):
    p = project({**BASE, "assets/marts/q.sql": "select id\nfrom main.bsae\n"})
    r = af(p, "--debug", "materialize")
    assert r.exit_code == 2, r.output
    assert "Traceback" in r.output
    assert "main.bsae" in r.output


def test_trailing_semicolon_and_comments_are_fine(project, af):
    """The flip side of the catalogue: one statement with a trailing `;` and comments is valid."""
    p = project({**BASE, "assets/q.sql": "-- a comment\nselect id + 1 as id /* inline */\nfrom main.base;\n"})
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    assert query(p, "select id from main.q") == [(2,)]


def test_broken_edit_after_a_build_loses_nothing(project, af):
    p = project({**BASE, "assets/q.sql": "select id * 10 as id from main.base\n"})
    assert af(p, "materialize").exit_code == 0
    (p / "assets/q.sql").write_text("select id * 10 as id from main.bsae\n")
    r = af(p, "materialize", "--full-refresh")
    assert r.exit_code == 2, r.output
    assert "assets/q.sql:1" in r.stderr
    assert query(p, "select id from main.base") == [(1,)]
    assert query(p, "select id from main.q") == [(10,)]
