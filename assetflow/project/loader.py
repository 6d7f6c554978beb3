"""Project folder -> Project: discover assets, parse them (with a content-hash cache), validate.

Nothing here touches a database. SQL parsing goes through `sql`; Python assets through `pyassets`.
"""
from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from assetflow.project import asset_rules, fingerprint, variables as project_vars
from assetflow.project.macros import Macros, load_macros, version_text as macros_version
from assetflow.project import header
from assetflow.project.cache import JsonCache
from assetflow.asset_settings import parse_settings
from assetflow.assets import AssetKey, AssetSettings, AssetSpec, Kind, Reference, SeedBody, SeedOptions, SqlBody
from assetflow.project.config import CONFIG_FILE, ProjectConfig, load_config
from assetflow.project.seed_options import SeedConfig
from assetflow.errors import ProjectError
from assetflow.names import suggest
from assetflow.project.header import Parameter, QueryFacts

ASSETS_DIR = "assets"
SEEDS_DIR = "seeds"
CHECKS_DIR = "checks"
PARSE_CACHE_FORMAT = 4          # bump when QueryFacts changes shape or meaning (4: variables, functions called)
CACHE_DIR = ".assetflow"
SEED_SUFFIXES = (".csv", ".parquet")


class SyntaxCheck(Protocol):
    """The project dialect's own engine judging a query's syntax (engines.syntax_checker): the
    loader is below the engines, so the caller hands it in."""

    name: str                       # which parser judged: a verdict is cached under this name

    def __call__(self, sql: str) -> tuple[str, int | None] | None:
        """(message, line) when the engine's parser rejects `sql`, else None."""


@dataclass(frozen=True, slots=True)
class CustomCheck:
    """A `checks/NAME.sql` query that returns failing rows; it checks the assets it reads."""

    name: str
    path: str
    sql: str
    severity: str
    references: tuple[Reference, ...]
    template: str = ""              # the query with sentinels for the tables it reads (sql.analyze)
    file_reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class Project:
    config: ProjectConfig
    assets: tuple[AssetSpec, ...]
    functions: Mapping[AssetKey, Callable[..., Any]] = field(default_factory=dict)
    checks: tuple[CustomCheck, ...] = ()
    macros: Macros = field(default_factory=lambda: Macros({}))

    @property
    def root(self) -> Path:
        return self.config.root

    def asset(self, key: AssetKey) -> AssetSpec:
        return self._by_key[key]

    @property
    def _by_key(self) -> dict[AssetKey, AssetSpec]:
        cached = self.__dict__.get("_index")
        if cached is None:
            cached = {a.key: a for a in self.assets}
            object.__setattr__(self, "_index", cached)
        return cached


def load_project(root: Path, environ: Mapping[str, str] | None = None,
                 syntax_checker: Callable[[str], SyntaxCheck | None] | None = None,
                 variables: Mapping[str, Any] | None = None) -> Project:
    """Load and validate the project at `root`. `environ` gives `${VAR}` in assetflow.toml its
    values (default: this process's environment); `syntax_checker(dialect)` gives the engine's own
    syntax check for the project's dialect (None where there is none; then sqlglot alone judges);
    `variables` (from --var) override and extend [vars]."""
    config = load_config(root, environ)
    if variables:
        config = replace(config, vars=config.vars.merged(variables))
    assets_dir = root / ASSETS_DIR
    if not assets_dir.is_dir():
        raise ProjectError(f"the project has no {ASSETS_DIR}/ folder", path=ASSETS_DIR,
                           hint=f"create {root / ASSETS_DIR} and put .sql or .py asset files in it")
    cache = ParseCache(root / CACHE_DIR / f"parse-cache-v{PARSE_CACHE_FORMAT}-{_sqlglot_version()}.json",
                       syntax_checker(config.dialect) if syntax_checker else None)
    specs: list[AssetSpec] = []
    functions: dict[AssetKey, Callable[..., Any]] = {}
    headers = _Headers()
    files = _asset_files(assets_dir)
    base = str(assets_dir)            # string paths: pathlib costs more than reading a small file
    sql_files = {rel: _read_sql(os.path.join(base, rel), f"{ASSETS_DIR}/{rel}", headers) for rel, _ in files
                 if rel.endswith(".sql")}
    _parse_new(cache, sql_files.values(), config.dialect)
    macros = load_macros(root, config.dialect, cache)
    for rel, schema in files:
        name = rel.rpartition("/")[2]
        if rel.endswith(".sql"):
            specs.append(_sql_spec(sql_files[rel], name[:-len(".sql")], schema, config, cache,
                                   headers.settings_text, macros))
        elif rel.endswith(".py") and not name.startswith("_"):
            from assetflow.project import pyassets     # only projects with Python assets pay for it
            path = assets_dir / rel
            for spec, function in pyassets.load_python_file(path, relative(path, root), schema):
                spec = _python_reads(spec, function, config)
                specs.append(spec)
                functions[spec.key] = function
    specs.extend(load_seeds(root, config.seeds))
    checks = load_custom_checks(root, config.dialect, cache)
    cache.save()
    asset_rules.check_names(specs)
    _check_unique(specs, config)
    return Project(config=config, assets=tuple(sorted(specs, key=lambda s: s.key)), functions=functions,
                   checks=checks, macros=macros)


