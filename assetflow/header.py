"""A SQL asset file without sqlglot: its `/* assetflow ... */` TOML header, and the facts the
parser extracts (kept here so the parse cache can hand them out without importing sqlglot)."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from assetflow.assets import Reference
from assetflow.errors import ProjectError

_HEADER = re.compile(r"\A(\s*)/\*\s*assetflow\b(.*?)\*/", re.DOTALL)


@dataclass(frozen=True, slots=True)
class QueryFacts:
    normalized: str                 # the query without comments or formatting, for hashing
    references: tuple[Reference, ...]
    file_reads: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SqlFile:
    """A SQL asset file split into its header settings and its query text."""

    settings: dict[str, Any]
    header_line: int | None
    query: str                      # header blanked out, so line numbers still match the file


def split_header(text: str, path: str) -> SqlFile:
    """Separate the `/* assetflow ... */` TOML header from the query."""
    match = _HEADER.match(text)
    if match is None:
        return SqlFile({}, None, text)
    header_line = text.count("\n", 0, match.start(2)) + 1
    try:
        settings = tomllib.loads(match.group(2))
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"bad TOML in the assetflow header: {exc}", path=path,
                           line=header_line + _toml_error_line(exc) - 1,
                           hint="the header is TOML: key = \"value\", one per line") from None
    blanked = re.sub(r"[^\n]", " ", match.group(0))
    return SqlFile(settings, header_line, blanked + text[match.end():])


def _toml_error_line(exc: tomllib.TOMLDecodeError) -> int:
    found = re.search(r"line (\d+)", str(exc))
    return int(found.group(1)) if found else 1


