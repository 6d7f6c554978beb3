"""`assetflow.toml` -> frozen dataclasses. The only module that reads the project file, and the
only one that reads the process environment (for `${VAR}`; `load_config` also takes it as an
argument, so tests pass a dict).

Unknown keys are errors (with a "did you mean"), so a typo never silently does nothing. Every
error raised after `${VAR}` expansion is masked: a message never quotes a value from the
environment.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from assetflow.assets import SourceSpec
from assetflow.errors import ProjectError, UsageError
from assetflow.project.alert_settings import AlertSettings, parse_alerts
from assetflow.project.interpolate import Expanded, Masks, build_masks, expand_tree
from assetflow.project.seed_options import SeedConfig, parse_seeds
from assetflow.project.spark_target import DUCKDB_KEYS, SPARK_KEYS, spark_fields
from assetflow.project.variables import Variables, parse_vars

if TYPE_CHECKING:
    from assetflow.project.schedules import ScheduleSpec

CONFIG_FILE = "assetflow.toml"
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    engine: str
    path: str                     # absolute path of the database file, or ":memory:"
    threads: int = 4
    master: str | None = None     # spark only (see spark_target): local[N], spark://host:port
    remote: str | None = None     # spark only: sc://host:port (Spark Connect)
    warehouse: str | None = None  # spark only: where tables live (absolute path or URI)
    conf: tuple[tuple[str, str], ...] = ()   # spark only: extra Spark settings


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    root: Path
    name: str
    dialect: str
    targets: tuple[Target, ...]
    sources: tuple[SourceSpec, ...] = ()
    alerts: AlertSettings = AlertSettings()
    retries: int = 0
    retry_delay: float = 1.0
    masks: Masks = Masks()           # hides environment values and alert secrets in every message
    schedules: tuple[ScheduleSpec, ...] = ()      # sorted by name
    seeds: tuple[SeedConfig, ...] = ()
    vars: Variables = Variables()    # [vars], with --var overrides merged in by the loader

    def target(self, name: str | None) -> Target:
        """The named target, or the first one declared."""
        if name is None:
            return self.targets[0]
        for target in self.targets:
            if target.name == name:
                return target
        known = [t.name for t in self.targets]
        raise UsageError(f"unknown target '{name}'", path=CONFIG_FILE,
                         hint=f"targets in this project: {', '.join(known)}")


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding assetflow.toml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ProjectError(f"no {CONFIG_FILE} found in {start} or any folder above it",
                       hint="run inside a project, pass --project DIR, or create one with `assetflow init DIR`")


def load_config(root: Path, environ: Mapping[str, str] | None = None) -> ProjectConfig:
    """Read and check assetflow.toml, expanding `${VAR}` from `environ` (default: this process's)."""
    import os
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ProjectError(f"{CONFIG_FILE} not found in {root}",
                           hint="pass --project DIR pointing at a project, or run `assetflow init DIR`")
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ProjectError(f"bad TOML: {exc}", path=CONFIG_FILE, line=int(line.group(1)) if line else None,
                           hint="check quoting and brackets; see docs/project-format.md") from None
    expanded = expand_tree(raw, os.environ if environ is None else environ, text, CONFIG_FILE)
    masks = build_masks(expanded.env_values)
    try:
        config = _project_config(root, expanded, text)
    except ProjectError as exc:          # a message may quote a value that came from the environment
        raise _masked(exc, masks) from None
    masks = build_masks(expanded.env_values, config.alerts.secret_urls(), config.alerts.secret_keys())
    return replace(config, masks=masks)


def _project_config(root: Path, expanded: Expanded, text: str) -> ProjectConfig:
    raw = expanded.value
    _check_keys(raw, {"project", "targets", "sources", "alerts", "schedules", "seeds", "vars"}, "", text)
    project = _table(raw, "project", text)
    _check_keys(project, {"name", "dialect", "retries", "retry_delay"}, "project", text)
    name = _typed(project, "name", str, "project", text, default=root.name)
    dialect = _typed(project, "dialect", str, "project", text, default="duckdb")
    targets = _targets(_table(raw, "targets", text), root, text)
    retries = _typed(project, "retries", int, "project", text, default=0)
    retry_delay = float(_typed(project, "retry_delay", (int, float), "project", text, default=1.0))
    if retries < 0 or retry_delay < 0:
        raise ProjectError("project.retries and project.retry_delay must be >= 0", path=CONFIG_FILE,
                           line=_line_of(text, "retries" if retries < 0 else "retry_delay"))
    alerts = parse_alerts(raw.get("alerts", {}), CONFIG_FILE, lambda key: _line_of_alert_key(text, key),
                          expanded.variables_of)
    return ProjectConfig(root=root, name=name, dialect=dialect, targets=targets,
                         sources=_sources(_table(raw, "sources", text), text), alerts=alerts,
                         retries=retries, retry_delay=retry_delay, schedules=_schedules(raw, text),
                         seeds=parse_seeds(_table(raw, "seeds", text), CONFIG_FILE, lambda key: _line_of(text, key)),
                         vars=parse_vars(raw.get("vars", {}), lambda key: _line_of(text, key)))


def _masked(exc: ProjectError, masks: Masks) -> ProjectError:
    return ProjectError(masks.mask(exc.message), path=exc.path, line=exc.line,
                        hint=masks.mask(exc.hint) if exc.hint else None)


def _targets(raw: dict[str, Any], root: Path, text: str) -> tuple[Target, ...]:
    if not raw:
        return (Target("dev", "duckdb", str(root / "warehouse.duckdb")),)
    targets = []
    for name, spec in raw.items():
        where = f"targets.{name}"
        if not isinstance(spec, dict):
            raise ProjectError(f"[{where}] must be a table", path=CONFIG_FILE, line=_line_of(text, name))
        engine = _typed(spec, "engine", str, where, text, default="duckdb")
        if engine not in ENGINES:
            raise ProjectError(f"unknown engine '{engine}' in [{where}]", path=CONFIG_FILE,
                               line=_line_of(text, "engine"), hint=f"engines: {', '.join(ENGINES)}")
        _check_keys(spec, set(SPARK_KEYS if engine == "spark" else DUCKDB_KEYS), where, text)
        db_path = _typed(spec, "path", str, where, text, default="warehouse.duckdb")
        threads = _typed(spec, "threads", int, where, text, default=4)
        if threads < 1:
            raise ProjectError(f"threads must be >= 1 in [{where}]", path=CONFIG_FILE,
                               line=_line_of(text, "threads"))
        if engine == "spark":
            targets.append(Target(name, engine, threads=threads,
                                  **spark_fields(name, spec, root, CONFIG_FILE, lambda key: _line_of(text, key))))
            continue
        resolved = db_path if db_path == ":memory:" else str((root / db_path).resolve())
        targets.append(Target(name, engine, resolved, threads))
    return tuple(targets)


def _sources(raw: dict[str, Any], text: str) -> tuple[SourceSpec, ...]:
    sources = []
    for name, spec in raw.items():
        where = f'sources."{name}"'
        if not isinstance(spec, dict):
            raise ProjectError(f"source '{name}' must be a table like {{ table = \"raw.x\" }}",
                               path=CONFIG_FILE, line=_line_of(text, name))
        _check_keys(spec, {"table", "path", "freshness"}, where, text)
        if ("table" in spec) == ("path" in spec):
            raise ProjectError(f"source '{name}' needs exactly one of `table` or `path`",
                               path=CONFIG_FILE, line=_line_of(text, name),
                               hint='{ table = "raw.orders" } or { path = "data/orders/*.csv" }')
        if name.count(".") > 1 or not name.strip(". "):
            raise ProjectError(f"source name '{name}' must be `schema.name` or `name`",
                               path=CONFIG_FILE, line=_line_of(text, name))
        sources.append(SourceSpec(
            name=name.lower() if "." in name else f"main.{name.lower()}",
            table=_typed(spec, "table", str, where, text, default=None),
            glob=_typed(spec, "path", str, where, text, default=None),
            freshness=_typed(spec, "freshness", str, where, text, default=None)))
    return tuple(sources)


def _schedules(raw: dict[str, Any], text: str) -> tuple[ScheduleSpec, ...]:
    if "schedules" not in raw:
        return ()
    # croniter and zoneinfo load only for projects that have schedules (a no-op run is ~0.3 s)
    from assetflow.project.schedules import parse_schedules
    return parse_schedules(raw["schedules"], text)


def _table(raw: dict[str, Any], key: str, text: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ProjectError(f"[{key}] must be a table", path=CONFIG_FILE, line=_line_of(text, key))
    return value


def _typed(raw: dict[str, Any], key: str, kind, where: str, text: str, default: Any) -> Any:
    if key not in raw:
        return default
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise ProjectError(f"{where}.{key} must be {' or '.join(k.__name__ for k in kinds)}, not {value!r}",
                           path=CONFIG_FILE, line=_line_of(text, key))
    return value


def _check_keys(raw: dict[str, Any], allowed: set[str], where: str, text: str) -> None:
    for key in raw:
        if key not in allowed:
            from difflib import get_close_matches
            close = get_close_matches(key, allowed, n=1)
            section = f"[{where}]" if where else "the top level"
            raise ProjectError(f"unknown key '{key}' in {section}", path=CONFIG_FILE, line=_line_of(text, key),
                               hint=f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(sorted(allowed))}")


def _line_of_alert_key(text: str, key: str) -> int | None:
    """The line of `alerts.on_failure[2].severity` (inside the third entry), `alerts.repeat_after`..."""
    entry = re.fullmatch(r"alerts\.on_failure\[(\d+)\](?:\.(\w+))?", key)
    span = _inline_table_span(text, int(entry.group(1))) if entry else None
    if span is None:
        return _line_of(text, key.rpartition(".")[2].split("[")[0])
    start, end = span
    field = re.compile(rf'"?{re.escape(entry.group(2))}"?\s*=').search(text, start, end) if entry.group(2) else None
    return text.count("\n", 0, field.start() if field else start) + 1


def _inline_table_span(text: str, index: int) -> tuple[int, int] | None:
    """(start, end) offsets of the `index`-th `{ ... }` of the `on_failure = [...]` array, skipping
    braces inside strings (a command may well contain one)."""
    array = re.search(r"^\s*on_failure\s*=\s*\[", text, re.MULTILINE)
    if array is None:
        return None
    quote, depth, count, start, i = None, 0, -1, 0, array.end()
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            newline = text.find("\n", i)
            i = newline if newline >= 0 else len(text)
            continue
        elif char == "{":
            depth += 1
            if depth == 1:
                count, start = count + 1, i
        elif char == "}":
            depth -= 1
            if depth == 0 and count == index:
                return start, i + 1
        elif char == "]" and depth == 0:
            return None
        i += 1
    return None


def _line_of(text: str, key: str) -> int | None:
    """Best-effort line of a key in the TOML text (tomllib does not report positions)."""
    pattern = re.compile(rf'^\s*(\[[^\]]*)?"?{re.escape(key)}"?\s*(=|\]|\.)', re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


# ------------------------------------------------------------------------------ fault injection

# after_run_end: a run's end row and its alerts are committed, nothing is sent yet (the outbox)
FAULT_POINTS = ("before_transaction", "after_delete", "before_commit", "after_commit", "after_run_end",
                # the scheduler's (schedule/scheduler.py): the tick decided, its run and tick rows
                # committed, the run ended, the tick row finished
                "tick_created", "run_started", "run_ended", "tick_finished")


def fault_injector(environ: dict[str, str] | None = None):
    """`ASSETFLOW_FAULT=after_delete:3` kills this process (SIGKILL) the 3rd time a write reaches
    that point. For crash tests only; without the variable this is a no-op."""
    import os
    spec = (os.environ if environ is None else environ).get("ASSETFLOW_FAULT", "")
    if not spec:
        return lambda point: None
    import os
    import signal
    import threading
    point, _, nth = spec.partition(":")
    if point not in FAULT_POINTS:
        raise ProjectError(f"ASSETFLOW_FAULT names an unknown point '{point}'",
                           hint=f"points: {', '.join(FAULT_POINTS)}")
    remaining = [int(nth or 1)]
    guard = threading.Lock()

    def reach(name: str) -> None:
        if name != point:
            return
        with guard:
            remaining[0] -= 1
            if remaining[0] == 0:
                os.kill(os.getpid(), signal.SIGKILL)
    return reach