def _asset_files(assets_dir: Path) -> list[tuple[str, str]]:
    """(path relative to assets/, schema) of every .sql and .py file, sorted by path.

    os.scandir rather than Path.rglob: a thousand files are listed in a few milliseconds, and the
    schema (the first folder) falls out of the walk.
    """
    found: list[tuple[str, str]] = []
    stack = [("", None)]
    while stack:
        prefix, schema = stack.pop()
        with os.scandir(assets_dir / prefix if prefix else assets_dir) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir():
                    stack.append((rel + "/", schema or entry.name))
                elif entry.name.endswith((".sql", ".py")) and entry.is_file():
                    found.append((rel, schema or "main"))
    return sorted(found, key=lambda item: item[0].split("/"))


def _python_reads(spec: AssetSpec, function: Callable[..., Any], config: ProjectConfig) -> AssetSpec:
    """A Python asset whose function reads variables (`context.vars`) has their values in its code
    version, as a SQL asset has."""
    reads = project_vars.code_version_part(project_vars.python_reads(function), config.vars, spec.path)
    if not reads:
        return spec
    return replace(spec, code_version=fingerprint.with_variables(spec.code_version, reads))


def load_custom_checks(root: Path, dialect: str, cache: ParseCache) -> tuple[CustomCheck, ...]:
    folder = root / CHECKS_DIR
    if not folder.is_dir():
        return ()
    checks = []
    for path in sorted(folder.rglob("*.sql")):
        rel = relative(path, root)
        data = path.read_bytes()
        parsed = header.split_header(data.decode("utf-8", errors="replace"), rel)
        unknown = set(parsed.settings) - {"severity"}
        if unknown:
            raise ProjectError(f"unknown check setting '{sorted(unknown)[0]}'", path=rel, line=parsed.header_line,
                               hint='a check file header takes only severity = "error" | "warn"')
        severity = parsed.settings.get("severity", "error")
        if severity not in ("error", "warn"):
            raise ProjectError(f"severity must be error or warn, not {severity!r}", path=rel, line=parsed.header_line)
        facts = _facts(cache, fingerprint.content_hash(data), parsed.query, dialect, rel)
        if not facts.references:
            raise ProjectError("this check reads no asset", path=rel, hint="a check selects failing rows from an asset")
        checks.append(CustomCheck(path.stem, rel, parsed.query, severity, facts.references,
                                  facts.template, facts.file_reads))
    return tuple(checks)


def _facts(cache: ParseCache, digest: str, query: str, dialect: str, rel: str) -> QueryFacts:
    """The query's parse facts, from the cache when this file (by content) was parsed and judged
    before. The engine's syntax check runs first, so its verdict, not sqlglot's, names a syntax
    error; each runs only when the cache lacks its result (an upgraded DuckDB re-judges files
    without parsing them again)."""
    key = digest + dialect
    facts = cache.get(key)
    if facts is not None and cache.judged(key):
        return facts
    check = cache.syntax_check
    problem = check(query) if check is not None else None
    if problem is not None:
        raise ProjectError(problem[0], path=rel, line=problem[1],
                           hint="fix the SQL; the project dialect's engine rejects it as written")
    if facts is None:
        from assetflow.project import sql                     # sqlglot loads only when a file is new or changed
        sql.check_dialect(dialect)
        facts = sql.analyze(query, dialect, rel)
    cache.put(key, facts, check.name if check is not None else None)
    return facts


