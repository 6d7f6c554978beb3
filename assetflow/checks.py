"""Asset checks: parse `not_null(col)`-style specs and turn them into counting queries.

The spec grammar is call syntax, so Python's own `ast` parses it (names, strings, lists, keyword
arguments) without a hand-written parser. Every query returns one number: the failing rows.
Values are bound as parameters; identifiers are quoted.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from assetflow.errors import ProjectError

KINDS = ("not_null", "unique", "accepted_values", "row_count", "relationships")
SEVERITIES = ("error", "warn")


@dataclass(frozen=True, slots=True)
class CheckSpec:
    text: str                                # as the user wrote it, used as the check's name
    kind: str
    columns: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    ref_asset: str | None = None             # relationships: the referenced asset, as written
    ref_column: str | None = None
    severity: str = "error"


@dataclass(frozen=True, slots=True)
class CheckQuery:
    """A check ready to run against one relation (and partition window)."""

    name: str
    severity: str
    sql: str                                 # returns one row: the number of failing rows
    params: tuple[Any, ...] = ()
    counts_rows: bool = False                # row_count: the number is compared with min/max
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    severity: str
    failing: int                             # -1: the check could not run (see error)
    passed: bool
    error: str | None = None                 # why it could not run


def parse_check(entry: Any, *, path: str, line: int | None) -> CheckSpec:
    """A `checks = [...]` entry: "not_null(id)" or { check = "unique(id)", severity = "warn" }."""
    severity = "error"
    if isinstance(entry, dict):
        unknown = set(entry) - {"check", "severity"}
        if unknown or not isinstance(entry.get("check"), str):
            raise ProjectError(f"bad check entry {entry!r}", path=path, line=line,
                               hint='write "not_null(col)" or { check = "unique(col)", severity = "warn" }')
        severity, entry = entry.get("severity", "error"), entry["check"]
        if severity not in SEVERITIES:
            raise ProjectError(f"check severity must be error or warn, not {severity!r}", path=path, line=line)
    if not isinstance(entry, str):
        raise ProjectError(f"a check must be a string like \"not_null(col)\", not {entry!r}", path=path, line=line)
    try:
        call = ast.parse(entry.strip(), mode="eval").body
    except SyntaxError:
        call = None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id not in KINDS:
        raise ProjectError(f"cannot read check {entry!r}", path=path, line=line,
                           hint=f"checks: {', '.join(k + '(...)' for k in KINDS)}")
    try:
        return _build(entry.strip(), call, severity)
    except ValueError as exc:
        raise ProjectError(f"check {entry!r}: {exc}", path=path, line=line) from None


def _build(text: str, call: ast.Call, severity: str) -> CheckSpec:
    kind = call.func.id
    args = [_value(a) for a in call.args]
    kwargs = {k.arg: _value(k.value) for k in call.keywords}
    if kind in ("not_null", "unique"):
        if not args or kwargs or not all(isinstance(a, str) for a in args):
            raise ValueError(f"{kind} takes column names")
        return CheckSpec(text, kind, columns=tuple(args), severity=severity)
    if kind == "accepted_values":
        if len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], list) or kwargs:
            raise ValueError("accepted_values takes a column and a list of values")
        return CheckSpec(text, kind, columns=(args[0],), values=tuple(args[1]), severity=severity)
    if kind == "row_count":
        if args or not kwargs or set(kwargs) - {"min", "max"} or not all(isinstance(v, int) for v in kwargs.values()):
            raise ValueError("row_count takes min= and/or max= integers")
        return CheckSpec(text, kind, minimum=kwargs.get("min"), maximum=kwargs.get("max"), severity=severity)
    if len(args) != 2 or kwargs or not all(isinstance(a, str) for a in args) or "." not in args[1]:
        raise ValueError("relationships takes a column and asset.column, e.g. relationships(customer_id, "
                         "staging.customers.customer_id)")
    ref_asset, _, ref_column = args[1].rpartition(".")
    return CheckSpec(text, kind, columns=(args[0],), ref_asset=ref_asset, ref_column=ref_column, severity=severity)


def _value(node: ast.expr) -> Any:
    """Names and dotted names read as text; literals as values."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_value(node.value)}.{node.attr}"
    if isinstance(node, ast.List):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    raise ValueError(f"unsupported argument {ast.unparse(node)}")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_query(check: CheckSpec, relation: str, where: str, where_params: tuple[Any, ...],
                ref_relation: str | None = None) -> CheckQuery:
    """The counting query for `check` over `relation` rows matching `where` (a partition, or all)."""
    cols = [quote(c) for c in check.columns]
    if check.kind == "not_null":
        nulls = " OR ".join(f"{c} IS NULL" for c in cols)
        return CheckQuery(check.text, check.severity,
                          f"SELECT count(*) FROM {relation} WHERE ({where}) AND ({nulls})", where_params)
    if check.kind == "unique":
        keys = ", ".join(cols)
        return CheckQuery(check.text, check.severity,
                          f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {relation} WHERE {where} "
                          f"GROUP BY {keys} HAVING count(*) > 1)", where_params)
    if check.kind == "accepted_values":
        marks = ", ".join("?" for _ in check.values) or "NULL"
        return CheckQuery(check.text, check.severity,
                          f"SELECT count(*) FROM {relation} WHERE ({where}) AND {cols[0]} NOT IN ({marks})",
                          where_params + tuple(check.values))
    if check.kind == "row_count":
        return CheckQuery(check.text, check.severity, f"SELECT count(*) FROM {relation} WHERE {where}",
                          where_params, counts_rows=True, minimum=check.minimum, maximum=check.maximum)
    return CheckQuery(check.text, check.severity,
                      f"SELECT count(*) FROM {relation} AS child WHERE ({where}) AND child.{cols[0]} IS NOT NULL "
                      f"AND NOT EXISTS (SELECT 1 FROM {ref_relation} AS parent "
                      f"WHERE parent.{quote(check.ref_column or '')} = child.{cols[0]})", where_params)


def judge(query: CheckQuery, count: int) -> CheckResult:
    """Turn a query's number into a result: failing rows, or a row count outside its bounds."""
    if query.counts_rows:
        too_few = query.minimum is not None and count < query.minimum
        too_many = query.maximum is not None and count > query.maximum
        return CheckResult(query.name, query.severity, count, not (too_few or too_many))
    return CheckResult(query.name, query.severity, count, count == 0)


def describe_failures(results: list[CheckResult]) -> str:
    parts = []
    for r in results:
        what = f"{r.failing} rows" if r.name.startswith("row_count") else f"{r.failing} failing row(s)"
        parts.append(f"check {r.name} failed: {what}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """A check's result for one asset partition (`partition` None for an unpartitioned asset)."""

    asset: str
    partition: str | None
    result: CheckResult
