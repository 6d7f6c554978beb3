"""`assetflow clean`: the command. app.py registers it, handing over its project loader and the
options every command shares (so this module needs nothing from app.py, and imports no cycle)."""
from __future__ import annotations

from typing import Callable

import click


def command(load: Callable[[click.Context], object], project_option, context: dict) -> click.Command:
    @click.command(name="clean", context_settings=context)
    @click.option("--yes", is_flag=True, help="Drop and delete what is listed, in one transaction.")
    @click.option("--target", help="Target from assetflow.toml (default: the first).")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @project_option
    @click.pass_context
    def clean(ctx: click.Context, yes: bool, target: str | None, as_json: bool) -> None:
        """List the tables, views and state of assets that no longer exist, and rows outside an
        asset's partition range; drop them with --yes.

        Only what assetflow built is ever a candidate. Example: `assetflow clean`, then
        `assetflow clean --yes`.
        """
        from assetflow import api
        from assetflow.cli import render
        report = api.clean(load(ctx), target, yes)
        click.echo(render.to_json(render.clean_json(report)) if as_json else render.clean_text(report))

    return clean
