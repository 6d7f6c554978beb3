"""The import, stage by stage: read the dbt project, resolve names, render every model, convert,
and hand the files to the writer. Nothing is written until everything converted."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from assetflow.dbt import layout
from assetflow.dbt.context import Names, Target
from assetflow.dbt.layout import ModelPlan, Output
from assetflow.dbt.models import clean_sql, shape_of
from assetflow.dbt.project import DbtFile, DbtProject, tree_config
from assetflow.dbt.properties import Properties, read_properties
from assetflow.dbt.render import Rendered, Renderer
from assetflow.dbt.report import DROPPED, NOTE, SKIPPED, Finding
from assetflow.errors import ProjectError

_SNAPSHOT = re.compile(r"\{%-?\s*snapshot\s+(\w+)")
_MATERIALIZATION = re.compile(r"\{%-?\s*materialization\s+(\w+)")
_NAMING_HOOK = re.compile(r"\{%-?\s*macro\s+(generate_(?:schema|alias|database)_name)\b")


@dataclass(frozen=True)
class Options:
    vars: Mapping[str, Any]
    env: Mapping[str, str]
    start: str | None = None


@dataclass(frozen=True)
class Prepared:
    """Every model rendered and named, before any file text exists."""

    plans: list[ModelPlan]
    relations: dict[str, str]
    seeds: layout.SeedPlan
    sources: layout.SourcePlan
    props: Properties
    renderer: Renderer
    names: Names
    findings: list[Finding]


def prepare(project: DbtProject, options: Options) -> Prepared:
    texts = _read_texts(project.models + project.macros + project.tests + project.generic_tests)
    renderer = Renderer(texts, tuple(f.rel for f in project.macros + project.generic_tests))
    findings: list[Finding] = list(renderer.macro_problems) + _scan_definitions(project, texts)
    names = _names(project, options, {}, {}, frozenset(), frozenset())
    props = read_properties(project.properties, lambda v, rel, line: renderer.render_value(v, rel, line, names))
    findings += list(props.notes) + _ignored_macros(project, texts)
    seeds = layout.plan_seeds(project, props, renderer, names)
    findings += seeds.findings
    sources = layout.plan_sources(props, seeds)
    findings += sources.findings
    configs, disabled, py_findings = _model_configs(project, props, renderer, names)
    findings += py_findings
    for model, (rel, _) in configs.items():
        if model in seeds.assets:
            raise ProjectError(f"model {model} ({rel}) and seed {seeds.rels[model]} have one name", path=rel,
                               hint="dbt refers to both as ref('" + model + "'); rename one")
    names = _names(project, options, seeds.assets, sources.relations, frozenset(configs), disabled)
    plans = []
    for model, (rel, config) in configs.items():
        rendered = renderer.render(rel, names, model, config)
        merged = {**config, **rendered.config}
        if "tags" in rendered.config:                          # tags add up across levels, as in dbt
            merged["tags"] = _as_list(config.get("tags", [])) + _as_list(rendered.config["tags"])
        plans.append(_plan_model(model, rel, merged, rendered, texts[rel], options))
    plans = [p for p in plans if p.enabled]
    relations = layout.relations_of(plans, seeds, sources)
    return Prepared(plans, relations, seeds, sources, props, renderer, names, findings)


def convert(project: DbtProject, options: Options) -> Output:
    """Everything the import writes, and its report, computed in memory."""
    p = prepare(project, options)
    output = layout.assemble(project, p.plans, p.relations, p.seeds, p.sources, p.props, p.renderer, p.names)
    return replace(output, report=replace(output.report, findings=tuple(p.findings) + output.report.findings))


def _ignored_macros(project: DbtProject, texts: Mapping[str, str]) -> list[Finding]:
    """dbt's naming hooks have no assetflow counterpart: the schema is the folder or `+schema`."""
    out = []
    for file in project.macros:
        text = texts.get(file.rel, "")
        for match in _NAMING_HOOK.finditer(text):
            out.append(Finding(f"{file.rel}:{text.count(chr(10), 0, match.start()) + 1}",
                               f"macro {match.group(1)} is not used",
                               "assetflow names the schema by +schema / config(schema=) or the model's first "
                               "folder, and the table by alias or file name", NOTE))
    return out


def _read_texts(files: tuple[DbtFile, ...]) -> dict[str, str]:
    texts = {}
    for file in files:
        if file.path.suffix != ".sql":
            continue
        try:
            texts[file.rel] = file.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(f"not UTF-8 text ({exc.reason})", path=file.rel) from None
    return texts


