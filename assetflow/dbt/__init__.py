"""`assetflow import-dbt`: convert a dbt project into an assetflow project.

    report = import_project("jaffle_shop", "shop", vars={"start_date": "2024-01-01"})

Models are rendered with jinja2 (ref, source, config, var, env_var, this, target, is_incremental,
the project's macros) into plain SQL assets; seeds, sources and schema.yml tests come along. What
cannot be converted is listed in the report with its file and line; the rest still converts.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from assetflow.dbt.report import ConvertedModel, Finding, ImportReport, to_markdown, to_text
from assetflow.errors import UsageError

__all__ = ["import_project", "parse_var", "render_models", "RenderedModel", "ImportReport", "ConvertedModel", "Finding", "to_markdown", "to_text"]


def import_project(dbt_dir: Path | str, out_dir: Path | str, vars: Mapping[str, Any] | None = None,
                   force: bool = False, env: Mapping[str, str] | None = None, start: str | None = None
                   ) -> ImportReport:
    """Convert the dbt project in `dbt_dir` into an assetflow project in `out_dir`.

    `vars` override the project's vars (dbt's --vars); `env` is what env_var() reads (the CLI passes
    the process environment; the library reads none); `start` is the first partition of incremental
    models without `begin` (an ISO date; default 2020-01-01).
    Raises ProjectError (bad dbt project: file and line) or UsageError (OUT_DIR not empty without
    `force`); nothing is written then.
    """
    from assetflow.dbt.importer import Options, convert
    from assetflow.dbt.project import read_project
    from assetflow.dbt.writer import check_out_dir, write_output
    if start is not None:
        _check_start(start)
    project = read_project(Path(dbt_dir))
    out = Path(out_dir)
    check_out_dir(out, project.root, force)
    output = convert(project, Options(dict(vars or {}), dict(env or {}), start))
    output = replace(output, report=replace(output.report, dbt_dir=str(dbt_dir), out_dir=str(out_dir)))
    write_output(out, output)
    return output.report


def _check_start(start: str) -> None:
    from datetime import date
    try:
        date.fromisoformat(start)
    except ValueError:
        raise UsageError(f"--start {start!r} is not a date", hint="write --start 2024-01-01") from None


def parse_var(text: str) -> tuple[str, Any]:
    """`NAME=VALUE` from the command line; VALUE is read as a YAML scalar (3, true, 2024-01-01 stay text)."""
    from assetflow.dbt.yamlfiles import scalar
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--var {text!r} is not NAME=VALUE", hint="write --var start_date=2024-01-01")
    parsed = scalar(value)
    return name.strip(), value if not isinstance(parsed, (str, int, float, bool)) else parsed


@dataclass(frozen=True, slots=True)
class RenderedModel:
    """A model as the import renders it: the SQL dbt would run for it, with assetflow's names."""

    model: str
    relation: str
    materialized: str
    sql: str
    converted: bool
    reads: tuple[str, ...]          # relations of the models it refs


def render_models(dbt_dir: Path | str, vars: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None) -> list[RenderedModel]:
    """Every enabled SQL model rendered (no header, no partition filter), upstreams first: what the
    converted project must reproduce, for comparing it with the SQL run directly."""
    from graphlib import TopologicalSorter

    from assetflow.dbt.importer import Options, prepare
    from assetflow.dbt.layout import resolve
    from assetflow.dbt.project import read_project
    prepared = prepare(read_project(Path(dbt_dir)), Options(dict(vars or {}), dict(env or {})))
    by_model = {p.model: p for p in prepared.plans}
    order = TopologicalSorter({p.model: [r for r in p.refs if r in by_model] for p in prepared.plans}).static_order()
    return [RenderedModel(m, prepared.relations[m], by_model[m].materialized,
                          resolve(by_model[m].sql, prepared.relations), by_model[m].converted,
                          tuple(prepared.relations[r] for r in by_model[m].refs)) for m in order]
