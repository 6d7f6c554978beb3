"""dbt's cross-database macros (`dbt.date_trunc(...)`, `{{ dateadd(...) }}`) as DuckDB SQL.

dbt passes SQL fragments as strings (`dbt.date_trunc('day', 'ordered_at')` truncates the column
ordered_at), so each macro here pastes its arguments into the DuckDB expression dbt-duckdb
produces. Macros not listed are reported as not converted.
"""
from __future__ import annotations

from typing import Any, Callable


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart: str, interval: Any, from_date_or_timestamp: str) -> str:
    return f"date_add({from_date_or_timestamp}, interval ({interval}) {datepart})"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    return f"date_diff('{datepart}', ({first_date})::timestamp, ({second_date})::timestamp)"


def safe_cast(field: str, type: str) -> str:          # noqa: A002 - dbt's argument name
    return f"try_cast({field} as {type})"


def concat(fields: list[str]) -> str:
    return f"concat({', '.join(fields)})"


def hash(field: str) -> str:                           # noqa: A001 - dbt's macro name
    return f"md5(cast({field} as varchar))"


def split_part(string_text: str, delimiter_text: str, part_number: Any) -> str:
    return f"split_part({string_text}, {delimiter_text}, {part_number})"


def escape_single_quotes(expression: str) -> str:
    return expression.replace("'", "''")


def string_literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _simple(sql: str) -> Callable[..., str]:
    return lambda *_args, **_kwargs: sql


def _function(name: str) -> Callable[..., str]:
    return lambda *args: f"{name}({', '.join(str(a) for a in args)})"


MACROS: dict[str, Callable[..., Any]] = {
    "date_trunc": date_trunc, "dateadd": dateadd, "datediff": datediff, "safe_cast": safe_cast,
    "concat": concat, "hash": hash, "split_part": split_part,
    "escape_single_quotes": escape_single_quotes, "string_literal": string_literal,
    "cast_bool_to_text": lambda field: f"cast({field} as varchar)",
    "position": lambda substring_text, string_text: f"position({substring_text} in {string_text})",
    "any_value": _function("any_value"), "bool_or": _function("bool_or"), "length": _function("length"),
    "replace": _function("replace"), "right": _function("right"),
    "current_timestamp": _simple("now()"),
    "type_string": _simple("varchar"), "type_timestamp": _simple("timestamp"), "type_int": _simple("integer"),
    "type_bigint": _simple("bigint"), "type_float": _simple("double"), "type_numeric": _simple("numeric(28, 6)"),
    "type_boolean": _simple("boolean"),
}
