"""Options shared by several commands: `--exclude` (every command that takes a selection)."""
from __future__ import annotations

import click


def exclude_option(func):
    """`--exclude SELECTION`, repeatable: the assets it names are removed from the selection."""
    return click.option("--exclude", "exclude", multiple=True, metavar="SELECTION",
                        help="Remove the assets this selection names (same grammar; repeatable).")(func)
