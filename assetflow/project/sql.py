"""The sqlglot wall: every use of sqlglot lives here.

Parse a SQL asset file (TOML header + one query), find every table it reads, normalize it for
hashing, and rewrite it for execution (qualified names, absolute file paths, typed literals).
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from assetflow.assets import Reference

logging.getLogger("sqlglot").setLevel(logging.ERROR)   # its scope warnings are not the user's business
from assetflow.errors import ProjectError
from assetflow.project.header import FILE_SENTINEL, REF_SENTINEL, QueryFacts

_FILE_FUNCTIONS = frozenset({
    "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json", "read_json_auto",
    "read_ndjson", "read_ndjson_auto", "read_json_objects", "read_blob", "read_text", "read_xlsx",
    "delta_scan", "iceberg_scan",
})
_FILE_SUFFIX = re.compile(r"\.(csv|tsv|parquet|json|jsonl|ndjson|txt|xlsx|gz|zst)$", re.IGNORECASE)


def check_dialect(dialect: str) -> None:
    from sqlglot.dialects.dialect import Dialect
    try:
        Dialect.get_or_raise(dialect)
    except ValueError:
        raise ProjectError(f"unknown SQL dialect '{dialect}'", path="assetflow.toml",
                           hint="use a sqlglot dialect name such as duckdb, postgres, snowflake, spark") from None


def parse_query(query: str, dialect: str, path: str) -> exp.Query | exp.Pivot:
    """Parse exactly one SELECT (or WITH ... SELECT, or a set operation), or a DuckDB PIVOT /
    UNPIVOT statement (`pivot orders on region using sum(amount)`), or raise ProjectError."""
    try:
        statements = [s for s in _dialect(dialect).parse(query) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        description = re.sub(r"<Token token_type: [^,]+, text: ([^,]*),[^>]*>", r"'\1'",
                             str(first.get("description", exc)))
        raise ProjectError(f"SQL syntax error: {description}", path=path,
                           line=first.get("line"), hint="fix the SQL; the file must hold one SELECT") from None
    except SqlglotError as exc:
        raise ProjectError(f"SQL error: {exc}", path=path) from None
    if not statements:
        raise ProjectError("the file holds no query", path=path,
                           hint="write one SELECT statement (WITH ... SELECT is fine)")
    if len(statements) > 1:
        raise ProjectError(f"the file holds {len(statements)} statements; an asset is one query",
                           path=path, line=_line_of(statements[1]),
                           hint="keep one SELECT per file; move the others into their own assets")
    statement = statements[0]
    if not isinstance(statement, (exp.Query, exp.Pivot)):
        raise ProjectError(f"an asset must be a SELECT, not {statement.key.upper()}", path=path,
                           line=_line_of(statement), hint="write the query that produces the table; "
                           "assetflow creates and replaces it")
    return statement


@dataclass
class _Nodes:
    """The nodes analysis needs, from one walk of the tree."""

    tables: list[exp.Table]
    placeholders: list[exp.Placeholder]


def _walk(tree: exp.Query | exp.Pivot, path: str) -> _Nodes:
    nodes = _Nodes([], [])
    for node in tree.walk():
        if isinstance(node, exp.Table):
            nodes.tables.append(node)
        elif isinstance(node, exp.Placeholder):
            nodes.placeholders.append(node)
        elif isinstance(node, exp.Identifier) and node.quoted and not node.name:
            raise ProjectError('an empty quoted name ("") is not a valid identifier', path=path,
                               line=_line_of(node), hint="give the column or table a name")
    return nodes


def analyze(query: str, dialect: str, path: str) -> QueryFacts:
    """Everything the loader needs from a query: normalized text, tables read, files read, and a
    template for execution in which every table read is a sentinel `__af_ref_N__` (N indexes the
    references) and every file path is `__af_file_N__`, so compiling needs no second parse.

    The tree is printed once (copy=False: it is thrown away after), as the template; the
    normalized text is the template with the names and paths put back as sqlglot prints them,
    which is the same text a second print of the untouched tree would give.
    """
    tree = parse_query(query, dialect, path)
    nodes = _walk(tree, path)
    generator = _dialect(dialect).generator(comments=False)
    references: dict[tuple[str, ...], int] = {}
    found: list[Reference] = []
    written: list[str] = []                        # each reference as sqlglot prints it
    files: list[str] = []
    reads: list[tuple[exp.Table, int]] = []
    file_tables: list[exp.Table] = []
    for table in _source_tables(tree, nodes.tables):     # collect everything first, then rewrite
        file_path = _file_read(table)
        if file_path is not None:
            files.extend(p for p in file_path if p not in files)
            file_tables.append(table)
            continue
        if not isinstance(table.this, exp.Identifier):
            continue                                   # a table function that reads no file
        parts = tuple(p.name for p in table.parts)
        key = tuple(p.lower() for p in parts)
        if key not in references:
            references[key] = len(found)
            found.append(Reference(parts=parts, line=_line_of(table)))
            written.append(".".join(generator.generate(part, copy=False) for part in table.parts))
        reads.append((table, references[key]))
    for table in file_tables:
        _sentinel_files(table, files)
    for table, slot in reads:
        for arg in ("db", "catalog"):
            table.set(arg, None)
        table.set("this", exp.to_identifier(REF_SENTINEL.format(slot)))
    used = tuple(sorted({p.name for p in nodes.placeholders}))
    template = generator.generate(tree, copy=False)
    normalized = _restore(template, dialect, written, files)
    return QueryFacts(normalized, tuple(found), tuple(files), template, used)


@functools.cache
def _dialect(name: str):
    from sqlglot.dialects.dialect import Dialect
    return Dialect.get_or_raise(name)


def _restore(template: str, dialect: str, written: list[str], files: list[str]) -> str:
    """The template with its sentinels replaced by the names and paths they stand for, printed as
    sqlglot prints them (a path is a string literal, or a quoted identifier in `from 'x.csv'`)."""
    def file_sql(match: re.Match) -> str:
        path = files[int(match.group(2))]
        node = exp.to_identifier(path, quoted=True) if match.group(1) != "'" else exp.Literal.string(path)
        return node.sql(dialect=dialect)
    text = re.sub(r"(['\"`])__af_file_(\d+)__\1", file_sql, template)
    return re.sub(r"\b__af_ref_(\d+)__\b", lambda m: written[int(m.group(1))], text)


def _sentinel_files(table: exp.Table, files: list[str]) -> None:
    for literal in table.find_all(exp.Literal):
        if literal.is_string and literal.this in files:
            literal.replace(exp.Literal.string(FILE_SENTINEL.format(files.index(literal.this))))
    node = table.this
    if isinstance(node, exp.Identifier) and node.name in files:
        table.set("this", exp.to_identifier(FILE_SENTINEL.format(files.index(node.name)), quoted=True))


def _source_tables(tree: exp.Query | exp.Pivot, every_table: list[exp.Table]) -> list[exp.Table]:
    """Tables the query reads: FROM/JOIN in every scope; CTE names resolve to their bodies."""
    try:
        tables = [source for scope in traverse_scope(tree) for source in scope.sources.values()
                  if isinstance(source, exp.Table)]
    except SqlglotError:
        tables = []
    seen = {id(t) for t in tables}
    # Scope analysis misses tables in some positions (inside table functions, or a CTE whose body it
    # cannot traverse, such as PIVOT); take every Table node, then drop the ones naming a CTE.
    tables += [t for t in every_table if id(t) not in seen]
    unique = list({id(t): t for t in tables}.values())      # a table can be a source of two scopes
    return [t for t in unique if not _names_cte(t)]


def _names_cte(table: exp.Table) -> bool:
    """Whether an unqualified table name refers to a CTE in scope rather than a real table.

    A non-recursive CTE's body cannot see the CTE itself: `with orders as (select * from orders)`
    reads the real `orders`.
    """
    if table.db or not isinstance(table.this, exp.Identifier):
        return False
    name = table.name.lower()
    node: exp.Expression | None = table
    while node is not None:
        # a PIVOT statement holds its WITH like a query does: `with x as (...) pivot x on ...`
        with_ = (node.args.get("with_") or node.args.get("with")) if isinstance(node, (exp.Query, exp.Pivot)) \
            else None
        if with_ is not None:
            for cte in with_.expressions:
                if cte.alias_or_name.lower() == name:
                    inside_own_body = any(a is cte for a in _ancestors(table))
                    return not inside_own_body or bool(with_.args.get("recursive"))
        node = node.parent
    return False


def _ancestors(node: exp.Expression) -> list[exp.Expression]:
    out = []
    while node.parent is not None:
        node = node.parent
        out.append(node)
    return out


def _file_read(table: exp.Table) -> list[str] | None:
    """The file paths a FROM item reads, or None when it is not a file read."""
    node = table.this
    if isinstance(node, exp.Identifier):
        name = node.name
        if node.quoted and not table.db and ("/" in name or _FILE_SUFFIX.search(name)):
            return [name]
        return None
    if isinstance(node, exp.Func):
        fname = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if fname in _FILE_FUNCTIONS:
            first = node.args.get("this") if not isinstance(node, exp.Anonymous) else None
            if not isinstance(first, exp.Expression):
                first = (node.expressions or [None])[0]
            if isinstance(first, exp.Literal) and first.is_string:
                return [first.this]
            if isinstance(first, exp.Array):
                return [e.this for e in first.expressions if isinstance(e, exp.Literal) and e.is_string]
    return None


def _line_of(node: exp.Expression) -> int | None:
    for candidate in (node, node.this if isinstance(node.this, exp.Expression) else None, *node.walk()):
        if isinstance(candidate, exp.Expression) and candidate.meta.get("line"):
            return candidate.meta["line"]
    return None


# ---------------------------------------------------------------------------- execution SQL

def qualify(query: str, dialect: str, relations: Mapping[tuple[str, ...], str],
            files: Mapping[str, str], target_dialect: str = "duckdb", pretty: bool = False) -> str:
    return qualify_with_placeholders(query, dialect, relations, files, target_dialect, pretty)[0]


def qualify_with_placeholders(query: str, dialect: str, relations: Mapping[tuple[str, ...], str],
                              files: Mapping[str, str], target_dialect: str = "duckdb",
                              pretty: bool = False) -> tuple[str, frozenset[str]]:
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
    used = frozenset(p.name for p in tree.find_all(exp.Placeholder))
    return tree.sql(dialect=target_dialect, pretty=pretty), used


def _rewrite_file_literals(table: exp.Table, files: Mapping[str, str]) -> None:
    for literal in table.find_all(exp.Literal):
        if literal.is_string and literal.this in files:
            literal.replace(exp.Literal.string(files[literal.this]))
    node = table.this
    if isinstance(node, exp.Identifier) and node.name in files:
        table.set("this", exp.to_identifier(files[node.name], quoted=True))


def inline_parameters(sql: str, params: Mapping[str, Any], dialect: str = "duckdb") -> str:
    """Replace `$name` placeholders with typed literals through the AST (for `compile` output)."""
    tree = sqlglot.parse_one(sql, dialect=dialect)

    def literal(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in params:
            return _typed_literal(params[node.name])
        return node

    return tree.transform(literal).sql(dialect=dialect, pretty=True)


def _typed_literal(value: Any) -> exp.Expression:
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if value is None:
        return exp.null()
    return exp.Literal.string(str(value))


def pretty(text: str, dialect: str) -> str:
    return sqlglot.parse_one(text, dialect=dialect).sql(dialect=dialect, pretty=True)


def placeholders(sql: str, dialect: str) -> frozenset[str]:
    """Names of the `$name` placeholders a query uses."""
    return frozenset(p.name for p in sqlglot.parse_one(sql, dialect=dialect).find_all(exp.Placeholder))




def source_columns(query: str, dialect: str, column: str,
                   schema: dict[str, dict[str, dict[str, str]]] | None) -> list[tuple[tuple[str, ...], str]]:
    """The (table parts, column) pairs a result column derives from, through CTEs, subqueries and joins."""
    from sqlglot.lineage import lineage
    if isinstance(sqlglot.parse_one(query, dialect=dialect), exp.Pivot):
        raise ProjectError(f"cannot trace column '{column}': column lineage does not go through a PIVOT "
                           "or UNPIVOT statement", hint="`assetflow lineage ASSET` shows the tables it reads")
    try:
        root = lineage(column, query, schema=schema or None, dialect=dialect)
    except SqlglotError as exc:
        from assetflow.names import suggest
        raise ProjectError(f"cannot trace column '{column}': {exc}",
                           hint=suggest(column, _result_columns(query, dialect)) or
                           "column lineage needs the column to appear in the query's result") from None
    found: list[tuple[tuple[str, ...], str]] = []
    # A column read through `SELECT *` (no schema: the database is not built yet) reaches the
    # table as `*`; it is the column of the same name there, the name it had one step up.
    stack = [(root, column)]
    while stack:
        node, above = stack.pop()
        name = node.name.rpartition(".")[2]
        if not node.downstream and isinstance(node.source, exp.Table):
            pair = (tuple(p.name.lower() for p in node.source.parts), above if name == "*" else name)
            if pair not in found:
                found.append(pair)
        stack.extend((child, above if name == "*" else name) for child in reversed(node.downstream))
    return found


def _result_columns(query: str, dialect: str) -> list[str]:
    try:
        return [name.lower() for name in getattr(sqlglot.parse_one(query, dialect=dialect), "named_selects", [])]
    except SqlglotError:
        return []
