"""SQL literals for the values assetflow itself puts into its statements, on DuckDB 1.x.

DuckDB 1.x pays for Python parameters twice. Once per process: the first statement executed with
a parameter imports pandas, NumPy and pyarrow when they are installed (533 modules, 0.6 s of CPU
on 1.5.6 here; a user who has DuckDB beside SQLMesh or lea has pandas), and 2.x does not. And at
every execution: measured per statement on 1.5.6 (CPU time of the calling thread, median of 300),
the one-row INSERT of an attempt record costs 3.6-5.3 ms with parameters against 1.2 ms with the
same values as literals, a DELETE of one day's window 1.1 against 0.5 ms, a count over it 1.7
against 0.6 ms; DuckDB 2.0 costs the same either way (1.1-1.6, 0.6 and 0.7 ms).

So on 1.x the `?` parameters of the statements assetflow writes (the state store's rows, partition
windows, checks) travel as literals, and on 2.x they stay parameters. The user's own `$start`/`$end`
are parameters on every version: the query runs as written (a plain script running it pays the
same), and so do the bulk `$1` lists of set-based planning.

Only values whose literal reads back as the same value are inlined (None, bool, int, str without
NUL, naive date and datetime, lists of those); a statement with any other value, or whose text
holds a `?` that is not a placeholder, keeps its parameters.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Sequence

from assetflow.engines.duckdb_module import core as duckdb


def _major(version: str) -> int:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


INLINE = _major(getattr(duckdb, "__version__", "2")) < 2


class _NoLiteral(Exception):
    pass


def literal(value: Any) -> str:
    """`value` as DuckDB SQL text; raises _NoLiteral for a value without an exact literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise _NoLiteral(value)
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise _NoLiteral(value)
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise _NoLiteral(value)


def bind(sql: str, params: Sequence[Any], inline: bool = INLINE) -> tuple[str, list | None]:
    """(sql, params) to execute: on DuckDB 1.x with each `?` of `sql` replaced by its value's
    literal (`sql` must hold no other `?`); unchanged on 2.x or when a value has no literal."""
    if not inline or not params:
        return sql, list(params)
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        return sql, list(params)
    try:
        values = [literal(v) for v in params]
    except _NoLiteral:
        return sql, list(params)
    return "".join(p + v for p, v in zip(parts, values)) + parts[-1], None


def bind_named(sql: str, params: dict[str, Any], inline: bool = INLINE) -> tuple[str, dict[str, Any]]:
    """`$name` parameters of assetflow's own SQL (never the user's query) replaced by literals on
    1.x; returns the parameters still to bind."""
    if not inline or not params:
        return sql, dict(params)
    try:
        values = {name: literal(v) for name, v in params.items()}
    except _NoLiteral:
        return sql, dict(params)
    # longest names first, so that $af_start never eats the head of $af_start_2
    for name in sorted(values, key=len, reverse=True):
        sql = sql.replace(f"${name}", values[name])
    return sql, {}
