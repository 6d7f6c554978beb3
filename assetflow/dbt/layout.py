"""Where everything goes in the assetflow project: asset names and files, seeds, `[sources]`, checks,
and the files of the output with the report."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from assetflow.dbt import checkspecs
from assetflow.dbt.context import SENTINEL, Names, Relation, RenderLog
from assetflow.dbt.models import Shape, clean_sql, header, strip_comments, wrap_partitioned
from assetflow.dbt.project import DbtProject, tree_config
from assetflow.dbt.properties import Properties, SourceTable, TestUse
from assetflow.dbt.render import Renderer
from assetflow.dbt.report import NOTE, SKIPPED, ConvertedModel, Finding, ImportReport
from assetflow.errors import ProjectError

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED = frozenset("all and any as asc by case cast check column create default desc distinct do else end "
                      "except false for foreign from grant group having in intersect into is join lateral limit "
                      "not null offset on only or order primary references select table then to true union "
                      "unique user using when where window with".split())


@dataclass(frozen=True, slots=True)
class ModelPlan:
    model: str
    rel: str
    schema: str
    name: str
    materialized: str
    shape: Shape | None
    sql: str
    refs: tuple[str, ...]
    tags: tuple[str, ...]
    findings: tuple[Finding, ...]
    converted: bool
    enabled: bool = True

    @property
    def asset(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def out_file(self) -> str:
        return f"assets/{self.name}.sql" if self.schema == "main" else f"assets/{self.schema}/{self.name}.sql"


@dataclass(frozen=True)
class SeedPlan:
    assets: dict[str, str]          # seed name -> asset
    files: dict[str, Path]          # seed name -> its CSV
    rels: dict[str, str]            # seed name -> file in the dbt project
    dbt_relations: dict[str, str]   # the relation dbt loads it into -> seed name
    findings: list[Finding]


@dataclass(frozen=True)
class SourcePlan:
    relations: dict[tuple[str, str], str]              # (source, table) -> what the SQL reads
    entries: list[tuple[str, dict[str, str], str]]     # [sources] key, its table, a comment
    tables: list[SourceTable]
    findings: list[Finding]


@dataclass(frozen=True)
class Output:
    files: dict[str, str]
    copies: dict[str, Path]
    report: ImportReport
    checks: list[checkspecs.CustomCheck] = field(default_factory=list)


def relation(schema: str, name: str) -> str:
    return ".".join(p if _PLAIN.match(p) and p not in _RESERVED else '"' + p.replace('"', '""') + '"'
                    for p in (schema, name))


def plan_seeds(project: DbtProject, props: Properties, renderer: Renderer, names: Names) -> SeedPlan:
    assets, files, rels, dbt_relations, findings = {}, {}, {}, {}, []
    for seed in project.seeds:
        tree, _ = tree_config(project.seed_tree, seed.folders + (seed.stem,))
        config = {k: renderer.render_value(v, "dbt_project.yml", 0, names) for k, v in tree.items()}
        entry = props.seeds.get(seed.stem)
        config.update(entry.config if entry else {})
        if config.get("enabled") is False:
            findings.append(Finding(f"{seed.rel}:1", f"seed {seed.stem} is disabled", "not copied", NOTE))
            continue
        if seed.stem in assets:
            raise ProjectError(f"two seeds are named {seed.stem}: {rels[seed.stem]} and {seed.rel}", path=seed.rel)
        assets[seed.stem] = relation("seeds", seed.stem.lower())
        files[seed.stem], rels[seed.stem] = seed.path, seed.rel
        dbt_relations[f"{config.get('schema') or 'main'}.{config.get('alias') or seed.stem}".lower()] = seed.stem
        if config.get("column_types"):
            findings.append(Finding(f"{seed.rel}:1", "seed column_types are not converted",
                                    "DuckDB's CSV sniffer picks the types; cast in a model that reads the seed",
                                    DROPPED))
    return SeedPlan(assets, files, rels, dbt_relations, findings)


def plan_sources(props: Properties, seeds: SeedPlan) -> SourcePlan:
    """Each dbt source table is a `[sources]` table entry, unless it names a table a seed of the
    project loads (a project that seeds its raw data): then it reads the seed."""
    relations, entries, notes = {}, [], []
    for table in props.sources:
        seed = seeds.dbt_relations.get(table.relation.lower())
        if seed is not None:
            relations[(table.source, table.table)] = seeds.assets[seed]
            notes.append(Finding(table.location, f"source {table.source}.{table.table} is the table seed {seed} "
                                 f"loads", f"it reads {seeds.assets[seed]}", NOTE))
            continue
        schema, _, name = table.relation.lower().partition(".")
        key = f"{schema}.{name}"
        relations[(table.source, table.table)] = relation(schema, name)
        spec = {"table": f"{table.database}.{table.relation}" if table.database else table.relation}
        if table.loaded_at_field:
            spec["freshness"] = f"select max({table.loaded_at_field}) from {spec['table']}"
        entries.append((key, spec, f"dbt source {table.source}.{table.table} ({table.location})"))
    return SourcePlan(relations, entries, list(props.sources), notes)


def relations_of(plans: list[ModelPlan], seeds: SeedPlan, sources: SourcePlan) -> dict[str, str]:
    """Each model's relation; two names that differ only in case are an error, as in assetflow."""
    taken = {a.lower(): seeds.rels[s] for s, a in seeds.assets.items()}
    taken.update({key.lower(): comment for key, _, comment in sources.entries})
    out = {}
    for plan in plans:
        key = plan.asset.lower()
        if key in taken:
            raise ProjectError(f"{plan.rel} would be asset {plan.asset}, like {taken[key]}", path=plan.rel,
                               hint="give one of them another schema (config(schema=...)) or alias")
        taken[key] = plan.rel
        out[plan.model] = relation(plan.schema, plan.name)
    return out