def _sqlglot_version() -> str:
    """The parse cache is only valid for the sqlglot that wrote it. Read from the installed package
    without importing it (sqlglot loads only when a file must be parsed) and without
    importlib.metadata (which scans every installed distribution)."""
    import importlib.util
    import re
    spec = importlib.util.find_spec("sqlglot")
    if spec is None or spec.origin is None:
        return "unknown"
    try:
        text = (Path(spec.origin).parent / "_version.py").read_text()
    except OSError:
        return "unknown"
    found = re.search(r"""__version__ = version = ['"]([^'"]+)['"]""", text)
    return found.group(1) if found else "unknown"


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


@dataclass
class _Headers:
    """Headers already read in this load, by their TOML text: many files share one header."""

    toml: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, AssetSettings] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)        # by id(): every settings object is held above

    def settings_of(self, parsed: header.SqlFile, rel: str) -> AssetSettings:
        if not parsed.header:
            return _DEFAULT_SETTINGS
        found = self.settings.get(parsed.header)
        if found is None:     # an error raises here, for the first file with this header, at its lines
            found = self.settings[parsed.header] = parse_settings(parsed.settings, path=rel,
                                                                  line=parsed.header_line,
                                                                  key_line=parsed.key_line)
        return found

    def settings_text(self, settings: AssetSettings) -> str:
        """The code-version part of settings shared by many files, computed once per distinct one."""
        found = self.texts.get(id(settings))
        if found is None:
            found = self.texts[id(settings)] = fingerprint.settings_text(settings)
        return found


_DEFAULT_SETTINGS = AssetSettings()


@dataclass(frozen=True, slots=True)
class _SqlFile:
    rel: str
    parsed: header.SqlFile
    settings: AssetSettings
    digest: str


def _read_sql(path: str, rel: str, headers: _Headers) -> _SqlFile:
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProjectError("the file is not UTF-8 text", path=rel, hint="save it as UTF-8") from None
    parsed = header.split_header(text, rel, headers.toml)
    return _SqlFile(rel, parsed, headers.settings_of(parsed, rel), fingerprint.content_hash(data))


def _parse_new(cache: ParseCache, files, dialect: str) -> None:
    """Parse the files the cache does not know, all at once (in parallel when there are many)."""
    jobs = [(f.digest + dialect, f.parsed.query, f.rel) for f in files if f.digest + dialect not in cache.entries]
    if len(jobs) > 1:
        from assetflow.project.parse_pool import analyze_all
        for key, facts in analyze_all(jobs, dialect).items():
            cache.put(key, facts)


def _sql_spec(file: _SqlFile, stem: str, schema: str, config: ProjectConfig, cache: ParseCache,
              settings_text: Callable[[AssetSettings], str], macros: Macros) -> AssetSpec:
    settings, parsed = file.settings, file.parsed
    facts = _facts(cache, file.digest, parsed.query, config.dialect, file.rel)
    reads = project_vars.code_version_part(facts.variables, config.vars, file.rel)
    used = macros.used_by(facts.functions) if macros.by_name else ()
    if used:      # the macros' text is part of the code; the tables their bodies name are upstreams
        reads += macros_version(used)
    asset_rules.check_parameters(settings, facts.parameters, file.rel, parsed.key_line)
    deps_line = parsed.key_line("deps") if settings.deps else None     # (a regex search per file otherwise)
    macro_refs = tuple(r for m in used for r in m.references)
    references = facts.references + tuple(Reference(parts=tuple(d.split(".")), line=deps_line)
                                          for d in settings.deps) + macro_refs
    return AssetSpec(
        key=AssetKey.of(schema, stem), settings=settings,
        body=SqlBody(sql=parsed.query, file_reads=facts.file_reads, template=facts.template,
                     placeholders=facts.placeholders, variables=tuple(v.name for v in facts.variables),
                     macros=tuple(m.name for m in used), macro_refs=len(macro_refs)),
        path=file.rel, line=1,
        code_version=fingerprint.sql_code_version(facts.normalized, settings, settings_text(settings), reads),
        references=references)


