"""Project variables: `[vars]` in assetflow.toml and `--var NAME=VALUE` on the command line.

SQL reads them with DuckDB's `getvariable('NAME')`; the engine sets each one with `SET VARIABLE`
on every connection that builds. A variable's value is part of the code version of the assets
that read it, so changing it makes exactly those stale.

Pure: values in, values and SQL literals out (no database, no sqlglot).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Mapping, Sequence

from assetflow.errors import ProjectError, UsageError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
SCALARS = (str, int, float, bool, date, datetime, time)
DEFINE_HINT = "define it under [vars] in assetflow.toml (NAME = value) or pass --var NAME=VALUE"


@dataclass(frozen=True, slots=True)
class Variables:
    """Every defined variable, by lower-cased name (DuckDB's names are case-insensitive), sorted."""

    values: tuple[tuple[str, Any], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.values)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def merged(self, overrides: Mapping[str, Any]) -> Variables:
        """These variables with `overrides` (from --var) taking precedence."""
        merged = self.as_dict()
        merged.update({name.lower(): value for name, value in overrides.items()})
        return Variables(tuple(sorted(merged.items())))

    def version_text(self, names: Sequence[str]) -> str:
        """What the code version of an asset reading `names` hashes: each name and its value, typed
        (`5` and `'5'` read differently). `*` (a name computed at run time) reads them all."""
        values = self.as_dict()
        wanted = sorted(values) if "*" in names else sorted(set(names))
        return repr([(name, type(values.get(name)).__name__, repr(values.get(name))) for name in wanted])

    def literals(self) -> dict[str, str]:
        """Each variable's value as a DuckDB literal, by name."""
        return {name: literal(value) for name, value in self.values}

    def statements(self) -> tuple[str, ...]:
        """The `SET VARIABLE` statements that give a connection these values."""
        return tuple(f"SET VARIABLE {name} = {literal(value)}" for name, value in self.values)


def parse_vars(raw: Any, line_of) -> Variables:
    """`[vars]` (already `${VAR}`-expanded) -> Variables; `line_of(key)` finds a key's line."""
    if not isinstance(raw, dict):
        raise ProjectError("[vars] must be a table of NAME = value", path="assetflow.toml", line=line_of("vars"))
    out: dict[str, Any] = {}
    for name, value in raw.items():
        where = dict(path="assetflow.toml", line=line_of(name))
        if not NAME.match(name):
            raise ProjectError(f"variable name '{name}' is not a plain identifier", **where,
                               hint="use letters, digits and underscores, starting with a letter")
        if name.lower() in out:
            raise ProjectError(f"variable '{name}' is defined twice (names are case-insensitive)", **where)
        _check_value(value, f"vars.{name}", where)
        out[name.lower()] = value
    return Variables(tuple(sorted(out.items())))


def _check_value(value: Any, key: str, where: dict) -> None:
    items = value if isinstance(value, list) else [value]
    if isinstance(value, dict) or not all(isinstance(v, SCALARS) for v in items):
        raise ProjectError(f"{key} must be a string, number, boolean, date or time, or a list of them",
                           **where, hint="a table is not a variable value")
    kinds = {type(v) for v in items}
    if isinstance(value, list) and len(kinds) > 1 and not kinds <= {int, float}:
        raise ProjectError(f"{key} mixes {' and '.join(sorted(k.__name__ for k in kinds))} in one list",
                           **where, hint="a list variable holds values of one type")


def parse_overrides(texts: Sequence[str]) -> dict[str, Any]:
    """`--var NAME=VALUE` (repeatable) -> {name: value}. VALUE is read as a TOML value when it is
    one (`5`, `2.5`, `true`, `2024-01-01`, `"quoted text"`, `[1, 2]`), else as plain text."""
    out: dict[str, Any] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or not NAME.match(name):
            raise UsageError(f"--var {text!r} is not NAME=VALUE", hint="for example --var start_date=2024-01-01")
        value = _read_value(value)
        try:
            _check_value(value, f"--var {name}", {})
        except ProjectError as exc:
            raise UsageError(exc.message, hint='quote the whole value to pass text: --var \'name="..."\'') from None
        out[name.lower()] = value
    return out


def _read_value(text: str) -> Any:
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    items = value if isinstance(value, list) else [value]
    return value if not isinstance(value, dict) and all(isinstance(v, SCALARS) for v in items) else text


def literal(value: Any) -> str:
    """A DuckDB SQL literal for a variable value.

    >>> literal("it's"), literal(5), literal(True), literal(date(2024, 1, 2)), literal([1, 2])
    ("'it''s'", '5', 'true', "DATE '2024-01-02'", '[1, 2]')
    """
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) \
            else f"'{value}'::DOUBLE"
    if isinstance(value, datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return f"{kind} '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, time):
        return f"TIME '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def undefined_error(name: str, path: str, line: int | None, defined: Variables) -> ProjectError:
    from assetflow.names import suggest
    hint = suggest(name, [n for n, _ in defined.values])
    return ProjectError(f"getvariable('{name}') reads a variable that is not defined", path=path, line=line,
                        hint=(hint + " Otherwise " if hint else "") + DEFINE_HINT)


def code_version_part(reads: Sequence[Any], defined: Variables, path: str) -> str:
    """The part of an asset's code version that its variable reads give (`reads`: Parameters, the
    name and line of each `getvariable`), or "" when it reads none; an undefined one is an error."""
    if not reads:
        return ""
    known = {name for name, _ in defined.values}
    for read in reads:
        if read.name != "*" and read.name not in known and getattr(read, "required", True):
            raise undefined_error(read.name, path, read.line, defined)
    return defined.version_text([read.name for read in reads])


@dataclass(frozen=True, slots=True)
class Read:
    """A variable an asset reads, and the file line of its first read."""

    name: str
    line: int | None
    required: bool = True          # False: `context.vars.get("x", default)` copes without it


_GETVARIABLE = re.compile(r"getvariable\s*\(\s*'([^']*)'", re.IGNORECASE)


def python_reads(function: Any) -> tuple[Read, ...]:
    """The variables a Python asset reads: `context.vars["x"]`, `context.vars.get("x")`, and
    `getvariable('x')` in SQL text it passes to `context.con`; `*` for `context.vars` used any
    other way (iterated, passed on), which may read them all."""
    import ast
    import inspect
    import textwrap
    try:
        lines, first = inspect.getsourcelines(function)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError):
        return ()
    found: dict[str, Read] = {}
    seen: set[int] = set()

    def add(name: str, node: Any, required: bool) -> None:
        known = found.get(name.lower())
        if known is None or (required and not known.required):
            found[name.lower()] = Read(name.lower(), first + node.lineno - 1, required)
    for node in ast.walk(tree):
        name = _read_name(node)
        if name is not None:
            seen.add(id(node.value if isinstance(node, ast.Subscript) else node.func.value))
            add(name, node, isinstance(node, ast.Subscript))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in _GETVARIABLE.finditer(node.value):
                add(match.group(1), node, True)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "vars" and id(node) not in seen:
            add("*", node, False)
    return tuple(found[name] for name in sorted(found))


def _read_name(node: Any) -> str | None:
    """"x" of `<anything>.vars["x"]` or `<anything>.vars.get("x", ...)`."""
    import ast
    if isinstance(node, ast.Subscript) and _is_vars(node.value) and isinstance(node.slice, ast.Constant) \
            and isinstance(node.slice.value, str):
        return node.slice.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
            and _is_vars(node.func.value) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _is_vars(node: Any) -> bool:
    import ast
    return isinstance(node, ast.Attribute) and node.attr == "vars"
