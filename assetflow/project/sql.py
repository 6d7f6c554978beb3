"""The sqlglot wall, reading side: parse a SQL asset's query, find every table it reads.

Parse a SQL asset file (TOML header + one query), find every table and file it reads, its
parameters and variables, normalize it for hashing, trace a column's lineage. Rewriting a query to
run (qualified names, absolute file paths, typed literals, another dialect) is `sql_rewrite`.
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.tokens import TokenType

from assetflow.assets import Reference

logging.getLogger("sqlglot").setLevel(logging.ERROR)   # its scope warnings are not the user's business
from assetflow.errors import ProjectError
from assetflow.project.header import FILE_SENTINEL, REF_SENTINEL, Parameter, QueryFacts

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


def parse_query(query: str, dialect: str, path: str, tokens: list | None = None) -> exp.Query | exp.Pivot:
    """Parse exactly one SELECT (or WITH ... SELECT, or a set operation), or a DuckDB PIVOT /
    UNPIVOT statement (`pivot orders on region using sum(amount)`), or raise ProjectError.
    `tokens` are the query's tokens when the caller needs them too (one tokenization)."""
    try:
        # a comment after the final `;` comes back as an empty Semicolon statement
        statements = [s for s in _parse(query, dialect, tokens) if s is not None and not isinstance(s, exp.Semicolon)]
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
    calls: list[exp.Anonymous]


def _walk(tree: exp.Query | exp.Pivot, path: str) -> _Nodes:
    nodes = _Nodes([], [], [])
    for node in tree.walk():
        if isinstance(node, exp.Table):
            nodes.tables.append(node)
        elif isinstance(node, exp.Placeholder):
            nodes.placeholders.append(node)
        elif isinstance(node, exp.Anonymous):
            nodes.calls.append(node)
        elif isinstance(node, exp.Identifier) and node.quoted and not node.name:
            raise ProjectError('an empty quoted name ("") is not a valid identifier', path=path,
                               line=_line_of(node), hint="give the column or table a name")
    return nodes


@functools.cache
def _dialect(name: str):
    from sqlglot.dialects.dialect import Dialect
    return Dialect.get_or_raise(name)


def _parse(query: str, dialect: str, tokens: list | None) -> list:
    if tokens is None:
        return _dialect(dialect).parse(query)
    return _dialect(dialect).parser().parse(tokens, query)


def analyze(query: str, dialect: str, path: str) -> QueryFacts:
    """Everything the loader needs from a query: normalized text, tables read, files read, the
    parameters used, and a template for execution.

    The template is the query *as the user wrote it* (comments and formatting included), with each
    table read replaced by a sentinel `__af_ref_N__` (N indexes the references) and each file path
    by `'__af_file_N__'`, cut at the text's positions: what runs is what was written, apart from
    qualified names, absolute paths and bound parameters. A sqlglot print is only used for the
    normalized text that the code version hashes (it may differ from the query in ways that
    matter, `.5` prints as `0.5`, a DECIMAL(2,1) instead of DECIMAL(1,1)).
    """
    try:
        tokens = _dialect(dialect).tokenize(query)
    except SqlglotError:
        tokens = None                                  # parse_query reports the error with its line
    tree = parse_query(query, dialect, path, tokens)
    nodes = _walk(tree, path)
    references: dict[tuple[str, ...], int] = {}
    found: list[Reference] = []
    files: list[str] = []
    edits: list[tuple[int, int, str]] = []             # (start, end inclusive, replacement) in the query
    for table in _source_tables(tree, nodes.tables):
        file_path = _file_read(table)
        if file_path is not None:
            files.extend(p for p in file_path if p not in files)
            edits.extend(_file_edits(table, files, query, path))
            continue
        if not isinstance(table.this, exp.Identifier):
            continue                                   # a table function that reads no file
        parts = tuple(p.name for p in table.parts)
        key = tuple(p.lower() for p in parts)
        if key not in references:
            references[key] = len(found)
            found.append(Reference(parts=parts, line=_line_of(table)))
        edits.append((*_span(table.parts, table, path), REF_SENTINEL.format(references[key])))
    template = _apply(query[:_statement_end(query, tokens)], edits)
    # printed last, without a copy: the tree is not needed after (a print may rewrite nodes)
    normalized = _dialect(dialect).generator(comments=False).generate(tree, copy=False)
    return QueryFacts(normalized, tuple(found), tuple(files), template, _parameters(query, nodes.placeholders, tokens),
                      _variables(nodes.calls), tuple(sorted({_call_name(c) for c in nodes.calls})))