def _names(project: DbtProject, options: Options, seeds: Mapping[str, str], sources: Mapping[tuple[str, str], str],
           models: frozenset[str], disabled: frozenset[str]) -> Names:
    return Names(project=project.name, models=models, disabled=disabled, seeds=seeds, sources=sources,
                 vars={**project.vars, **options.vars}, env=options.env, packages=project.packages, target=Target())


def _model_configs(project: DbtProject, props: Properties, renderer: Renderer, names: Names
                   ) -> tuple[dict[str, tuple[str, dict[str, Any]]], frozenset[str], list[Finding]]:
    """Each enabled SQL model's config from dbt_project.yml and its property file (in-file
    `config()` comes later, from rendering); the disabled ones; Python models as findings."""
    configs: dict[str, tuple[str, dict[str, Any]]] = {}
    disabled: set[str] = set()
    findings = []
    for file in project.models:
        if file.path.suffix == ".py":
            findings.append(Finding(f"{file.rel}:1", "Python model", "port it as an @asset function in "
                                    f"assets/{file.folders[0] if file.folders else 'main'}/{file.stem}.py", SKIPPED))
            continue
        if file.stem in configs:
            raise ProjectError(f"two models are named {file.stem}: {configs[file.stem][0]} and {file.rel}",
                               path=file.rel, hint="dbt model names are unique in a project; rename one")
        tree, where = tree_config(project.model_tree, file.folders + (file.stem,))
        lines = dict(where)
        config = {k: renderer.render_value(v, "dbt_project.yml", lines.get(k, 0), names) for k, v in tree.items()}
        entry = props.models.get(file.stem)
        if entry is not None:
            rel, _, line = entry.location.rpartition(":")
            config.update({k: renderer.render_value(v, rel, int(line), names) for k, v in entry.config.items()})
            if "tags" in entry.config:
                config["tags"] = list(tree.get("tags", [])) + _as_list(config["tags"])
        if config.get("enabled") is False:
            disabled.add(file.stem)
            findings.append(Finding(f"{file.rel}:1", f"model {file.stem} is disabled (enabled: false)",
                                    "not converted; enable it in dbt first if it is needed", NOTE))
        else:
            configs[file.stem] = (file.rel, config)
    return configs, frozenset(disabled), findings


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _plan_model(model: str, rel: str, config: dict[str, Any], rendered: Rendered, raw: str, options: Options
                ) -> ModelPlan:
    folders = Path(rel).parent.parts[1:]
    schema = str(config.get("schema") or (folders[0] if folders else "main")).lower()
    name = str(config.get("alias") or model).lower()
    materialized = str(config.get("materialized", "view")).lower()
    findings = list(rendered.problems)
    shape, shape_findings = shape_of(materialized, config, raw, rel, options.start)
    findings += shape_findings
    for hook in ("pre-hook", "post-hook", "pre_hook", "post_hook", "sql_header"):
        if config.get(hook):
            findings.append(Finding(f"{rel}:1", f"{hook} is not converted", "run that SQL yourself, or make it "
                                    "part of the query", DROPPED))
    sql = clean_sql(rendered.sql) if rendered.sql is not None else ""
    if rendered.sql is not None and not sql:
        findings.append(Finding(f"{rel}:1", "the model renders to no SQL", "write its SELECT", SKIPPED))
    converted = shape is not None and rendered.sql is not None and bool(sql) and not any(
        f.effect == SKIPPED for f in findings)
    return ModelPlan(model=model, rel=rel, schema=schema, name=name, materialized=materialized, shape=shape,
                     sql=sql, refs=rendered.refs, tags=tuple(str(t) for t in _as_list(config.get("tags", []))),
                     findings=tuple(findings), converted=converted, enabled=config.get("enabled") is not False)


def _scan_definitions(project: DbtProject, texts: Mapping[str, str]) -> list[Finding]:
    """Snapshots and custom materializations, found in the files' text: reported, never run."""
    out = []
    for file in project.snapshots:
        text = file.path.read_text(encoding="utf-8", errors="replace")
        for match in _SNAPSHOT.finditer(text):
            out.append(Finding(f"{file.rel}:{text.count(chr(10), 0, match.start()) + 1}",
                               f"snapshot {match.group(1)} is not converted",
                               "assetflow has no snapshots: keep history with a partitioned asset that appends "
                               "a day's copy", SKIPPED))
    for file in project.macros:
        text = texts.get(file.rel, "")
        for match in _MATERIALIZATION.finditer(text):
            out.append(Finding(f"{file.rel}:{text.count(chr(10), 0, match.start()) + 1}",
                               f"custom materialization {match.group(1)} is not converted",
                               "models using it are listed too; convert them to table, view or incremental",
                               SKIPPED))
    return out

