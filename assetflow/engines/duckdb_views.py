"""Declared file sources as views, and what to do when the files they read have moved.

A source view reads its files by absolute path (DuckDB resolves a relative path against the
current folder of whoever queries the view, not against the database file), so when the project
folder moves, the views still read the old place. Each view's glob is recorded in
`_assetflow.meta` beside its statement; a writer compares them with the globs of the project as
it is now (one small query, no CSV sniffing) and recreates the views that differ, and `status`
reports them.
"""
from __future__ import annotations

from dataclasses import dataclass

from assetflow.engines.base import SourceView
from assetflow.engines.duckdb_sql import file_reader, sql_string
from assetflow.engines.duckdb_state import run

_STATEMENT = "view:"
_GLOB = "view-glob:"


@dataclass(frozen=True, slots=True)
class MovedView:
    """A source view that reads `reads`, where the project now has the files at `glob`."""

    name: str
    reads: str | None          # None: the view was created before globs were recorded
    glob: str


def ensure_source_view(cur, source: SourceView, transaction) -> None:
    """Create or replace the view over the files when its statement changed. The CSV dialect and
    columns are sniffed here, once per run, not on every query of the view."""
    reader = file_reader(cur, source.glob)
    statement = f"CREATE OR REPLACE VIEW {source.key.quoted()} AS SELECT * FROM {reader}"
    name = str(source.key)
    stored = dict(run(cur, "SELECT key, value FROM _assetflow.meta WHERE key IN (?, ?)",
                      [_STATEMENT + name, _GLOB + name]))
    exists = run(cur, "SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
                 [source.key.schema, source.key.name])[0][0]
    if exists and stored.get(_STATEMENT + name) == statement and stored.get(_GLOB + name) == source.glob:
        return
    transaction(cur, lambda: (
        run(cur, statement),
        run(cur, "INSERT OR REPLACE INTO _assetflow.meta VALUES (?, ?), (?, ?)",
            [_STATEMENT + name, statement, _GLOB + name, source.glob])))


def moved_source_views(cur, sources: list[SourceView]) -> list[MovedView]:
    """The sources whose view was created for files at another place (the project moved, or the
    store predates recorded globs); a source that has no view yet is not listed."""
    if not sources:
        return []
    rows = run(cur, "SELECT key, value FROM _assetflow.meta WHERE starts_with(key, 'view')")
    stored = dict(rows)
    moved = []
    for source in sources:
        name = str(source.key)
        statement, glob = stored.get(_STATEMENT + name), stored.get(_GLOB + name)
        if statement is None or glob == source.glob:
            continue
        # A store from before globs were recorded: the glob is the reader's first argument.
        if glob is None and f"({sql_string(source.glob)}" in statement:
            continue
        moved.append(MovedView(name, glob, source.glob))
    return moved