def load_seeds(root: Path, configured: tuple[SeedConfig, ...] = ()) -> list[AssetSpec]:
    """Every CSV and Parquet file under seeds/: `seeds/x.csv` is `seeds.x`; in a subfolder, the
    first folder is the schema, as under assets/ (`seeds/ref/countries.csv` is `ref.countries`)."""
    seeds_dir = root / SEEDS_DIR
    files = _seed_files(seeds_dir) if seeds_dir.is_dir() else []
    options = {c.name: c for c in configured}
    specs = []
    for path, schema in files:
        rel, key = relative(path, root), AssetKey.of(schema, path.stem)
        config = options.pop(str(key), None)
        seed_options = config.options if config is not None else SeedOptions()
        if config is not None and path.suffix.lower() != ".csv" and seed_options != SeedOptions():
            raise ProjectError(f"[seeds.\"{config.name}\"] sets CSV options, but {rel} is not a CSV file",
                               path=CONFIG_FILE, line=config.line, hint="a Parquet file carries its own types")
        digest = fingerprint.content_hash(path.read_bytes())
        specs.append(AssetSpec(
            key=key, settings=AssetSettings(kind=Kind.SEED), body=SeedBody(file=rel, options=seed_options),
            path=rel, line=1, code_version=fingerprint.seed_code_version(digest, seed_options)))
    for config in options.values():
        hint = suggest(config.name, [str(s.key) for s in specs])
        raise ProjectError(f"[seeds.\"{config.name}\"] names no seed file", path=CONFIG_FILE, line=config.line,
                           hint=hint or f"seeds are the CSV and Parquet files under {SEEDS_DIR}/, named "
                                        "schema.name (seeds/x.csv is seeds.x, seeds/ref/x.csv is ref.x)")
    return specs


def _seed_files(seeds_dir: Path) -> list[tuple[Path, str]]:
    """(file, schema) of each seed, sorted; hidden files and folders are skipped."""
    found = []
    for path in sorted(seeds_dir.rglob("*")):
        parts = path.relative_to(seeds_dir).parts
        if path.suffix.lower() in SEED_SUFFIXES and path.is_file() and not any(p.startswith(".") for p in parts):
            found.append((path, parts[0] if len(parts) > 1 else SEEDS_DIR))
    return found


def _check_unique(specs: list[AssetSpec], config: ProjectConfig) -> None:
    """Names compare case-insensitively (as DuckDB does) and by their NFC form (they look the same)."""
    seen: dict[str, str] = {}
    for source in config.sources:
        seen[_identity(source.name)] = f"{config.root.name}/assetflow.toml (source {source.name})"
    for spec in specs:
        ident = _identity(str(spec.key))
        if ident in seen:
            raise ProjectError(f"asset name {spec.key} is defined twice: in {seen[ident]} and in {spec.path}",
                               path=spec.path, line=spec.line,
                               hint="names are compared case-insensitively; rename one of them")
        seen[ident] = spec.path


def _identity(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


class ParseCache(JsonCache):
    """Parsed query facts keyed by content hash, so an unchanged file is never parsed twice, and
    the engine's syntax verdict on it (`syntax`: the name of the parser that accepted it)."""

    def __init__(self, path: Path, syntax_check: SyntaxCheck | None = None):
        super().__init__(path)
        self.syntax_check = syntax_check

    def get(self, key: str) -> QueryFacts | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        refs = tuple(Reference(parts=tuple(r[0]), line=r[1]) for r in entry["references"])
        parameters = tuple(Parameter(name, line) for name, line in entry["parameters"])
        variables = tuple(Parameter(name, line) for name, line in entry["variables"])
        return QueryFacts(entry["normalized"], refs, tuple(entry["file_reads"]), entry["template"], parameters,
                          variables, tuple(entry["functions"]))

    def judged(self, key: str) -> bool:
        """Whether this load's syntax check already accepted the query (trivially, without one)."""
        if self.syntax_check is None:
            return key in self.entries
        entry = self.entries.get(key)
        return entry is not None and entry.get("syntax") == self.syntax_check.name

    def put(self, key: str, facts: QueryFacts, syntax: str | None = None) -> None:
        """Store facts, with the name of the syntax check that accepted the query (None: unjudged)."""
        self.set(key, {"normalized": facts.normalized, "file_reads": list(facts.file_reads),
                       "references": [[list(r.parts), r.line] for r in facts.references],
                       "template": facts.template,
                       "parameters": [[p.name, p.line] for p in facts.parameters],
                       "variables": [[v.name, v.line] for v in facts.variables],
                       "functions": list(facts.functions), "syntax": syntax})
