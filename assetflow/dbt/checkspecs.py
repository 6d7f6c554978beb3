"""dbt tests as assetflow checks.

A test on a model becomes a header check (`not_null(col)`, run inside the write transaction) where
assetflow's check grammar says the same thing; otherwise (a `where:` filter, an expression as the
column, unquoted accepted values, a test on a seed or source, a generic test of the project) it
becomes a custom check: `checks/<name>.sql`, a query returning the failing rows, as dbt's own test
queries do.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from assetflow.checks import parse_check
from assetflow.dbt.properties import TestUse
from assetflow.dbt.report import SKIPPED, Finding

BUILT_IN = ("not_null", "unique", "accepted_values", "relationships")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")


@dataclass(frozen=True, slots=True)
class HeaderCheck:
    toml: str                      # the entry as it goes into `checks = [...]`


@dataclass(frozen=True, slots=True)
class CustomCheck:
    stem: str                      # checks/<stem>.sql
    sql: str
    severity: str
    what: str


Resolver = Callable[[str], str | None]      # a test's `to:` (ref('x'), source('s', 't')) -> relation


def resolve_target(resolve_ref: Resolver, sources: dict[tuple[str, str], str]) -> Resolver:
    def resolve(text: str) -> str | None:
        if (m := _REF.match(str(text))) is not None:
            return resolve_ref(m.group(1))
        if (m := _SOURCE.match(str(text))) is not None:
            return sources.get((m.group(1), m.group(2)))
        return None
    return resolve


def convert_test(test: TestUse, relation: str, owner: str, resolve: Resolver, header: bool,
                 upstream: frozenset[str] = frozenset()) -> HeaderCheck | CustomCheck | Finding:
    """`test` on `relation` (the asset or source it checks). `header`: the owner is a SQL asset.

    A `relationships` test whose target is not already upstream (`upstream`: relations the owner
    reads, directly or not) becomes a custom check, which runs after the build. (A header check made
    its target an upstream when this was written, a cycle for jaffle_shop's order_items tested
    against orders; it no longer adds an edge, so both forms now work.)"""
    if test.name not in BUILT_IN:
        return Finding(test.location, f"test {test.name} is not converted",
                       f"write checks/{check_stem(owner, test)}.sql: a query returning the rows that fail", SKIPPED)
    if test.column is None:
        return Finding(test.location, f"test {test.name} needs a column", "give column_name:", SKIPPED)
    target = None
    if test.name == "relationships":
        target = resolve(test.args.get("to", ""))
        if target is None or not isinstance(test.args.get("field"), str):
            return Finding(test.location, f"relationships to {test.args.get('to')!r} is not converted",
                           "point `to:` at ref('model') or source('name', 'table'), with a `field:`", SKIPPED)
    if test.name == "accepted_values" and not isinstance(test.args.get("values"), list):
        return Finding(test.location, "accepted_values without a values: list", "add values: [...]", SKIPPED)
    in_header = header and (test.name != "relationships" or target in upstream)
    spec = _header_spec(test, target) if in_header else None
    if spec is not None:
        return spec
    return CustomCheck(check_stem(owner, test), custom_sql(test, relation, target), test.severity,
                       f"{test.name}({test.column}) on {owner}")


def _header_spec(test: TestUse, target: str | None) -> HeaderCheck | None:
    plain = _IDENTIFIER.match(test.column or "") is not None
    values = test.args.get("values")
    if not plain or test.where or (test.name == "accepted_values" and (
            test.args.get("quote") is False or not all(isinstance(v, (str, int, float, bool)) for v in values))):
        return None
    args = {"not_null": test.column, "unique": test.column,
            "accepted_values": f"{test.column}, {values!r}" if values is not None else "",
            "relationships": f"{test.column}, {target}.{test.args.get('field')}"}[test.name]
    text = f"{test.name}({args})"
    if test.name == "relationships" and not _IDENTIFIER.match(str(test.args.get("field"))):
        return None
    parse_check(text, path="dbt import", line=None)          # what we write must be what assetflow reads
    body = json.dumps(text)
    return HeaderCheck(body if test.severity == "error" else f'{{ check = {body}, severity = "warn" }}')


def custom_sql(test: TestUse, relation: str, target: str | None) -> str:
    """The query dbt's built-in test runs: the rows that fail (a `where:` filters the tested rows
    first, as dbt does by wrapping the model)."""
    column = test.column
    rows = f"(select * from {relation} where {test.where}) as dbt_filtered" if test.where else relation
    if test.name == "not_null":
        return f"select * from {rows} where {column} is null"
    if test.name == "unique":
        return (f"select {column} as unique_field, count(*) as n_records from {rows}\n"
                f"where {column} is not null\ngroup by {column}\nhaving count(*) > 1")
    if test.name == "accepted_values":
        quote = test.args.get("quote", True) is not False
        values = ", ".join(_literal(v) if quote else str(v) for v in test.args["values"])
        return f"select * from {rows} where {column} not in ({values})"
    field = test.args["field"]
    return (f"select child.{column} from (select * from {rows}) as child\n"
            f"left join {target} as parent on child.{column} = parent.{field}\n"
            f"where child.{column} is not null and parent.{field} is null")


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def check_stem(owner: str, test: TestUse) -> str:
    raw = f"{owner}__{test.name}" + (f"__{test.column}" if test.column else "")
    return re.sub(r"[^a-z0-9_]+", "_", raw.lower().replace(".", "__")).strip("_")


def custom_check_text(check: CustomCheck) -> str:
    header = '/* assetflow severity = "warn" */\n' if check.severity == "warn" else ""
    return f"{header}-- dbt test: {check.what}\n{check.sql}\n"
