"""The literals that stand for parameters on DuckDB 1.x read back as the same values, and a
statement with its values inlined does what the one with parameters does (run on real DuckDB)."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings, strategies as st

from assetflow.engines.duckdb_literals import bind, bind_named, literal
from assetflow.engines.duckdb_module import core as duckdb

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**63, max_value=2**63 - 1),
    st.text().filter(lambda s: "\x00" not in s),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
)


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect(":memory:")
    yield c
    c.close()


@settings(max_examples=200, deadline=None)
@given(value=VALUES)
def test_a_literal_reads_back_as_its_value(con, value):
    assert con.execute(f"SELECT {literal(value)}").fetchall()[0][0] == value


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.text().filter(lambda s: "\x00" not in s), max_size=4))
def test_a_list_literal_reads_back(con, values):
    got = con.execute(f"SELECT {literal(values)}::VARCHAR[]").fetchall()[0][0]
    assert got == values


def test_inlined_statements_write_what_parameters_write(con):
    con.execute("CREATE TABLE t (a VARCHAR, b TIMESTAMP, c BIGINT, d VARCHAR[], e VARCHAR)")
    row = ["it's", datetime(2024, 3, 1, 12, 30, 5, 123456), 7, None, "what? ? $x"]
    sql, params = bind("INSERT INTO t VALUES (?, ?, ?, ?, ?)", row, inline=True)
    assert params is None and "?" in sql          # the text's own '?' stays inside its literal
    con.execute(sql)
    con.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", row)
    assert con.execute("SELECT count(DISTINCT (a, b, c, d, e)), count(*) FROM t").fetchall() == [(1, 2)]


def test_values_without_an_exact_literal_keep_their_parameters():
    assert bind("SELECT ?", [1.5], inline=True) == ("SELECT ?", [1.5])
    assert bind("SELECT ?", ["a\x00b"], inline=True) == ("SELECT ?", ["a\x00b"])
    assert bind("SELECT ? + ?", [1], inline=True) == ("SELECT ? + ?", [1])     # a count mismatch
    assert bind("SELECT ?", [1], inline=False) == ("SELECT ?", [1])


def test_named_parameters_inline_longest_name_first(con):
    sql, params = bind_named("SELECT $af_start_2 - $af_start", {"af_start": 1, "af_start_2": 10}, inline=True)
    assert params == {} and con.execute(sql).fetchall() == [(9,)]
    window = {"af_start": date(2024, 1, 1), "af_end": date(2024, 1, 2)}
    assert bind_named("x >= $af_start", window, inline=False) == ("x >= $af_start", window)
