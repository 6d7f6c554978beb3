"""A SQL asset file without sqlglot: its `/* assetflow ... */` TOML header, and the facts the
parser extracts (kept here so the parse cache can hand them out without importing sqlglot).

The header is the first block comment whose first word is `assetflow`, in any case. Only blank
lines, `--` comments and other block comments may come before it; a header block after the query
has begun is an error rather than an ignored comment (the asset would silently lose its settings).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from assetflow.assets import Reference
from assetflow.errors import ProjectError

REF_SENTINEL = "__af_ref_{}__"      # a table read, in a template written by sql.analyze
FILE_SENTINEL = "__af_file_{}__"    # a file path, likewise
_HEADER_WORD = re.compile(r"\s*assetflow(?=\s|\*/|\Z)", re.IGNORECASE)     # right after `/*`: a whole word
_HEADER_ANYWHERE = re.compile(r"/\*\s*assetflow(?=\s|\*/|\Z)", re.IGNORECASE)
_SPACE = re.compile(r"\s*")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_]\w*)?\$")
_LEXEMES = re.compile(r"'|\"|--|/\*|\$")
_COMMENT_EDGE = re.compile(r"/\*|\*/")
MOVE_HINT = "put the /* assetflow ... */ block at the top of the file; only blank lines and comments may precede it"


@dataclass(frozen=True, slots=True)
class Parameter:
    """A `$name` placeholder the query uses, and the line of its first use."""

    name: str                       # lower-cased: DuckDB binds named parameters case-insensitively
    line: int | None


@dataclass(frozen=True, slots=True)
class QueryFacts:
    normalized: str                 # the query without comments or formatting, for hashing
    references: tuple[Reference, ...]
    file_reads: tuple[str, ...]
    template: str = ""              # the query as written, tables and files as sentinels (sql.analyze)
    parameters: tuple[Parameter, ...] = ()
    variables: tuple[Parameter, ...] = ()      # getvariable('name') reads; `*` for a computed name
    functions: tuple[str, ...] = ()            # names of the functions it calls that sqlglot does not
                                               # know (user macros among them), lower-cased, sorted

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)


@dataclass(frozen=True, slots=True)
class SqlFile:
    """A SQL asset file split into its header settings and its query text."""

    settings: dict[str, Any]
    header_line: int | None
    query: str                      # header blanked out, so line numbers still match the file
    header: str = ""                # the header's TOML text (a cache key: projects repeat headers)

    def key_line(self, key: str) -> int | None:
        """The file line where the header sets `key` (the header's line when it cannot be found)."""
        if self.header_line is None:
            return None
        found = re.search(rf"^[ \t]*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')[ \t]*=",
                          self.header, re.MULTILINE)
        return self.header_line + self.header.count("\n", 0, found.start()) if found else self.header_line


def split_header(text: str, path: str, parsed: dict[str, dict[str, Any]] | None = None) -> SqlFile:
    """Separate the `/* assetflow ... */` TOML header from the query. `parsed` caches TOML texts
    already read (the settings it hands out are shared: read them, never change them)."""
    header_at, query_at = _leading_comments(text, 0)
    if header_at is None:
        _refuse_late_header(text, query_at, path)
        return SqlFile({}, None, text)
    close = text.find("*/", header_at + 2)
    if close < 0:
        raise ProjectError("the assetflow header is never closed", path=path, line=_line(text, header_at),
                           hint="end the header with */")
    toml_at = _HEADER_WORD.match(text, header_at + 2).end()
    header_line = _line(text, toml_at)
    toml = text[toml_at:close]
    second, query_at = _leading_comments(text, close + 2)
    if second is not None:
        raise ProjectError("a second assetflow header", path=path, line=_line(text, second),
                           hint="merge the settings into the first header")
    _refuse_late_header(text, query_at, path)
    settings = parsed.get(toml) if parsed is not None else None
    if settings is None:
        settings = _read_toml(toml, path, header_line)
        if parsed is not None:
            parsed[toml] = settings
    return SqlFile(settings, header_line, text[:header_at] + _blank(text[header_at:close + 2]) + text[close + 2:],
                   toml)


def _blank(block: str) -> str:
    """The header as empty lines, so the query keeps its lines (and, after `*/`, its columns)."""
    lines = block.split("\n")
    return "\n" * (len(lines) - 1) + " " * len(lines[-1])


def _read_toml(toml: str, path: str, header_line: int) -> dict[str, Any]:
    try:
        return tomllib.loads(toml)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"bad TOML in the assetflow header: {exc}", path=path,
                           line=header_line + _toml_error_line(exc) - 1,
                           hint="the header is TOML: key = \"value\", one per line") from None


