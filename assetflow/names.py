"""Did-you-mean suggestions for unknown names."""
from __future__ import annotations

import re
import unicodedata
from difflib import get_close_matches


def suggest(name: str, known: list[str]) -> str | None:
    close = get_close_matches(name.lower(), known, n=3, cutoff=0.5)
    return f"did you mean {', '.join(close)}?" if close else None


_ASCII_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_plain_identifier(name: str) -> bool:
    """Whether SQL can name this without quotes: letters, digits and underscores, not starting with
    a digit. Letters in the Unicode sense, with their combining marks (`café` in either normal
    form), which DuckDB accepts unquoted too.

    >>> is_plain_identifier("stg_orders"), is_plain_identifier("my table"), is_plain_identifier("2024")
    (True, False, False)
    """
    if _ASCII_PLAIN.fullmatch(name):
        return True
    return bool(name) and _starts_name(name[0]) and all(_continues_name(c) for c in name[1:])


def _starts_name(char: str) -> bool:
    return char == "_" or unicodedata.category(char).startswith("L")


def _continues_name(char: str) -> bool:
    return _starts_name(char) or unicodedata.category(char) in ("Mn", "Mc", "Nd")


def plain_identifier(name: str) -> str:
    """The closest name that needs no quoting: each run of other characters becomes `_`.

    >>> plain_identifier("my table"), plain_identifier("daily-revenue (v2)"), plain_identifier("2024 report")
    ('my_table', 'daily_revenue_v2', '_2024_report')
    """
    kept = "".join(c if _continues_name(c) else " " for c in name)
    cleaned = "_".join(kept.split()) or "asset"
    return cleaned if _starts_name(cleaned[0]) else "_" + cleaned
