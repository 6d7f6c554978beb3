"""What runs is what the user wrote (issue 12 item 6, SPEC section 8), through the CLI.

DuckDB's own parser judges a SQL file at load (sqlglot is lenient: `select a,, b` used to build);
the statement that runs is the user's text with only the names qualified and the partition
parameters bound, never sqlglot's print of it, which changes types (`.5`) and meanings
(`to_char(d, 'YYYY')` became a plain cast); and the verdict is cached, so a no-op run neither
imports sqlglot nor calls DuckDB's parser.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import query

ROOT = Path(__file__).resolve().parents[2]
BASE = {"assets/base.sql": "select 1 as id, date '2024-03-05' as d\n"}


@pytest.mark.parametrize("files, location, words", [
    ({"assets/q.sql": "select id,, d\nfrom main.base\n"}, "assets/q.sql:1", ['","']),
    ({"assets/q.sql": '-- owner: data team\n/* assetflow\ntags = ["x"]\n*/\nselect id,\n  d\n  , , 1\nfrom main.base\n'},
     "assets/q.sql:7", []),
    ({"assets/q.sql": "select 'a' 'b' as x from main.base\n"}, "assets/q.sql:1", ["'b'"]),
    ({"assets/q.sql": "select id from main.base\nwhere id not between symmetric 2 and 0\n"}, "assets/q.sql:2",
     ["symmetric"]),
    ({"checks/c.sql": "select * from main.base where id = = 1\n"}, "checks/c.sql:1", []),
], ids=["double-comma", "after-comments-and-header", "adjacent-strings", "between-symmetric", "custom-check"])
def test_sql_that_duckdb_rejects_is_an_error_at_load(af, project, files, location, words):
    p = project({**BASE, **files})
    r = af(p, "materialize")
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert f"error: {location}: DuckDB cannot parse this query: syntax error" in r.stderr, r.stderr
    assert all(w in r.stderr for w in words), r.stderr
    assert not (p / "warehouse.duckdb").exists()


def test_what_runs_keeps_the_types_the_user_wrote(af, project):
    """sqlglot prints `.5` as `0.5`: DECIMAL(2,1) where DuckDB reads DECIMAL(1,1)."""
    p = project({**BASE, "assets/rates.sql": "-- the rate as written\nselect .5 as rate, 1.5 * .5 as scaled -- tail\n"
                                             "from main.base;\n-- after the statement\n"})
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    types = query(p, "select column_name, data_type from information_schema.columns "
                     "where table_name = 'rates' order by ordinal_position")
    want = query(p, "select * from (describe select .5 as rate, 1.5 * .5 as scaled)")
    assert types == [(name, kind) for name, kind, *_ in want] == [("rate", "DECIMAL(1,1)"), ("scaled", "DECIMAL(3,2)")]
    shown = af(p, "compile", "rates")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == ('-- the rate as written\nselect .5 as rate, 1.5 * .5 as scaled -- tail\n'
                                    'from "main"."base"')


def test_what_runs_keeps_the_meaning_the_user_wrote(af, project):
    """DuckDB has no `to_char`; sqlglot 'transpiled' it into a cast that drops the format, so the
    asset built '2024-03-05' where the user asked for '2024'. Now the user's call reaches DuckDB,
    which says what is wrong, and nothing is built."""
    p = project({**BASE, "assets/years.sql": "select to_char(d, 'YYYY') as year from main.base\n"})
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    failed = [x for x in r.json()["results"] if x["status"] == "failed"]
    assert [x["asset"] for x in failed] == ["main.years"] and "to_char" in failed[0]["error"], failed
    assert query(p, "select count(*) from duckdb_tables() where table_name = 'years'") == [(0,)]


SPY = textwrap.dedent("""\
    import json, sys
    import assetflow.engines.duckdb_syntax as judge
    calls = []
    real = judge.syntax_error
    judge.syntax_error = lambda sql, con: calls.append(sql) or real(sql, con)
    from assetflow.cli.app import main
    try:
        main(["--project", sys.argv[1], "materialize"])
    except SystemExit as exc:
        assert not exc.code, exc.code
    print(json.dumps({"calls": len(calls), "sqlglot": any(m.split(".")[0] == "sqlglot" for m in sys.modules)}),
          file=sys.stderr)
    """)


def spied_materialize(p: Path) -> dict:
    """A no-op-or-not `materialize` in a fresh interpreter, counting DuckDB parser calls."""
    proc = subprocess.run([sys.executable, "-c", SPY, str(p)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1])


def test_the_verdict_is_cached_so_a_no_op_run_neither_parses_nor_judges(af, project):
    p = project({**BASE, "assets/q.sql": "select id + 1 as id from main.base\n"})
    assert af(p, "materialize").exit_code == 0
    cache = next((p / ".assetflow").glob("parse-cache-*.json"))
    assert {e["syntax"] for e in json.loads(cache.read_text()).values()} == {f"duckdb-{_duckdb_version()}"}

    assert spied_materialize(p) == {"calls": 0, "sqlglot": False}

    (p / "assets/q.sql").write_text("select id + 2 as id from main.base\n")      # an edit: judged and parsed
    assert spied_materialize(p) == {"calls": 1, "sqlglot": True}
    assert query(p, "select id from main.q") == [(3,)]

    # another DuckDB (the verdict's name differs): every file is judged again, none parsed again
    entries = json.loads(cache.read_text())
    cache.write_text(json.dumps({k: {**e, "syntax": "duckdb-0.0.0"} for k, e in entries.items()}))
    assert spied_materialize(p) == {"calls": 2, "sqlglot": False}
    assert spied_materialize(p) == {"calls": 0, "sqlglot": False}


def _duckdb_version() -> str:
    import duckdb
    return duckdb.__version__