def _leading_comments(text: str, pos: int) -> tuple[int | None, int]:
    """Skip blank space and comments from `pos`: (where a header block starts, or None; where the
    skipping stopped, which is where the query begins when there is no header)."""
    while True:
        pos = _SPACE.match(text, pos).end()
        if text.startswith("--", pos):
            newline = text.find("\n", pos)
            pos = len(text) if newline < 0 else newline + 1
        elif text.startswith("/*", pos):
            if _HEADER_WORD.match(text, pos + 2):
                return pos, pos
            end = _block_comment_end(text, pos)
            if end is None:
                return None, pos                     # unterminated: the SQL parser reports it
            pos = end
        else:
            return None, pos


def _refuse_late_header(text: str, query_at: int, path: str) -> None:
    """A header block inside the query is an error: the settings would be ignored without a word.
    The search is one regex over the text; only files that contain the word are scanned properly."""
    if _HEADER_ANYWHERE.search(text, query_at) is None:
        return
    for start in _block_comments(text, query_at):
        if _HEADER_WORD.match(text, start + 2):
            raise ProjectError("the assetflow header comes after the query has begun, so it would be ignored",
                               path=path, line=_line(text, start), hint=MOVE_HINT)


def _block_comments(text: str, pos: int):
    """Start offsets of the block comments in SQL text, skipping strings, quoted names, `--`
    comments and dollar-quoted strings (the lexemes DuckDB and PostgreSQL share)."""
    while True:
        found = _LEXEMES.search(text, pos)
        if found is None:
            return
        at, lexeme = found.start(), found.group()
        if lexeme == "/*":
            yield at
            pos = _block_comment_end(text, at) or len(text)
        elif lexeme == "--":
            newline = text.find("\n", at)
            pos = len(text) if newline < 0 else newline + 1
        elif lexeme == "$":
            tag = _DOLLAR_TAG.match(text, at)
            if tag is None or (at > 0 and (text[at - 1].isalnum() or text[at - 1] == "_")):
                pos = at + 1                          # a parameter such as $start
            else:
                close = text.find(tag.group(), tag.end())
                pos = len(text) if close < 0 else close + len(tag.group())
        else:
            pos = _quoted_end(text, at, backslashes=lexeme == "'" and _is_escape_string(text, at))


def _is_escape_string(text: str, quote_at: int) -> bool:
    """`E'...'`: a string in which a backslash escapes the next character."""
    return (quote_at > 0 and text[quote_at - 1] in "eE"
            and (quote_at == 1 or not (text[quote_at - 2].isalnum() or text[quote_at - 2] == "_")))


def _quoted_end(text: str, at: int, backslashes: bool) -> int:
    quote, pos = text[at], at + 1
    while pos < len(text):
        char = text[pos]
        if backslashes and char == "\\":
            pos += 2
        elif char == quote:
            if text.startswith(quote, pos + 1):
                pos += 2                              # a doubled quote stands for itself
            else:
                return pos + 1
        else:
            pos += 1
    return len(text)


def _block_comment_end(text: str, start: int) -> int | None:
    """The offset after the block comment starting at `start`; block comments nest, as in DuckDB."""
    depth, pos = 0, start
    while True:
        found = _COMMENT_EDGE.search(text, pos)
        if found is None:
            return None
        depth += 1 if found.group() == "/*" else -1
        pos = found.end()
        if depth == 0:
            return pos


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _toml_error_line(exc: tomllib.TOMLDecodeError) -> int:
    found = re.search(r"line (\d+)", str(exc))
    return int(found.group(1)) if found else 1


def fill_template(template: str, relations: list[str], files: list[str]) -> str:
    """Put resolved relation names and absolute file paths into an `analyze` template."""
    def file_literal(match: re.Match) -> str:
        quote, index = match.group(1), int(match.group(2))
        return quote + files[index].replace(quote, quote * 2) + quote
    text = re.sub(r"(['\"])__af_file_(\d+)__\1", file_literal, template)
    return re.sub(r"\b__af_ref_(\d+)__\b", lambda m: relations[int(m.group(1))], text)