def _call_name(call: exp.Anonymous) -> str:
    return call.name.lower()


def _variables(calls: list[exp.Anonymous]) -> tuple[Parameter, ...]:
    """The variables `getvariable('name')` calls read, each with the line of its first read; `*`
    when a name is computed (then the query may read any variable)."""
    lines: dict[str, int | None] = {}
    for call in calls:
        if _call_name(call) != "getvariable":
            continue
        argument = call.expressions[0] if call.expressions else None
        name = argument.this.lower() if isinstance(argument, exp.Literal) and argument.is_string else "*"
        lines.setdefault(name, _line_of(call))
    return tuple(Parameter(name, line) for name, line in sorted(lines.items()))


def _span(nodes: list[exp.Expression], owner: exp.Expression, path: str) -> tuple[int, int]:
    """Where in the query text a run of nodes was written (from the parser's token positions)."""
    starts = [n.meta.get("start") for n in nodes]
    ends = [n.meta.get("end") for n in nodes]
    if None in starts or None in ends:
        raise ProjectError(f"cannot tell where '{owner.sql()}' is written in the query", path=path,
                           line=_line_of(owner), hint="please report this query to the assetflow authors")
    return min(starts), max(ends)


def _file_edits(table: exp.Table, files: list[str], query: str, path: str) -> list[tuple[int, int, str]]:
    """The file paths a FROM item reads, as sentinels in the quotes they were written with."""
    edits = []
    node = table.this
    literals = [node] if isinstance(node, exp.Identifier) and node.name in files else [
        literal for literal in table.find_all(exp.Literal) if literal.is_string and literal.this in files]
    for literal in literals:
        start, end = _span([literal], table, path)
        quote = '"' if query[start] == '"' else "'"
        name = literal.name if isinstance(literal, exp.Identifier) else literal.this
        edits.append((start, end, quote + FILE_SENTINEL.format(files.index(name)) + quote))
    return edits


def _apply(query: str, edits: list[tuple[int, int, str]]) -> str:
    """The query with each (start, end inclusive) span replaced; spans never overlap (a node
    reached twice gives the same edit twice)."""
    out, pos = [], 0
    for start, end, replacement in sorted(set(edits)):
        if start < pos:
            raise ValueError(f"overlapping edits at {start}")
        out += [query[pos:start], replacement]
        pos = end + 1
    return "".join(out) + query[pos:]


def _statement_end(query: str, tokens: list | None) -> int:
    """Where the statement's text ends: after its last token before a trailing `;` (an engine
    wraps the query in a larger statement, so neither the `;` nor a comment after it may follow).
    The text before the statement stays, blank header lines included: then DuckDB's `LINE n`
    in an error from a build is the file's line n."""
    meaningful = [t for t in tokens or () if t.token_type is not TokenType.SEMICOLON]
    return meaningful[-1].end + 1 if meaningful else len(query)


def _parameters(query: str, placeholders: list[exp.Placeholder], tokens: list | None) -> tuple[Parameter, ...]:
    """The `$name` parameters used, lower-cased (DuckDB binds them case-insensitively), each with
    the line of its first use, from the tokens' offsets (placeholder nodes carry no position, and
    a token's own `line` can be the line the tokenizer had reached after it)."""
    lines: dict[str, int] = {}
    for before, token in zip(tokens or (), (tokens or [])[1:]):
        if before.token_type is TokenType.PARAMETER and before.end + 1 == token.start:
            lines.setdefault(token.text.lower(), query.count("\n", 0, before.start) + 1)
    names = sorted({p.name.lower() for p in placeholders})
    return tuple(Parameter(name, lines.get(name)) for name in names)


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


# ---------------------------------------------------------------------------- column lineage

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
