"""What a dbt model's Jinja sees: `ref`, `source`, `config`, `var`, `env_var`, `this`, `target`,
`is_incremental`, `adapter.dispatch`, and stand-ins that record what cannot be converted.

One `RenderLog` collects what one file's rendering did (configs, refs, problems); the callables
here are made per render and close over it, so nothing is shared between files.
"""
from __future__ import annotations

import datetime
import itertools
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from assetflow.dbt import crossdb
from assetflow.dbt.report import Finding
from assetflow.errors import ProjectError

OPEN, CLOSE = "\u27e6", "\u27e7"       # around a model reference resolved after every model is rendered
SENTINEL = re.compile(OPEN + r"(ref|schema|alias):([^" + CLOSE + r"]+)" + CLOSE)
_MISSING = object()


def jinja_position(default: str) -> tuple[str, int | None]:
    """File and line of the innermost Jinja template being executed (a model, or a macro file)."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            return template.name, template.get_corresponding_lineno(frame.f_lineno)
        frame = frame.f_back
    return default, None


def jinja_location(default: str) -> str:
    path, line = jinja_position(default)
    return f"{path}:{line}" if line else path


def _undefined(message: str, default: str, hint: str) -> ProjectError:
    path, line = jinja_position(default)
    return ProjectError(message, path=path, line=line, hint=hint)


class MacroReturn(Exception):
    """dbt's `{{ return(value) }}`: the macro's result is `value`, not its text."""

    def __init__(self, value: Any):
        super().__init__()
        self.value = value


@dataclass
class RenderLog:
    """What rendering one file did. Mutable, but lives only for that one render."""

    file: str
    config: dict[str, Any] = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    def problem(self, what: str, suggestion: str, effect: str = "skipped") -> str:
        self.problems.append(Finding(jinja_location(self.file), what, suggestion, effect))
        return f"/* not converted: {what} */"


@dataclass(frozen=True)
class Relation:
    """A dbt Relation as models use it: prints as the relation, exposes its parts."""

    text: str
    database: str | None
    schema_text: str
    identifier_text: str

    def __str__(self) -> str:
        return self.text

    @property
    def schema(self) -> str:
        return self.schema_text

    @property
    def identifier(self) -> str:
        return self.identifier_text

    name = identifier
    table = identifier

    def render(self) -> str:
        return self.text

    def include(self, **_: Any) -> Relation:
        return self


def model_relation(model: str, database: str) -> Relation:
    """A model's relation before names are final: placeholders replaced once every model's config is known."""
    return Relation(f"{OPEN}ref:{model}{CLOSE}", database, f"{OPEN}schema:{model}{CLOSE}", f"{OPEN}alias:{model}{CLOSE}")


@dataclass(frozen=True)
class Namespace:
    """`dbt_utils.x(...)`, `adapter.x(...)`: each attribute is a macro, unknown ones are recorded."""

    label: str
    known: Mapping[str, Callable[..., Any]]
    on_unknown: Callable[[str], Callable[..., Any]]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        found = self.known.get(name)
        return found if found is not None else self.on_unknown(name)


@dataclass(frozen=True)
class Target:
    """dbt's `target` for the DuckDB target the converted project runs on."""

    name: str = "dev"
    schema: str = "main"
    database: str = "warehouse"
    type: str = "duckdb"
    threads: int = 4
    profile_name: str = "assetflow"
    target_name: str = "dev"
    path: str = "warehouse.duckdb"