def resolve(sql: str, relations: Mapping[str, str]) -> str:
    """Put each model's final relation into rendered SQL (refs render before names are known)."""
    def part(match: re.Match) -> str:
        kind, model = match.group(1), match.group(2)
        schema, _, name = relations[model].partition(".")
        return {"ref": relations[model], "schema": schema, "alias": name}[kind]
    return SENTINEL.sub(part, sql)


def model_file(plan: ModelPlan, relations: Mapping[str, str], checks: list[str], entry) -> str:
    """The asset file: header, a line naming the dbt model, and the query with names resolved."""
    assert plan.shape is not None
    read = strip_comments(plan.sql)
    deps = [relations[r] for r in plan.refs if f"\u27e6ref:{r}\u27e7" not in read]
    body = resolve(plan.sql, relations)
    if plan.shape.kind == "partitioned" and plan.shape.time_column:
        body = wrap_partitioned(body, plan.shape.time_column)
    about = f"-- converted from dbt model {plan.rel}\n"
    docs = (entry.description, entry.columns) if entry is not None else (None, ())
    return header(plan.shape, list(plan.tags), deps, checks, *docs) + about + body + "\n"


def assemble(project: DbtProject, plans: list[ModelPlan], relations: dict[str, str], seeds: SeedPlan,
             sources: SourcePlan, props: Properties, renderer: Renderer, names: Names) -> Output:
    files: dict[str, str] = {}
    findings: list[Finding] = []
    custom: list[checkspecs.CustomCheck] = []
    resolve_to = checkspecs.resolve_target(lambda m: relations.get(m, seeds.assets.get(m)), sources.relations)
    models, placeholders = [], []
    by_model = {p.model: p for p in plans}
    for plan in plans:
        findings += plan.findings
        if not plan.converted:
            placeholders.append((plan.asset, {"table": relations[plan.model]},
                                 f"not converted: dbt model {plan.rel}; build this table yourself"))
            continue
        entry = props.models.get(plan.model)
        reads = frozenset(_reads(plan.model, by_model, relations)) | frozenset(seeds.assets.values()) | \
            frozenset(sources.relations.values())
        checks = _tests(entry.tests if entry else (), relations[plan.model], plan.asset, resolve_to, reads,
                        custom, findings, renderer, names, relations)
        files[plan.out_file] = model_file(plan, relations, checks, entry)
        models.append(ConvertedModel(plan.model, plan.rel, plan.asset, plan.out_file, plan.materialized,
                                     plan.shape.kind if plan.shape else "", len(checks)))
    for seed, asset in seeds.assets.items():
        entry = props.seeds.get(seed)
        _tests(entry.tests if entry else (), asset, asset, resolve_to, None, custom, findings, renderer, names,
               relations)
    for table in sources.tables:
        findings += [Finding(t.location, f"test {t.name}({t.column or ''}) on source {table.source}.{table.table} "
                             "is not converted", "assetflow runs checks on assets: put it in the header of the "
                             "asset that reads the source", SKIPPED) for t in table.tests]
    custom += _singular_tests(project, renderer, names, relations, findings)
    for check in custom:
        files[f"checks/{check.stem}.sql"] = checkspecs.custom_check_text(check)
    files["assetflow.toml"] = project_toml(project.name, sources.entries + placeholders)
    report = ImportReport(
        project=project.name, dbt_dir=str(project.root), out_dir="", models=tuple(models),
        seeds=tuple((seeds.rels[s], a) for s, a in seeds.assets.items()),
        sources=tuple((c.split(" (")[0].removeprefix("dbt source "), k) for k, _, c in sources.entries),
        custom_checks=tuple((c.what, f"checks/{c.stem}.sql") for c in custom), findings=tuple(findings))
    copies = {f"seeds/{seed.lower()}.csv": path for seed, path in seeds.files.items()}
    return Output(files, copies, report, custom)


