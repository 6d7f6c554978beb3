"""`assetflow show ASSET [--partition KEY] [--limit N] [--target NAME] [--json]`: an asset's rows,
on any engine. app.py registers it, handing over its loader and shared options."""
from __future__ import annotations

from typing import Callable

import click


def command(load: Callable[[click.Context], object], project_option, context: dict, epilog: str) -> click.Command:
    @click.command(name="show", context_settings=context, epilog=epilog)
    @click.argument("asset")
    @click.option("--partition", help="Show one partition's rows (its key, e.g. 2024-01-31).")
    @click.option("--limit", type=int, default=20, show_default=True, help="At most this many rows.")
    @click.option("--target", help="Target from assetflow.toml (default: the first).")
    @click.option("--json", "as_json", is_flag=True,
                  help='Machine-readable: {"columns": [{"name", "type"}], "rows": [[...], ...]}.')
    @project_option
    @click.pass_context
    def show(ctx: click.Context, asset: str, partition: str | None, limit: int, target: str | None,
             as_json: bool) -> None:
        """Print the rows of ASSET as the target holds them (DuckDB or Spark)."""
        from assetflow import api
        from assetflow.cli import render
        preview = api.show(load(ctx), asset, partition, limit, target)
        if as_json:
            click.echo(render.to_json({"columns": [{"name": n, "type": t} for n, t in preview.columns],
                                       "rows": [list(r) for r in preview.rows]}))
        else:
            click.echo(table_text(preview))

    return show


def table_text(preview) -> str:
    """Aligned columns with a header and the column types; NULL for a missing value."""
    names = [n for n, _ in preview.columns]
    cells = [[_cell(v) for v in row] for row in preview.rows]
    widths = [max([len(n), len(t)] + [len(r[i]) for r in cells]) for i, (n, t) in enumerate(preview.columns)]
    def line(values):
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()
    out = [line(names), line([t for _, t in preview.columns]), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    what = f"{preview.asset}" + (f" [{preview.partition}]" if preview.partition else "")
    more = f" (--limit {preview.limit})" if len(cells) == preview.limit else ""
    out.append(f"{len(cells)} row(s) of {what}{more}")
    return "\n".join(out)


def _cell(value) -> str:
    return "NULL" if value is None else str(value)
