"""A dbt project on disk: `dbt_project.yml`, and the files under its model, seed, macro, snapshot
and test paths."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from assetflow.dbt.yamlfiles import YamlMap, read_yaml
from assetflow.errors import ProjectError

PROJECT_FILE = "dbt_project.yml"
# configs that take a mapping: anything else holding a mapping in the `models:` tree is a folder
_MAPPING_CONFIGS = frozenset({"meta", "docs", "persist_docs", "grants", "contract", "column_types", "quote_columns"})
_CONFIGS = _MAPPING_CONFIGS | frozenset({
    "materialized", "schema", "alias", "database", "tags", "enabled", "unique_key", "incremental_strategy",
    "event_time", "begin", "batch_size", "lookback", "on_schema_change", "full_refresh", "pre-hook", "post-hook",
    "sql_header", "delimiter", "quote_columns", "group", "access", "severity", "where", "store_failures"})


@dataclass(frozen=True, slots=True)
class DbtFile:
    rel: str             # posix path relative to the project: models/staging/stg_orders.sql
    path: Path
    folders: tuple[str, ...]   # folders between the resource path and the file (models/a/b/x.sql: a, b)

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class DbtProject:
    root: Path
    name: str
    vars: Mapping[str, Any]                # global vars, overlaid with the ones scoped to this project
    model_tree: Mapping[str, Any]          # the `models:` mapping of dbt_project.yml
    seed_tree: Mapping[str, Any]
    models: tuple[DbtFile, ...]            # .sql and .py files
    seeds: tuple[DbtFile, ...]
    macros: tuple[DbtFile, ...]
    snapshots: tuple[DbtFile, ...]
    tests: tuple[DbtFile, ...]             # singular tests (.sql under test paths, outside generic/)
    generic_tests: tuple[DbtFile, ...]     # tests/generic/*.sql: {% test %} blocks
    properties: tuple[DbtFile, ...]        # .yml files under model, seed, snapshot paths
    packages: frozenset[str]


def read_project(root: Path) -> DbtProject:
    """Read `root/dbt_project.yml` and list the project's files; no `dbt_project.yml` is an error."""
    if not root.is_dir():
        raise ProjectError(f"{root} is not a folder", hint="give the folder that holds dbt_project.yml")
    if not (root / PROJECT_FILE).is_file():
        raise ProjectError(f"{root} is not a dbt project: it has no {PROJECT_FILE}",
                           path=str(root / PROJECT_FILE), hint="give the folder that holds dbt_project.yml")
    raw = read_yaml(root / PROJECT_FILE, PROJECT_FILE)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise ProjectError("dbt_project.yml must be a mapping with a `name`", path=PROJECT_FILE,
                           line=getattr(raw, "line", None), hint="name: my_project")
    name = raw["name"]
    paths = {key: _paths(raw, key, default) for key, default in (
        ("model-paths", "models"), ("seed-paths", "seeds"), ("macro-paths", "macros"),
        ("snapshot-paths", "snapshots"), ("test-paths", "tests"))}
    tests = _files(root, paths["test-paths"], (".sql",))
    return DbtProject(
        root=root, name=name, vars=_project_vars(raw.get("vars") or {}, name),
        model_tree=_tree(raw.get("models") or {}, name), seed_tree=_tree(raw.get("seeds") or {}, name),
        models=_files(root, paths["model-paths"], (".sql", ".py")),
        seeds=_files(root, paths["seed-paths"], (".csv",)),
        macros=_files(root, paths["macro-paths"], (".sql",)),
        snapshots=_files(root, paths["snapshot-paths"], (".sql",)),
        tests=tuple(t for t in tests if not t.folders or t.folders[0] != "generic"),
        generic_tests=tuple(t for t in tests if t.folders and t.folders[0] == "generic"),
        properties=_files(root, paths["model-paths"] + paths["seed-paths"] + paths["snapshot-paths"],
                          (".yml", ".yaml")),
        packages=_packages(root))


