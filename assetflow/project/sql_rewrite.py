"""Execution SQL: a parsed asset query rewritten to run, on the sqlglot side of the wall.

Table references become the relations they resolved to, file paths absolute ones, `$name`
placeholders typed literals (in `compile` output and for engines that bind nothing), and a query
is transpiled to the target dialect. Reading a query (references, parameters, lineage) stays in
`sql`; this module only writes SQL.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from assetflow.project.sql import _apply, _dialect, _file_read, _source_tables, _walk, parse_query

def qualify(query: str, dialect: str, relations: Mapping[tuple[str, ...], str],
            files: Mapping[str, str], target_dialect: str = "duckdb", pretty: bool = False) -> str:
    return qualify_with_placeholders(query, dialect, relations, files, target_dialect, pretty)[0]


def qualify_with_placeholders(query: str, dialect: str, relations: Mapping[tuple[str, ...], str],
                              files: Mapping[str, str], target_dialect: str = "duckdb",
                              pretty: bool = False, path: str = "<compiled>") -> tuple[str, frozenset[str]]:
    """Rewrite table references to the relations they resolved to and file paths to absolute ones.

    `relations` maps a lower-cased reference (parts tuple) to a SQL relation name; `files` maps a
    path as written to the path to read.
    """
    tree = parse_query(query, dialect, "<compiled>")
    for table in _source_tables(tree, _walk(tree, "<compiled>").tables):
        node = table.this
        if isinstance(node, exp.Identifier) and not _file_read(table):
            key = tuple(p.name.lower() for p in table.parts)
            if key in relations:
                replacement = exp.to_table(relations[key], dialect="duckdb")
                for arg in ("this", "db", "catalog"):
                    table.set(arg, replacement.args.get(arg))
            continue
        _rewrite_file_literals(table, files)
    used = frozenset(p.name.lower() for p in tree.find_all(exp.Placeholder))
    if target_dialect == "spark" and dialect != "spark":
        from assetflow.project.sql_spark import spark_rules
        tree = spark_rules(exp).rewrite(tree, dialect, path)
    return tree.sql(dialect=target_dialect, pretty=pretty), used


def transpile(query: str, dialect: str, target_dialect: str, params: Mapping[str, Any] | None = None,
              path: str = "<compiled>") -> str:
    """`query` in `target_dialect`, its `$name` (or `?`, in order) placeholders bound as typed
    literals; to Spark, constructs that would change meaning are rewritten or refused (sql_spark)."""
    tree = parse_query(query, dialect, path)
    if params:
        positional = iter(params.get("?", ()))
        def bind(node):
            if isinstance(node, exp.Placeholder):
                return _typed_literal(next(positional) if node.name in ("", "?") else params[node.name.lower()])
            return node
        tree = tree.transform(bind, copy=False)
    if target_dialect == "spark" and dialect != "spark":
        from assetflow.project.sql_spark import spark_rules
        tree = spark_rules(exp).rewrite(tree, dialect, path)
    return tree.sql(dialect=target_dialect)


def _rewrite_file_literals(table: exp.Table, files: Mapping[str, str]) -> None:
    for literal in table.find_all(exp.Literal):
        if literal.is_string and literal.this in files:
            literal.replace(exp.Literal.string(files[literal.this]))
    node = table.this
    if isinstance(node, exp.Identifier) and node.name in files:
        table.set("this", exp.to_identifier(files[node.name], quoted=True))


def inline_parameters(sql: str, params: Mapping[str, Any], dialect: str = "duckdb") -> str:
    """Replace `$name` placeholders with typed literals where they are written (for `compile`
    output): the rest of the statement stays exactly as it runs."""
    tokens = _dialect(dialect).tokenize(sql)
    edits = [(before.start, token.end, _typed_literal(params[token.text.lower()]).sql(dialect=dialect))
             for before, token in zip(tokens, tokens[1:])
             if before.token_type is TokenType.PARAMETER and before.end + 1 == token.start
             and token.text.lower() in params]
    return _apply(sql, edits)


def inline_variables(sql: str, literals: Mapping[str, str], dialect: str = "duckdb") -> str:
    """Replace each `getvariable('name')` whose name `literals` holds with that SQL literal, where
    it is written. A view's query runs when the view is read, on the reader's connection, where
    assetflow set no variables: the view is made with the values it was built with."""
    tokens = _dialect(dialect).tokenize(sql)
    edits = [(name.start, close.end, "(" + literals[arg.text.lower()] + ")")
             for name, paren, arg, close in zip(tokens, tokens[1:], tokens[2:], tokens[3:])
             if name.text.lower() == "getvariable" and paren.token_type is TokenType.L_PAREN
             and arg.token_type is TokenType.STRING and close.token_type is TokenType.R_PAREN
             and arg.text.lower() in literals]
    return _apply(sql, edits)


def _typed_literal(value: Any) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, datetime):      # DuckDB's TIMESTAMP: Spark's TIMESTAMP_NTZ; aware: TIMESTAMPTZ
        kind = "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build(kind, dialect="duckdb"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if value is None:
        return exp.null()
    return exp.Literal.string(str(value))


def placeholders(sql: str, dialect: str) -> frozenset[str]:
    """Names of the `$name` placeholders a query uses."""
    return frozenset(p.name.lower() for p in sqlglot.parse_one(sql, dialect=dialect).find_all(exp.Placeholder))
