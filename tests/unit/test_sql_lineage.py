"""SQL lineage against golden fixtures, normalized hashing, header splitting and query validation.

Each tests/fixtures/lineage/*.sql starts with `-- expect: a, schema.b` (the tables it reads, as
written, lower-cased), optionally `-- files: data/x.csv, ...` (files it reads, in order) and
`-- xfail: reason` (a known bug).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from assetflow.errors import ProjectError
from assetflow.project.header import split_header
from assetflow.project.sql import analyze

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lineage"


def _directive(text: str, name: str) -> str | None:
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        key, _, value = line[2:].partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _cases() -> list:
    cases = []
    for path in sorted(FIXTURES.glob("*.sql")):
        reason = _directive(path.read_text(encoding="utf-8"), "xfail")
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        cases.append(pytest.param(path, id=path.stem, marks=marks))
    return cases


def test_there_are_enough_fixtures():
    assert len(list(FIXTURES.glob("*.sql"))) >= 25
    for path in FIXTURES.glob("*.sql"):
        assert _directive(path.read_text(encoding="utf-8"), "expect") is not None, path.name


@pytest.mark.parametrize("path", _cases())
def test_lineage_fixture(path: Path):
    text = path.read_text(encoding="utf-8")
    expected = sorted(_list(_directive(text, "expect")))
    expected_files = _list(_directive(text, "files"))
    facts = analyze(text, "duckdb", str(path))
    assert sorted({".".join(r.parts).lower() for r in facts.references}) == expected
    assert list(facts.file_reads) == expected_files
    assert len(facts.references) == len({tuple(p.lower() for p in r.parts) for r in facts.references})
    assert all(r.line is not None and r.line >= 1 for r in facts.references)


def test_reference_keeps_the_text_as_written_and_its_line():
    facts = analyze("select *\nfrom a\njoin Staging.\"Orders\" o on true", "duckdb", "x.sql")
    assert [(r.parts, r.line) for r in facts.references] == [(("a",), 2), (("Staging", "Orders"), 3)]


# ---------------------------------------------------------------------------- normalized hashing

BASE = "select id, sum(amount) as total from staging.orders where status = 'paid' group by id"


@pytest.mark.parametrize("variant", [
    "SELECT id, SUM(amount) AS total FROM staging.orders WHERE status = 'paid' GROUP BY id",
    "select id,\n       sum(amount) as total\n  from staging.orders\n where status = 'paid'\n group by id\n",
    "-- a leading comment\nselect id, /* inline */ sum(amount) as total -- trailing\n"
    "from staging.orders where status = 'paid' group by id",
    "\n\n   select   id ,sum( amount )as total   from staging.orders where status='paid' group by id;",
])
def test_formatting_comments_and_keyword_case_do_not_change_the_normalized_query(variant):
    assert analyze(variant, "duckdb", "x.sql").normalized == analyze(BASE, "duckdb", "x.sql").normalized


@pytest.mark.parametrize("variant", [
    BASE.replace("'paid'", "'PAID'"),
    BASE.replace("sum(amount)", "sum(amount + 1)"),
    BASE.replace("status = ", "status <> "),
    BASE.replace("staging.orders", "staging.orders2"),
])
def test_changed_expressions_change_the_normalized_query(variant):
    assert analyze(variant, "duckdb", "x.sql").normalized != analyze(BASE, "duckdb", "x.sql").normalized


# ---------------------------------------------------------------------------- header

HEADER = '/* assetflow\nkind = "partitioned"\npartition_by = "day"\ntime_column = "d"\nstart = "2024-01-01"\n*/\n'


def test_split_header_reads_settings_and_keeps_line_numbers():
    text = HEADER + "select d\nfrom t\n"
    parsed = split_header(text, "a.sql")
    assert parsed.settings == {"kind": "partitioned", "partition_by": "day", "time_column": "d",
                               "start": "2024-01-01"}
    assert parsed.header_line == 1
    assert parsed.query.count("\n") == text.count("\n")
    assert parsed.query.splitlines()[6:] == ["select d", "from t"]
    assert "assetflow" not in parsed.query


def test_no_header_leaves_the_text_alone():
    parsed = split_header("/* just a comment */ select 1", "a.sql")
    assert parsed.settings == {} and parsed.header_line is None
    assert parsed.query == "/* just a comment */ select 1"


def test_a_syntax_error_after_a_header_reports_the_file_line():
    text = HEADER + "select d,\n  count(*)\nfrom t\nwhere d >>>= )\n"
    parsed = split_header(text, "a.sql")
    with pytest.raises(ProjectError) as info:
        analyze(parsed.query, "duckdb", "a.sql")
    assert info.value.path == "a.sql"
    assert info.value.line == 10


def test_a_reference_after_a_header_has_its_file_line():
    text = "\n\n" + HEADER + "select *\nfrom upstream_table\n"
    facts = analyze(split_header(text, "a.sql").query, "duckdb", "a.sql")
    assert [(r.text, r.line) for r in facts.references] == [("upstream_table", 10)]


def test_bad_toml_in_the_header_reports_the_file_line():
    text = '\n/* assetflow\nkind = "table"\ntags = [unquoted]\n*/\nselect 1\n'
    with pytest.raises(ProjectError) as info:
        split_header(text, "a.sql")
    assert info.value.line == 4
    assert "TOML" in info.value.message


# ---------------------------------------------------------------------------- not one SELECT

@pytest.mark.parametrize("text,message", [
    ("select 1; select 2", "2 statements"),
    ("select 1;\n\nselect 2;\nselect 3", "3 statements"),
    ("insert into t values (1)", "must be a SELECT, not INSERT"),
    ("create table x as select 1", "must be a SELECT, not CREATE"),
    ("delete from t", "must be a SELECT, not DELETE"),
    ("drop table t", "must be a SELECT, not DROP"),
    ("", "no query"),
    ("   \n\n  ", "no query"),
    ("-- only a comment\n", "no query"),
    (HEADER, "no query"),
])
def test_not_exactly_one_select_is_a_project_error(text, message):
    query = split_header(text, "a.sql").query
    with pytest.raises(ProjectError) as info:
        analyze(query, "duckdb", "a.sql")
    assert message in info.value.message
    assert info.value.path == "a.sql"
    assert info.value.hint


def test_second_statement_is_located():
    with pytest.raises(ProjectError) as info:
        analyze("select 1;\n\nselect 2", "duckdb", "a.sql")
    assert info.value.line == 3