def _paths(raw: Mapping[str, Any], key: str, default: str) -> tuple[str, ...]:
    value = raw.get(key) or (raw.get("source-paths") if key == "model-paths" else None) or [default]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProjectError(f"{key} must be a list of folders", path=PROJECT_FILE, line=raw.line_of(key)
                           if isinstance(raw, YamlMap) else None)
    return tuple(value)


def _files(root: Path, folders: tuple[str, ...], suffixes: tuple[str, ...]) -> tuple[DbtFile, ...]:
    found = []
    for folder in folders:
        base = root / folder
        for directory, subdirs, files in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for file in sorted(files):
                if file.endswith(suffixes) and not file.startswith("."):
                    path = Path(directory) / file
                    folders_between = path.parent.relative_to(base).parts
                    found.append(DbtFile(path.relative_to(root).as_posix(), path, folders_between))
    return tuple(found)


def _project_vars(raw: Any, project: str) -> dict[str, Any]:
    """dbt's vars: global ones, and a mapping under the project's name that overrides them."""
    if not isinstance(raw, Mapping):
        raise ProjectError("vars: must be a mapping", path=PROJECT_FILE)
    scoped = raw.get(project)
    out = {k: v for k, v in raw.items() if k != project}
    if isinstance(scoped, Mapping):
        out.update(scoped)
    return out


def _tree(raw: Any, project: str) -> Mapping[str, Any]:
    """The part of a `models:`/`seeds:` mapping that applies to this project (other keys name packages)."""
    if not isinstance(raw, Mapping):
        raise ProjectError("models: and seeds: must be mappings", path=PROJECT_FILE)
    top = {k: v for k, v in raw.items() if _is_config(k, v)}
    scoped = raw.get(project)
    if isinstance(scoped, Mapping):
        top = {**top, **{k: v for k, v in scoped.items()}}
    return top


def _is_config(key: str, value: Any) -> bool:
    if key.startswith("+"):
        return True
    return key in _CONFIGS and (not isinstance(value, Mapping) or key in _MAPPING_CONFIGS)


def tree_config(tree: Mapping[str, Any], parts: tuple[str, ...]) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """The configs that dbt_project.yml gives a file at `parts` (folders, then the file stem): deeper
    levels win, tags add up. Also where each value was set (key, line), for messages."""
    config: dict[str, Any] = {}
    where: list[tuple[str, int]] = []
    level: Any = tree
    for depth in range(len(parts) + 1):
        if not isinstance(level, Mapping):
            break
        for key, value in level.items():
            if _is_config(key, value):
                name = key.lstrip("+")
                if name == "tags":
                    config["tags"] = list(config.get("tags", [])) + _as_list(value)
                else:
                    config[name] = value
                if isinstance(level, YamlMap):
                    where.append((name, level.line_of(key)))
        if depth == len(parts):
            break
        level = level.get(parts[depth])
    return config, where


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _packages(root: Path) -> frozenset[str]:
    """Names the project's packages are called by in Jinja (`dbt_utils` for dbt-labs/dbt_utils)."""
    names = {"dbt_utils", "dbt_date", "dbt_expectations", "audit_helper", "codegen", "dbt_external_tables",
             "fivetran_utils", "elementary", "metrics", "dbt_project_evaluator"}
    for file in ("packages.yml", "dependencies.yml"):
        if (root / file).is_file():
            raw = read_yaml(root / file, file) or {}
            for entry in raw.get("packages", []) if isinstance(raw, Mapping) else []:
                if isinstance(entry, Mapping):
                    spec = str(entry.get("package") or entry.get("git") or entry.get("local") or "")
                    tail = spec.rstrip("/").split("/")[-1].removesuffix(".git")
                    if tail.startswith("dbt-"):        # git: .../dbt-audit-helper.git is `audit_helper`
                        tail = tail[len("dbt-"):]
                    if tail:
                        names.add(tail.replace("-", "_"))
    return frozenset(names)