def _reads(model: str, by_model: Mapping[str, ModelPlan], relations: Mapping[str, str]) -> set[str]:
    """The relations of every model `model` reads, directly or not."""
    seen: set[str] = set()
    unvisited = list(by_model[model].refs)
    while unvisited:
        ref = unvisited.pop()
        if ref not in seen and ref in by_model:
            seen.add(ref)
            unvisited.extend(by_model[ref].refs)
    return {relations[r] for r in seen}


def _tests(tests: tuple[TestUse, ...], relation_text: str, owner: str, resolve_to: checkspecs.Resolver,
           reads: frozenset[str] | None, custom: list, findings: list, renderer: Renderer, names: Names,
           relations: Mapping[str, str]) -> list[str]:
    """Convert `tests` of one model, seed or source; returns the header checks, adds the rest.
    `reads`: what a model reads (None for a seed or source: those get custom checks only)."""
    header_checks = []
    for test in tests:
        if test.name not in checkspecs.BUILT_IN and "." not in test.name:
            check = _generic_test(test, relation_text, owner, renderer, names, relations)
        else:
            check = checkspecs.convert_test(test, relation_text, owner, resolve_to, reads is not None,
                                            reads or frozenset())
        if isinstance(check, checkspecs.HeaderCheck):
            header_checks.append(check.toml)
        elif isinstance(check, checkspecs.CustomCheck):
            custom.append(check)
        else:
            findings.append(check)
    return header_checks


def _generic_test(test: TestUse, relation_text: str, owner: str, renderer: Renderer, names: Names,
                  relations: Mapping[str, str]) -> checkspecs.CustomCheck | Finding:
    """A test defined by the project (`{% test name(model, column_name) %}`), rendered to its query."""
    log = RenderLog(test.location.rpartition(":")[0])
    schema, _, name = relation_text.partition(".")
    kwargs: dict[str, Any] = {"model": Relation(relation_text, None, schema, name), **test.args}
    if test.column is not None:
        kwargs["column_name"] = test.column
    sql = renderer.call(names, log, f"test_{test.name}", **kwargs)
    if sql is None or log.problems or not clean_sql(sql):
        return log.problems[0] if log.problems else Finding(
            test.location, f"test {test.name} is not converted",
            f"no test {test.name} is defined in macros/ or tests/generic/; write checks/<name>.sql", SKIPPED)
    return checkspecs.CustomCheck(checkspecs.check_stem(owner, test), resolve(clean_sql(sql), relations), test.severity,
                                  f"{test.name}({test.column or ''}) on {owner}")


def _singular_tests(project: DbtProject, renderer: Renderer, names: Names, relations: Mapping[str, str],
                    findings: list[Finding]) -> list[checkspecs.CustomCheck]:
    """`tests/*.sql` return the rows that fail, as assetflow's custom checks do."""
    out = []
    for test in project.tests:
        rendered = renderer.render(test.rel, names)
        if rendered.sql is None or rendered.problems:
            findings += rendered.problems
            continue
        severity = str(rendered.config.get("severity", "error")).lower()
        out.append(checkspecs.CustomCheck(test.stem.lower(), resolve(clean_sql(rendered.sql), relations),
                                          "warn" if severity == "warn" else "error", f"singular test {test.rel}"))
    return out


def project_toml(name: str, sources: list[tuple[str, dict[str, str], str]]) -> str:
    lines = ["[project]", f"name = {json.dumps(name)}", 'dialect = "duckdb"', "",
             "[targets.dev]", 'engine = "duckdb"', 'path = "warehouse.duckdb"', ""]
    if sources:
        lines.append("[sources]")
        for key, spec, comment in sources:
            body = ", ".join(f"{k} = {json.dumps(v)}" for k, v in spec.items())
            lines += [f"# {comment}", f"{json.dumps(key)} = {{ {body} }}"]
    return "\n".join(lines) + "\n"
