"""Options shared by several commands: `--exclude` (every command that takes a selection), `--var`."""
from __future__ import annotations

import click


def exclude_option(func):
    """`--exclude SELECTION`, repeatable: the assets it names are removed from the selection."""
    return click.option("--exclude", "exclude", multiple=True, metavar="SELECTION",
                        help="Remove the assets this selection names (same grammar; repeatable).")(func)


def var_option(func):
    """`--var NAME=VALUE`, repeatable: project variables for this command, over [vars]. Parsed
    here and kept in the context object, where `common.load` hands them to the loader."""
    def keep(ctx: click.Context, _param, values: tuple[str, ...]) -> None:
        from assetflow.project.variables import parse_overrides
        if values:
            ctx.ensure_object(dict)["vars"] = parse_overrides(values)
    return click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", expose_value=False,
                        callback=keep, help="Set a project variable (getvariable('NAME') in SQL), over "
                        "[vars] in assetflow.toml; VALUE is read as TOML when it is (5, true, 2024-01-01), "
                        "else as text. Repeatable.")(func)
