"""The asset model: keys, settings, specs, and the `@asset` decorator users write.

Everything here is an immutable value. The loader builds these; later stages only read them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Mapping

from assetflow.checks import CheckSpec
from assetflow.durations import Duration
from assetflow.partitions import Partitioning

if TYPE_CHECKING:
    import logging


@dataclass(frozen=True, slots=True, order=True)
class AssetKey:
    """`schema.name`, lower-cased because DuckDB compares identifiers case-insensitively."""

    schema: str
    name: str

    @classmethod
    def of(cls, schema: str, name: str) -> AssetKey:
        return cls(schema.lower(), name.lower())

    @classmethod
    def parse(cls, text: str) -> AssetKey:
        """`schema.name`, or a bare `name` in schema `main`."""
        schema, _, name = text.rpartition(".")
        return cls.of(schema or "main", name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"

    def quoted(self) -> str:
        """The relation name as SQL, always quoted so reserved words and unicode names work."""
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Kind(str, Enum):
    TABLE = "table"
    VIEW = "view"
    PARTITIONED = "partitioned"
    SEED = "seed"


@dataclass(frozen=True, slots=True)
class Reference:
    """A table name as the user wrote it (split into parts), where, and for Python, which parameter."""

    parts: tuple[str, ...]
    line: int | None = None
    param: str | None = None

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class AssetSettings:
    kind: Kind = Kind.TABLE
    partitioning: Partitioning | None = None
    retries: int | None = None
    retry_delay: float | None = None
    tags: tuple[str, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    deps: tuple[str, ...] = ()
    lookback: int = 0
    batch_size: int = 1
    max_age: Duration | None = None     # stale once the last good build is this old (latest partition)
    retry_on: tuple[str, ...] = ()            # exception class names worth a retry; empty: every transient one
    description: str | None = None      # documentation: what the asset holds (metadata only)
    owner: str | None = None            # who to ask about it: a person, team or address
    columns: tuple[tuple[str, str], ...] = ()   # (column, description), in the order written
    timeout: Duration | None = None     # an attempt that runs longer is cancelled (a transient failure)


@dataclass(frozen=True, slots=True)
class SqlBody:
    sql: str                                  # the query text as written (header blanked out)
    file_reads: tuple[str, ...] = ()          # files the query reads directly
    template: str = ""                        # sentinel template from sql.analyze (fast compile)
    placeholders: tuple[str, ...] = ()        # `$name` parameters the query uses
    variables: tuple[str, ...] = ()           # variables it reads with getvariable() (`*`: any)
    macros: tuple[str, ...] = ()              # project macros it uses, each after those it calls
    macro_refs: int = 0                       # trailing references that come from table macros' bodies


@dataclass(frozen=True, slots=True)
class PythonBody:
    module: str                               # import name of the loaded module
    function: str
    params: tuple[str, ...]                   # upstream parameters, in signature order
    context_param: str | None = None


@dataclass(frozen=True, slots=True)
class SeedOptions:
    """How to read a CSV seed, from `[seeds."schema.name"]` in assetflow.toml; None: DuckDB detects it.

    `column_types` overrides the detected type of the columns it names (dbt's `+column_types`);
    the other columns are still detected.
    """

    column_types: tuple[tuple[str, str], ...] = ()
    delimiter: str | None = None
    header: bool | None = None
    quote: str | None = None
    escape: str | None = None
    null: str | None = None
    skip: int | None = None
    date_format: str | None = None
    timestamp_format: str | None = None


@dataclass(frozen=True, slots=True)
class SeedBody:
    file: str                                 # path relative to the project root
    options: SeedOptions = SeedOptions()


Body = SqlBody | PythonBody | SeedBody


@dataclass(frozen=True, slots=True)
class AssetSpec:
    key: AssetKey
    settings: AssetSettings
    body: Body
    path: str                                 # defining file, relative to the project root
    line: int
    code_version: str
    references: tuple[Reference, ...] = ()    # upstream tables and parameters, as written

    @property
    def kind(self) -> Kind:
        return self.settings.kind

    @property
    def check_references(self) -> tuple[Reference, ...]:
        """Assets that `relationships(...)` checks read. Not upstreams: the check runs once both
        are built (see steps.StepRunner)."""
        return tuple(Reference(parts=tuple(c.ref_asset.split(".")), line=self.line)
                     for c in self.settings.checks if c.ref_asset)

    @property
    def partitioning(self) -> Partitioning | None:
        return self.settings.partitioning


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A table or file glob that exists outside the project."""

    name: str
    table: str | None = None
    glob: str | None = None
    freshness: str | None = None
    path: str = "assetflow.toml"


# ---------------------------------------------------------------------------- error class names

def exception_names(error: type[BaseException]) -> tuple[str, ...]:
    """The names `retry_on` matches a class by, its own bare name first: along its MRO, each class's
    bare name and its `module.qualname` (so a subclass of ConnectionError matches "ConnectionError")."""
    return tuple(name for cls in error.__mro__ for name in (cls.__name__, f"{cls.__module__}.{cls.__qualname__}"))


def retry_on_name(error: Any) -> Any:
    """An exception class given to `@asset(retry_on=[...])` as the name the header would use."""
    if isinstance(error, type) and issubclass(error, BaseException):
        return error.__name__ if error.__module__ == "builtins" else f"{error.__module__}.{error.__qualname__}"
    return error


# ---------------------------------------------------------------------------- the decorator

@dataclass(frozen=True)
class AssetDecl:
    """What `@asset` attaches to a function; validated by the loader, which knows the file."""

    function: Callable[..., Any]
    settings: dict[str, Any]
    name: str | None = None
    schema: str | None = None
    deps: Any = None
    code_version: str | None = None


def asset(fn: Callable[..., Any] | None = None, *, name: str | None = None, schema: str | None = None,
          deps: Any = None, code_version: str | None = None, **settings: Any):
    """Declare a Python asset: `@asset` or `@asset(partition_by="day", ...)`.

    Parameters name upstream assets (`schema__name` or a bare name); `deps={"param": "schema.name"}`
    says it explicitly, `deps=["schema.name"]` orders after assets read by other means.
    `retry_on=[ConnectionError, "TimeoutError"]` (classes or names) retries only those errors.
    """
    if isinstance(settings.get("retry_on"), (list, tuple)):   # classes are accepted as well as their names
        settings["retry_on"] = [retry_on_name(e) for e in settings["retry_on"]]

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__assetflow__ = AssetDecl(func, dict(settings), name, schema, deps, code_version)  # type: ignore[attr-defined]
        return func

    return wrap(fn) if fn is not None else wrap


@dataclass
class AssetContext:
    """What a Python asset receives as `context`: its partition, window, a logger and a connection."""

    asset: str
    partition: str | None
    start: Any
    end: Any
    log: logging.Logger
    con: Any = field(default=None, repr=False)
    lookback_start: Any = None      # the start of the earliest partition `lookback` widens the read to
    vars: Mapping[str, Any] = field(default_factory=dict)   # project variables ([vars], --var), by lower-cased name
