"""`macros/*.sql`: DuckDB CREATE MACRO statements (scalar and table macros) shared by the assets.

An asset that calls a macro has the macro's text in its code version (and the text of every macro
that macro calls), so editing a macro makes exactly its users stale; the tables a table macro's
body names are its users' upstreams. The engine creates the macros an asset uses before it
builds (sqlglot reads the files, in `sql_macros`, only when one is new or changed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assetflow.assets import Reference
from assetflow.errors import ProjectError

MACROS_DIR = "macros"


@dataclass(frozen=True, slots=True)
class Macro:
    name: str                               # lower-cased, without its schema
    schema: str | None
    path: str                               # macros/x.sql
    line: int
    statement: str                          # CREATE OR REPLACE MACRO ..., as it runs
    normalized: str                         # what users' code versions hash
    table: bool
    functions: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True)
class Macros:
    """Every project macro, by name."""

    by_name: dict[str, Macro]

    def used_by(self, functions: tuple[str, ...]) -> tuple[Macro, ...]:
        """The macros a query calling `functions` uses, with the macros they call, each after the
        macros it calls (the order DuckDB needs to create them: it binds a body on creation)."""
        out: dict[str, Macro] = {}

        def visit(name: str, trail: tuple[str, ...]) -> None:
            macro = self.by_name.get(name)
            if macro is None or name in out:
                return
            if name in trail:
                cycle = " -> ".join((*trail[trail.index(name):], name))
                raise ProjectError(f"macros call each other in a cycle: {cycle}", path=macro.path,
                                   line=macro.line, hint="a macro cannot call itself, directly or through others")
            for called in macro.functions:
                visit(called, (*trail, name))
            out[name] = macro
        for name in sorted(functions):
            visit(name, ())
        return tuple(out.values())

    def statements(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """What creates these macros (the ones `used_by` gave, in its order), with their schemas."""
        out: list[str] = []
        for name in names:
            macro = self.by_name[name]
            if macro.schema and f"CREATE SCHEMA IF NOT EXISTS {macro.schema}" not in out:
                out.append(f"CREATE SCHEMA IF NOT EXISTS {macro.schema}")
            out.append(macro.statement)
        return tuple(out)


def version_text(used: tuple[Macro, ...]) -> str:
    return repr([(m.name, m.normalized) for m in used])


def load_macros(root: Path, dialect: str, cache: Any) -> Macros:
    """Every `macros/**/*.sql` file's macros; `cache` (the parse cache) keeps what each file held,
    by its content, so sqlglot reads a macro file only when it is new or changed."""
    folder = root / MACROS_DIR
    if not folder.is_dir():
        return Macros({})
    from assetflow.project import fingerprint
    found: dict[str, Macro] = {}
    for path in sorted(folder.rglob("*.sql")):
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        key = f"macros:{fingerprint.content_hash(data)}:{dialect}"
        entry = cache.entries.get(key)
        if entry is None:
            entry = _analyze(data, dialect, rel, cache.syntax_check)
            cache.set(key, entry)
        for fields in entry:
            macro = Macro(fields[0], fields[1], rel, *fields[2:6], tuple(fields[6]),
                          tuple(Reference(tuple(parts), line) for parts, line in fields[7]))
            if macro.name in found:
                first = found[macro.name]
                raise ProjectError(f"macro {macro.name} is defined twice: in {first.path}:{first.line} and here",
                                   path=rel, line=macro.line, hint="rename one of them or delete it")
            found[macro.name] = macro
    return Macros(found)


def _analyze(data: bytes, dialect: str, rel: str, syntax_check) -> list:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProjectError("the file is not UTF-8 text", path=rel, hint="save it as UTF-8") from None
    problem = syntax_check(text) if syntax_check is not None else None
    if problem is not None:
        raise ProjectError(problem[0].replace("this query", "this macro file"), path=rel, line=problem[1],
                           hint="fix the SQL; DuckDB's parser rejects it as written")
    from assetflow.project.sql_macros import analyze_macros
    return [[m.name, m.schema, m.line, m.statement, m.normalized, m.table, list(m.functions),
             [[list(r.parts), r.line] for r in m.references]] for m in analyze_macros(text, dialect, rel)]