class ConfigCall:
    """`{{ config(materialized='table') }}` records settings; `config.get('x')` reads them."""

    def __init__(self, log: RenderLog, base: Mapping[str, Any]):
        self._log = log
        self._base = base

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        for arg in args:
            if isinstance(arg, Mapping):
                self._log.config.update(arg)
        self._log.config.update(kwargs)
        return ""

    def get(self, key: str, default: Any = None) -> Any:
        return self._log.config.get(key, self._base.get(key, default))

    def require(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise _undefined(f"config '{key}' is required here but not set", self._log.file,
                             f"set {key} in config(...) or in dbt_project.yml")
        return value

    def set(self, key: str, value: Any) -> str:
        self._log.config[key] = value
        return ""


@dataclass(frozen=True)
class Names:
    """What references resolve to, known before any model renders."""

    project: str
    models: frozenset[str]                 # enabled models, by dbt name
    disabled: frozenset[str]
    seeds: Mapping[str, str]               # seed name -> asset name
    sources: Mapping[tuple[str, str], str] # (source, table) -> relation the SQL reads
    vars: Mapping[str, Any]                # --var over project-scoped over global project vars
    env: Mapping[str, str]
    packages: frozenset[str]
    target: Target


def build_context(names: Names, log: RenderLog, this_model: str | None, base_config: Mapping[str, Any]
                  ) -> dict[str, Any]:
    """The names a model's (or macro's) Jinja may use, closing over this render's `log`."""
    def var(name: str, default: Any = _MISSING) -> Any:
        if name in names.vars:
            return names.vars[name]
        if default is not _MISSING:
            return default
        raise _undefined(f"required var '{name}' is not set", log.file,
                         f"pass --var {name}=VALUE, or set it under vars: in dbt_project.yml")

    def env_var(name: str, default: Any = _MISSING) -> Any:
        if name in names.env:
            return names.env[name]
        if default is not _MISSING:
            return default
        raise _undefined(f"environment variable '{name}' is not set and has no default", log.file,
                         f"set {name}, or write env_var('{name}', 'default')")

    ctx: dict[str, Any] = {
        "ref": lambda *args, **kwargs: _ref(names, log, args, kwargs),
        "source": lambda source_name, table_name: _source(names, log, source_name, table_name),
        "var": var, "env_var": env_var, "config": ConfigCall(log, base_config), "target": names.target,
        "this": model_relation(this_model, names.target.database) if this_model else None,
        "is_incremental": lambda: False, "should_full_refresh": lambda: False,
        "execute": True, "project_name": names.project,
        "log": lambda *_a, **_k: "", "print": lambda *_a, **_k: "",
        "return": _return, "tojson": json.dumps, "fromjson": json.loads, "zip": zip,
        **crossdb.MACROS, **_stand_ins(log)}
    ctx["adapter"] = Namespace("adapter", {"dispatch": lambda name, macro_namespace=None: _dispatch(ctx, log, name)},
                               lambda n: _unsupported(log, f"adapter.{n}() (a database call at compile time)",
                                                      "write the SQL it would produce by hand"))
    for package in names.packages:
        ctx[package] = _package(package, log)
    return ctx


def _unsupported(log: RenderLog, label: str, suggestion: str) -> Callable[..., str]:
    return lambda *_a, **_k: log.problem(f"{label} is not supported", suggestion)


def _stand_ins(log: RenderLog) -> dict[str, Any]:
    """dbt names that need a database or a run at compile time, or that have a plain stand-in."""
    def raise_compiler_error(message: str = "") -> str:
        return log.problem(f"the model raises a compiler error: {message}", "fix the condition it checks")

    return {
        "modules": Namespace("modules", {"datetime": datetime, "re": re, "itertools": itertools},
                             lambda n: _unsupported(log, f"modules.{n}", "use datetime, re or itertools")),
        "exceptions": Namespace("exceptions", {"raise_compiler_error": raise_compiler_error,
                                               "warn": lambda *_a, **_k: ""},
                                lambda n: _unsupported(log, f"exceptions.{n}", "remove the call")),
        "run_query": _unsupported(log, "run_query() (a query at compile time)",
                                  "compute the values in SQL, or hard-code them with {% set %}"),
        "statement": _unsupported(log, "statement()", "write the query into the model's SQL"),
        "load_result": _unsupported(log, "load_result()", "write the query into the model's SQL"),
        "run_started_at": _RunStartedAt(log),
        "dbt": Namespace("dbt", crossdb.MACROS, lambda n: _unsupported(
            log, f"dbt.{n}", "write the DuckDB SQL it stands for, or define the macro in macros/")),
    }


def _source(names: Names, log: RenderLog, source_name: str, table_name: str) -> Any:
    relation = names.sources.get((source_name, table_name))
    if relation is None:
        return log.problem(f"source('{source_name}', '{table_name}') is not declared in any sources: yml",
                           "declare it under sources: in a .yml file, or read the table directly")
    schema, _, name = relation.rpartition(".")
    return Relation(relation, None, schema, name)


def _ref(names: Names, log: RenderLog, args: tuple[str, ...], kwargs: Mapping[str, Any]) -> Any:
    if len(args) == 2:
        package, model = args
        if package != names.project:
            return log.problem(f"ref('{package}', '{model}') names a model of package {package}",
                               "copy that model into this project, or declare its table as a source")
    elif len(args) == 1:
        model = args[0]
    else:
        return log.problem(f"ref{args!r} takes a model name (and optionally a project name)", "write ref('model')")
    if model in names.seeds:
        schema, _, name = names.seeds[model].partition(".")
        return Relation(names.seeds[model], None, schema, name)
    if model in names.models:
        log.refs.append(model)
        return model_relation(model, names.target.database)
    if model in names.disabled:
        return log.problem(f"ref('{model}') names a disabled model", f"enable {model}, or remove the reference")
    close = ", ".join(sorted(m for m in names.models | set(names.seeds) if m.startswith(model[:3]))[:3])
    return log.problem(f"ref('{model}'): no model or seed is named {model}",
                       f"did you mean {close}?" if close else "check the name")


def _return(value: Any) -> None:
    raise MacroReturn(value)


def _dispatch(ctx: Mapping[str, Any], log: RenderLog, name: str) -> Callable[..., Any]:
    """`adapter.dispatch('m')`: the project's `duckdb__m`, else `default__m`, else dbt's own `m`."""
    for candidate in (f"duckdb__{name}", f"default__{name}"):
        if candidate in ctx:
            return ctx[candidate]
    if name in crossdb.MACROS:
        return crossdb.MACROS[name]
    return lambda *_a, **_k: log.problem(f"adapter.dispatch('{name}') finds no duckdb__{name} or default__{name}",
                                         f"define default__{name} in macros/")


def _package(package: str, log: RenderLog) -> Namespace:
    def unknown(macro: str) -> Callable[..., str]:
        return lambda *_a, **_k: log.problem(
            f"{package}.{macro}() is a macro of package {package}",
            f"replace it with the SQL it generates (dbt compile shows it), or copy the macro into macros/")
    return Namespace(package, {}, unknown)


class _RunStartedAt:
    """`run_started_at` would bake the import's time into the SQL: recorded instead."""

    def __init__(self, log: RenderLog):
        self._log = log

    def __str__(self) -> str:
        return self._log.problem("run_started_at (the time of the dbt run)", "use current_timestamp in SQL",
                                 effect="skipped")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *_a, **_k: str(self)
