"""Which DuckDB errors another attempt could fix: the retry classification of the engine's exceptions.

A query that does not parse, names a column or table that is not there, or casts a value that does
not convert fails the same way on every attempt, so retrying it only delays the failure (three
retries with backoff used to wait ~7 s before reporting an unknown column). I/O, HTTP, transaction,
memory and connection errors depend on the moment and are worth another attempt.
"""
from __future__ import annotations

from assetflow.engines.duckdb_module import core as duckdb
from assetflow.errors import FailureKind

_PERMANENT: tuple[type[BaseException], ...] = (
    duckdb.ParserException, duckdb.SyntaxException,          # the SQL does not parse
    duckdb.BinderException, duckdb.CatalogException,         # unknown column, table, function, type
    duckdb.InvalidTypeException,
    duckdb.ConversionException, duckdb.TypeMismatchException, duckdb.OutOfRangeException,   # casts
    duckdb.NotImplementedException,
)


def failure_kind(exc: BaseException) -> FailureKind:
    """PERMANENT for errors in the statement itself; TRANSIENT for everything else (a new kind of
    error is retried, as every error was before this classification existed)."""
    return FailureKind.PERMANENT if isinstance(exc, _PERMANENT) else FailureKind.TRANSIENT
