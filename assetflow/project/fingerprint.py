"""Code versions: what makes a partition stale when the asset's definition changes.

Only fields that change an asset's output go into its code version. Every AssetSettings field is
classified below; a test fails if a new field is added without being classified.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from dataclasses import fields
from typing import Any, Callable

from assetflow.assets import AssetSettings, SeedOptions

DATA_AFFECTING = frozenset({"kind", "partitioning", "lookback"})
# max_age decides when a build is due and timeout how long it may take, not what it writes; description, owner and columns document
# the asset (editing a description must not rebuild a year of partitions)
METADATA_ONLY = frozenset({"retries", "retry_delay", "tags", "checks", "deps", "batch_size", "max_age",
                           "retry_on", "description", "owner", "columns", "timeout"})


def unclassified_settings() -> set[str]:
    return {f.name for f in fields(AssetSettings)} - DATA_AFFECTING - METADATA_ONLY


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def settings_text(settings: AssetSettings) -> str:
    # repr of frozen dataclasses and enums is deterministic, and much cheaper than asdict + json
    return repr(sorted((name, _output_part(name, getattr(settings, name))) for name in DATA_AFFECTING))


def _output_part(name: str, value):
    """Of the partitioning, only its shape changes what a partition holds: extending `end` or moving
    `start` adds or drops partitions without making the existing ones stale."""
    if name != "partitioning" or value is None:
        return value
    grain = getattr(value, "grain", None)
    if grain is None:
        return ("static", value.column)
    # a time zone moves every window; None (UTC) adds nothing, so older code versions still hold
    return ("time", grain.value, value.column) + ((value.timezone,) if value.timezone else ())


def sql_code_version(normalized_sql: str, settings: AssetSettings, text: str | None = None,
                     reads: str = "") -> str:
    """Hash of the normalized query AST plus the settings that change its output (`text`: their
    settings_text, when the caller has it already) and the values of the variables it reads
    (`reads`, from variables.code_version_part; an asset reading none keeps its old version)."""
    parts = ("sql", normalized_sql, settings_text(settings) if text is None else text)
    return _digest(*parts, reads) if reads else _digest(*parts)


def python_code_version(function: Callable[..., Any], settings: AssetSettings,
                        explicit: str | None = None, deps: str = "") -> str:
    """Hash of the function's source without docstrings or comments, plus its settings and its
    `deps=` mapping (which decides what each parameter reads)."""
    if explicit is not None:
        return _digest("py-explicit", explicit, settings_text(settings), deps)
    return _digest("py", normalized_source(function), settings_text(settings), deps)


def with_variables(code_version: str, reads: str) -> str:
    """A Python asset's code version with the values of the variables it reads."""
    return _digest("vars", code_version, reads)


def normalized_source(function: Callable[..., Any]) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(function))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return getattr(function, "__qualname__", repr(function))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.decorator_list = []        # decorator arguments are hashed as settings instead
    return ast.unparse(tree)               # unparse drops comments and formatting


def seed_code_version(content_hash: str, options: SeedOptions = SeedOptions()) -> str:
    """The file's bytes, and how it is read when assetflow.toml says (a seed without options keeps
    the version it had before options existed)."""
    if options == SeedOptions():
        return _digest("seed", content_hash)
    return _digest("seed", content_hash, repr(options))


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
