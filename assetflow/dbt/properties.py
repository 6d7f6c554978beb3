"""dbt property files (`schema.yml` and friends): model and seed descriptions, configs and tests,
and `sources:`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from assetflow.dbt.project import DbtFile
from assetflow.dbt.report import NOTE, Finding
from assetflow.dbt.yamlfiles import YamlMap, read_yaml
from assetflow.errors import ProjectError

RenderValue = Callable[[Any, str, int], Any]     # renders Jinja in a YAML value (value, file, line)
_IGNORED = ("unit_tests", "semantic_models", "metrics", "saved_queries", "exposures", "groups", "analyses",
            "snapshots", "macros")


@dataclass(frozen=True, slots=True)
class TestUse:
    """One test applied in YAML: `not_null` on a column, `relationships` with its arguments, ..."""

    name: str                      # not_null, accepted_values, dbt_utils.expression_is_true, ...
    column: str | None             # None for a test on the whole model
    args: Mapping[str, Any]
    severity: str                  # error | warn
    where: str | None
    location: str                  # file:line


@dataclass(frozen=True, slots=True)
class NodeProps:
    name: str
    location: str
    config: Mapping[str, Any]
    description: str | None
    tests: tuple[TestUse, ...]
    columns: tuple[tuple[str, str], ...] = ()     # (column, description) where one is written


@dataclass(frozen=True, slots=True)
class SourceTable:
    source: str
    table: str
    relation: str                  # what the SQL reads: schema.identifier
    database: str | None           # the database, when the source names one
    location: str
    loaded_at_field: str | None
    tests: tuple[TestUse, ...]


@dataclass(frozen=True)
class Properties:
    models: Mapping[str, NodeProps]
    seeds: Mapping[str, NodeProps]
    sources: tuple[SourceTable, ...]
    notes: tuple[Finding, ...]


def read_properties(files: tuple[DbtFile, ...], render: RenderValue) -> Properties:
    models: dict[str, NodeProps] = {}
    seeds: dict[str, NodeProps] = {}
    sources: list[SourceTable] = []
    notes: list[Finding] = []
    for file in files:
        doc = read_yaml(file.path, file.rel)
        if doc is None:
            continue
        if not isinstance(doc, YamlMap):
            raise ProjectError("a property file must be a mapping (version: 2, models: ...)", path=file.rel)
        for entry in _entries(doc, "models", file):
            models[entry.name] = entry
        for entry in _entries(doc, "seeds", file):
            seeds[entry.name] = entry
        for raw in _list(doc, "sources", file):
            sources.extend(_source(raw, file, render))
        notes.extend(Finding(f"{file.rel}:{doc.line_of(key)}", f"`{key}:` is not converted",
                             "assetflow has no equivalent yet; keep the file for reference", NOTE)
                     for key in _IGNORED if key in doc)
    return Properties(models, seeds, tuple(sources), tuple(notes))


def _list(doc: YamlMap, key: str, file: DbtFile) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise ProjectError(f"`{key}:` must be a list", path=file.rel, line=doc.line_of(key))
    return value


def _entries(doc: YamlMap, key: str, file: DbtFile) -> list[NodeProps]:
    out = []
    for raw in _list(doc, key, file):
        if not isinstance(raw, YamlMap) or not isinstance(raw.get("name"), str):
            raise ProjectError(f"each entry of `{key}:` needs a name", path=file.rel,
                               line=getattr(raw, "line", doc.line_of(key)))
        out.append(NodeProps(raw["name"], f"{file.rel}:{raw.line}", raw.get("config") or {},
                             raw.get("description"), _tests(raw, file), _column_docs(raw)))
    return out


def _column_docs(node: YamlMap) -> tuple[tuple[str, str], ...]:
    return tuple((c["name"], str(c["description"]).strip()) for c in node.get("columns") or []
                 if isinstance(c, Mapping) and isinstance(c.get("name"), str) and c.get("description"))


def _tests(node: YamlMap, file: DbtFile) -> tuple[TestUse, ...]:
    """Tests on the node itself and on each of its columns (`tests:` or dbt 1.8's `data_tests:`)."""
    out = [_test(t, None, node, file) for t in _test_list(node)]
    for column in node.get("columns") or []:
        if isinstance(column, YamlMap) and isinstance(column.get("name"), str):
            out += [_test(t, column["name"], column, file) for t in _test_list(column)]
    return tuple(out)


def _test_list(node: YamlMap) -> list[Any]:
    tests = node.get("data_tests", node.get("tests")) or []
    return tests if isinstance(tests, list) else []


def _test(raw: Any, column: str | None, owner: YamlMap, file: DbtFile) -> TestUse:
    line = getattr(raw, "line", None) or owner.line_of("data_tests" if "data_tests" in owner else "tests")
    location = f"{file.rel}:{line}"
    if isinstance(raw, str):
        return TestUse(raw, column, {}, "error", None, location)
    if not isinstance(raw, Mapping) or len(raw) != 1:
        if isinstance(raw, Mapping) and "test_name" in raw:
            name, args = raw["test_name"], {k: v for k, v in raw.items() if k not in ("test_name", "name")}
        else:
            raise ProjectError(f"cannot read test {raw!r}", path=file.rel, line=line,
                               hint="write - not_null, or - accepted_values: {values: [...]}")
    else:
        name, args = next(iter(raw.items()))
    args = dict(args or {})
    config = dict(args.pop("config", None) or {})
    severity = str(config.get("severity", args.pop("severity", "error"))).lower()
    where = config.get("where", args.pop("where", None))
    column = args.pop("column_name", column)
    return TestUse(str(name), column, args, "warn" if severity == "warn" else "error", where, location)


def _source(raw: Any, file: DbtFile, render: RenderValue) -> list[SourceTable]:
    if not isinstance(raw, YamlMap) or not isinstance(raw.get("name"), str):
        raise ProjectError("each entry of `sources:` needs a name", path=file.rel, line=getattr(raw, "line", None))
    name = raw["name"]
    schema = render(raw.get("schema", name), file.rel, raw.line_of("schema"))
    database = render(raw.get("database"), file.rel, raw.line_of("database"))
    out = []
    for table in raw.get("tables") or []:
        if not isinstance(table, YamlMap) or not isinstance(table.get("name"), str):
            raise ProjectError(f"each table of source {name} needs a name", path=file.rel, line=raw.line_of("tables"))
        identifier = render(table.get("identifier", table["name"]), file.rel, table.line_of("identifier"))
        loaded_at = table.get("loaded_at_field", raw.get("loaded_at_field"))
        out.append(SourceTable(name, table["name"], f"{schema}.{identifier}", str(database) if database else None,
                               f"{file.rel}:{table.line}", loaded_at, _tests(table, file)))
    return out
