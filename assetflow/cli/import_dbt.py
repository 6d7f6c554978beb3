"""`assetflow import-dbt`: convert a dbt project (registered on the main group in cli/app.py)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import click

from assetflow.cli.common import CONTEXT, common_options, examples


@click.command(name="import-dbt", context_settings=CONTEXT, epilog=examples(
    "assetflow import-dbt ~/jaffle_shop ~/shop", "assetflow import-dbt dbt/ shop/ --var start_date=2024-01-01 --force"))
@click.argument("dbt_dir", type=click.Path(path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="Set a dbt var (repeatable); VALUE is read as YAML: 3, true, text.")
@click.option("--start", metavar="DATE",
              help="First partition of incremental models that set no `begin` (default 2020-01-01).")
@click.option("--force", is_flag=True, help="Write into a non-empty OUT_DIR (replaces assets/, seeds/, checks/).")
@common_options(with_project=False)
def import_dbt(dbt_dir: Path, out_dir: Path, variables: tuple[str, ...], start: str | None, force: bool) -> None:
    """Convert the dbt project in DBT_DIR into an assetflow project in OUT_DIR."""
    from assetflow.dbt import import_project, parse_var, to_text
    started = time.perf_counter()
    report = import_project(dbt_dir, out_dir, dict(parse_var(v) for v in variables), force=force,
                            env=dict(os.environ), start=start)
    click.echo(to_text(report))
    click.echo(f"Done in {time.perf_counter() - started:.2f}s. Next: cd {out_dir} && assetflow materialize")
