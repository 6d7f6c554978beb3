"""The sqlglot wall, for `macros/*.sql`: split a macro file into its CREATE MACRO statements and
read what each body calls and names (tables a table macro reads are its users' upstreams).

Only the statement's opening words and its body go through sqlglot: a macro's parameter list
(`b := 5` defaults) is DuckDB's own syntax, judged by DuckDB when the macro is created.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from assetflow.assets import Reference
from assetflow.errors import ProjectError
from assetflow.project.sql import _dialect, _source_tables, _walk

HINT = "a file under macros/ holds only CREATE [OR REPLACE] MACRO statements, each ended with ;"


@dataclass(frozen=True, slots=True)
class MacroFacts:
    name: str                              # lower-cased, without its schema
    schema: str | None
    line: int
    statement: str                         # CREATE OR REPLACE MACRO ..., as it runs
    normalized: str                        # its tokens without comments or layout, for code versions
    table: bool                            # a table macro (AS TABLE ...)
    functions: tuple[str, ...] = ()        # functions its body calls that sqlglot does not know
    references: tuple[Reference, ...] = ()  # tables its body names (lines are the file's)


def analyze_macros(text: str, dialect: str, path: str) -> tuple[MacroFacts, ...]:
    try:
        tokens = _dialect(dialect).tokenize(text)
    except SqlglotError as exc:
        raise ProjectError(f"cannot read the macro file: {exc}", path=path, hint=HINT) from None
    statements, current = [], []
    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            if current:
                statements.append(current)
            current = []
        else:
            current.append(token)
    if current:
        statements.append(current)
    return tuple(_macro(statement, text, dialect, path) for statement in statements)


def _macro(tokens: list, text: str, dialect: str, path: str) -> MacroFacts:
    words = [t.text.upper() for t in tokens[:5]]
    at = 1 + (2 if words[1:3] == ["OR", "REPLACE"] else 0)
    at += 1 if len(words) > at and words[at] in ("TEMP", "TEMPORARY") else 0
    if words[0] != "CREATE" or len(words) <= at or words[at] not in ("MACRO", "FUNCTION"):
        shown = " ".join(t.text for t in tokens[:3])
        raise ProjectError(f"only CREATE MACRO statements belong in a macro file, not `{shown} ...`",
                           path=path, line=tokens[0].line, hint=HINT)
    name_at = at + 1
    dotted = len(tokens) > name_at + 2 and tokens[name_at + 1].token_type is TokenType.DOT
    schema = tokens[name_at].text.lower() if dotted else None
    name_token = tokens[name_at + 2] if dotted else tokens[name_at] if len(tokens) > name_at else None
    if name_token is None or name_token.token_type in (TokenType.L_PAREN, TokenType.ALIAS):
        raise ProjectError("this CREATE MACRO has no name", path=path, line=tokens[0].line, hint=HINT)
    start, end = tokens[name_at].start, tokens[-1].end + 1
    statement = "CREATE OR REPLACE MACRO " + text[start:end]
    body_at, table = _body_start(tokens, name_at)
    functions, references = _body_facts(text[tokens[body_at].start:end] if body_at < len(tokens) else "",
                                        table, dialect, path, tokens[body_at].line if body_at < len(tokens) else 1)
    return MacroFacts(name_token.text.lower(), schema, tokens[0].line, statement,
                      " ".join(t.text for t in tokens[name_at:]), table, functions, references)


def _body_start(tokens: list, after: int) -> tuple[int, bool]:
    """Index of the body's first token (after the `AS` that follows the parameter list, and after
    `TABLE` for a table macro), and whether it is a table macro."""
    depth = 0
    for i in range(after, len(tokens)):
        kind = tokens[i].token_type
        depth += kind is TokenType.L_PAREN
        depth -= kind is TokenType.R_PAREN
        if depth == 0 and kind is TokenType.ALIAS:
            table = i + 1 < len(tokens) and tokens[i + 1].token_type is TokenType.TABLE
            return i + 1 + table, table
    return len(tokens), False


def _body_facts(body: str, table: bool, dialect: str, path: str, line: int
                ) -> tuple[tuple[str, ...], tuple[Reference, ...]]:
    """(functions called, tables named) of a body; nothing when sqlglot cannot read it (DuckDB
    judges it when the macro is created)."""
    if not body.strip():
        return (), ()
    try:
        tree = _dialect(dialect).parse(body if table else f"SELECT {body}")[0]
    except (SqlglotError, IndexError):
        return (), ()
    if tree is None:
        return (), ()
    nodes = _walk(tree, path)
    functions = tuple(sorted({c.name.lower() for c in nodes.calls}))
    references: dict[tuple[str, ...], Reference] = {}
    for t in _source_tables(tree, nodes.tables):
        if isinstance(t.this, exp.Identifier):
            parts = tuple(p.name for p in t.parts)
            found = t.meta.get("line") or (t.this.meta.get("line") if isinstance(t.this, exp.Expression) else None)
            references.setdefault(tuple(p.lower() for p in parts),
                                  Reference(parts, line + (found - 1 if found else 0)))
    return functions, tuple(references.values())
