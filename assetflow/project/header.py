"""A SQL asset file without sqlglot: its `/* assetflow ... */` TOML header, and the facts the
parser extracts (kept here so the parse cache can hand them out without importing sqlglot)."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from assetflow.assets import Reference
from assetflow.errors import ProjectError

REF_SENTINEL = "__af_ref_{}__"      # a table read, in a template written by sql.analyze
FILE_SENTINEL = "__af_file_{}__"    # a file path, likewise
_HEADER = re.compile(r"\A(\s*)/\*\s*assetflow\b(.*?)\*/", re.DOTALL)


@dataclass(frozen=True, slots=True)
class QueryFacts:
    normalized: str                 # the query without comments or formatting, for hashing
    references: tuple[Reference, ...]
    file_reads: tuple[str, ...]
    template: str = ""              # the query with sentinels for tables and files (sql.analyze)
    placeholders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SqlFile:
    """A SQL asset file split into its header settings and its query text."""

    settings: dict[str, Any]
    header_line: int | None
    query: str                      # header blanked out, so line numbers still match the file
    header: str = ""                # the header's TOML text (a cache key: projects repeat headers)


def split_header(text: str, path: str, parsed: dict[str, dict[str, Any]] | None = None) -> SqlFile:
    """Separate the `/* assetflow ... */` TOML header from the query. `parsed` caches TOML texts
    already read (the settings it hands out are shared: read them, never change them)."""
    match = _HEADER.match(text)
    if match is None:
        return SqlFile({}, None, text)
    header_line = text.count("\n", 0, match.start(2)) + 1
    toml = match.group(2)
    settings = parsed.get(toml) if parsed is not None else None
    if settings is None:
        try:
            settings = tomllib.loads(toml)
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError(f"bad TOML in the assetflow header: {exc}", path=path,
                               line=header_line + _toml_error_line(exc) - 1,
                               hint="the header is TOML: key = \"value\", one per line") from None
        if parsed is not None:
            parsed[toml] = settings
    blanked = "\n".join(" " * len(line) for line in match.group(0).split("\n"))
    return SqlFile(settings, header_line, blanked + text[match.end():], toml)


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
