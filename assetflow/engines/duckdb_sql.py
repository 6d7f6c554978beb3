"""SQL the DuckDB engine builds around a query: sources, windows, guards, file readers, row
counts, checks."""
from __future__ import annotations

from typing import Any

from assetflow import checks as checking
from assetflow.checks import CheckResult
from assetflow.engines.duckdb_module import core as duckdb, python_api
from assetflow.engines.base import BuildRequest, PartitionWindow
from assetflow.engines.duckdb_literals import bind_named
from assetflow.engines.duckdb_state import run
from assetflow.assets import SeedOptions, quote_identifier


class Source:
    """The SELECT that produces an asset's rows: its SQL, a registered Arrow table, or a seed file."""

    def __init__(self, cur, request: BuildRequest, name: str):
        self.cur, self.request, self.name = cur, request, name

    def __enter__(self) -> str:
        request = self.request
        if request.arrow is not None:
            python_api()
            self.cur.register(self.name, request.arrow)
            return f"SELECT * FROM {self.name}"
        if request.seed_file is not None:
            return f"SELECT * FROM {seed_reader(self.cur, request.seed_file, request.seed_options)}"
        assert request.sql is not None
        return request.sql

    def __exit__(self, *exc) -> None:
        if self.request.arrow is not None:
            try:
                self.cur.unregister(self.name)
            except duckdb.Error:
                pass


def columns_of(cur, relation: str, params: dict | None = None) -> list[tuple[str, str]]:
    """(name, type) of a relation's columns, from a zero-row read (no catalog scan)."""
    description = cur.execute(f"SELECT * FROM {relation} LIMIT 0", params).description
    cur.fetchall()
    return [(d[0], str(d[1])) for d in description]


def rows_written(cur, result: list[tuple], relation: str, where: str = "true", params: list | None = None) -> int:
    """Rows a CREATE TABLE AS or INSERT wrote: its count; or, for a statement DuckDB runs as several
    (a PIVOT whose columns come from the data), which returns no count, the rows counted in the
    relation inside the same transaction."""
    count = result[0][0] if result and result[0] else None
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    return run(cur, f"SELECT count(*) FROM {relation} WHERE {where}", params or None)[0][0]


def run_checks(cur, relation: str, checks, window: PartitionWindow | None) -> list[CheckResult]:
    """Run an asset's checks over `relation` (the rows of `window` only, when given)."""
    where, params = window_filter(window)
    results = []
    for spec, ref_relation in checks:
        query = checking.check_query(spec, relation, where, tuple(params), ref_relation)
        results.append(checking.judge(query, run(cur, query.sql, list(query.params))[0][0]))
    return results


def params_of(request: BuildRequest) -> dict[str, Any] | None:
    return dict(request.params) if request.params else None


def window_filter(window: PartitionWindow | None) -> tuple[str, list[Any]]:
    if window is None:
        return "true", []
    column = quote_identifier(window.column)
    if window.key is not None:
        return f"{column} = ?", [window.key]
    return range_condition(column, window.start, window.end)


def range_condition(column: str, start: Any, end: Any) -> tuple[str, list[Any]]:
    """`start <= column < end` with positional parameters (see `_by_type` for zoned bounds)."""
    if getattr(start, "tzinfo", None) is not None:
        return _by_type(column, "?", "?", "?", "?"), [start.date(), end.date(), start, end]
    return f"{column} >= ? AND {column} < ?", [start, end]


def _zoned(window: PartitionWindow) -> bool:
    """Whether the window is a time-zoned partition's: its bounds are aware local midnights."""
    return getattr(window.start, "tzinfo", None) is not None


def _by_type(column: str, start_day: str, end_day: str, start: str, end: str) -> str:
    """A zoned window on a column of either kind: a DATE holds local days, so it is compared with
    the local dates; a timestamp is an instant (a naive one is UTC), compared with the midnights."""
    return (f"CASE WHEN typeof({column}) = 'DATE' THEN {column} >= {start_day} AND {column} < {end_day} "
            f"ELSE {column} >= {start} AND {column} < {end} END")


OUTSIDE = "assetflow: a row falls outside the partition being written"


def window_guard(window: PartitionWindow) -> tuple[str, dict[str, Any]]:
    """The window as a condition on the query's rows (alias q), with named parameters."""
    column = f"q.{quote_identifier(window.column)}"
    if window.key is not None:
        return bind_named(f"({column} = $af_key) IS TRUE", {"af_key": window.key})
    bounds = {"af_start": window.start, "af_end": window.end}
    if _zoned(window):
        condition = _by_type(column, "$af_start_day", "$af_end_day", "$af_start", "$af_end")
        return bind_named(f"({condition}) IS TRUE",
                          {**bounds, "af_start_day": window.start.date(), "af_end_day": window.end.date()})
    return bind_named(f"({column} >= $af_start AND {column} < $af_end) IS TRUE", bounds)


def describe(window: PartitionWindow) -> str:
    if window.key is not None:
        return f"{window.column} = {window.key!r}"
    return f"{window.start} <= {window.column} < {window.end}"


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_reader(cur, glob: str) -> str:
    """The table function that reads a file glob; CSV options are sniffed once from the first file."""
    lower = glob.lower()
    if lower.endswith(".parquet"):
        return f"read_parquet({sql_string(glob)})"
    if lower.endswith((".json", ".jsonl", ".ndjson")):
        return f"read_json_auto({sql_string(glob)})"
    files = run(cur, "SELECT file FROM glob(?) ORDER BY file LIMIT 1", [glob])
    if not files:
        return f"read_csv_auto({sql_string(glob)})"   # reading it raises DuckDB's clear "no files" error
    first = files[0][0]
    prompt = run(cur, "SELECT Prompt FROM sniff_csv(?)", [first])[0][0].strip().rstrip(";")
    prefix = f"FROM read_csv({sql_string(first)}, "
    if not prompt.startswith(prefix) or not prompt.endswith(")"):
        return f"read_csv_auto({sql_string(glob)})"
    return f"read_csv({sql_string(glob)}, {prompt[len(prefix):-1]})"


# SeedOptions field -> read_csv argument
_CSV_ARGUMENTS = {"delimiter": "delim", "header": "header", "quote": "quote", "escape": "escape",
                  "null": "nullstr", "skip": "skip", "date_format": "dateformat",
                  "timestamp_format": "timestampformat"}


def seed_reader(cur, path: str, options: SeedOptions | None) -> str:
    """A seed file's reader: sniffed, or with the options assetflow.toml gives (DuckDB still
    detects whatever they leave out, column types included)."""
    if options is None or options == SeedOptions():
        return file_reader(cur, path)
    args = [sql_string(path)]
    for field, argument in _CSV_ARGUMENTS.items():
        value = getattr(options, field)
        if value is not None:
            args.append(f"{argument} = {_literal(value)}")
    if options.column_types:
        types = ", ".join(f"{sql_string(c)}: {sql_string(t)}" for c, t in options.column_types)
        args.append(f"types = {{{types}}}")
    return f"read_csv({', '.join(args)})"


def _literal(value: str | bool | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int) else sql_string(value)
