"""Which errors are worth another attempt: DuckDB's own, raised by a real in-memory database."""
from __future__ import annotations

import duckdb
import pytest

from assetflow.assets import exception_names, retry_on_name
from assetflow.engines.duckdb_errors import failure_kind
from assetflow.errors import FailureKind, LockError, ProjectError


def error_of(sql: str) -> Exception:
    con = duckdb.connect(":memory:")
    try:
        con.execute(sql).fetchall()
    except duckdb.Error as exc:
        return exc
    finally:
        con.close()
    raise AssertionError(f"{sql!r} did not fail")


@pytest.mark.parametrize("sql", [
    "select nope from range(3)",                          # binder: unknown column
    "select * from no_such_table",                        # catalog
    "select 1 +",                                         # parser
    "select 'abc'::integer",                              # conversion
    "select 300::tinyint",                                # out of range cast
    "select no_such_function(1)",                         # catalog: unknown function
    "select 1::no_such_type",                             # catalog: unknown type
])
def test_errors_in_the_statement_are_permanent(sql):
    assert failure_kind(error_of(sql)) is FailureKind.PERMANENT


@pytest.mark.parametrize("sql", [
    "select * from read_csv('/nonexistent/folder/x.csv')",   # I/O: the file may appear
    "select error('the upstream API said: try later')",      # invalid input raised by the query
])
def test_errors_of_the_moment_are_transient(sql):
    assert failure_kind(error_of(sql)) is FailureKind.TRANSIENT


def test_a_python_error_is_transient_to_the_engine():
    assert failure_kind(KeyError("x")) is FailureKind.TRANSIENT


def test_assetflow_errors_know_their_kind():
    assert ProjectError("bad").failure_kind is FailureKind.PERMANENT
    assert LockError("held").failure_kind is FailureKind.TRANSIENT


def test_retry_on_matches_along_the_mro_by_bare_and_qualified_name():
    class ApiDown(ConnectionError):
        pass

    names = exception_names(ApiDown)
    assert names[0] == "ApiDown"
    assert {"ConnectionError", "OSError", "builtins.ConnectionError"} <= set(names)
    assert f"{__name__}.test_retry_on_matches_along_the_mro_by_bare_and_qualified_name.<locals>.ApiDown" in names
    assert "TimeoutError" not in names
    assert retry_on_name(TimeoutError) == "TimeoutError"
    assert retry_on_name(duckdb.IOException) == f"{duckdb.IOException.__module__}.IOException"
