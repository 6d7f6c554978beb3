"""Secrets never reach a terminal or a log: once a project is loaded, every line the CLI prints and
every log record (an asset's `context.log`) passes through the project's masks (values read
from the environment, webhook URLs, routing keys; see project/interpolate.py)."""
from __future__ import annotations

import sys

import click

from assetflow.project.interpolate import Masks


def use_masks(ctx: click.Context, masks: Masks) -> None:
    """Mask with `masks` from now on: in `mask()` and in what the `assetflow` loggers print.

    A project without secrets installs nothing (and does not import logging on a no-op run)."""
    ctx.obj["masks"] = masks
    if not masks and "logging" not in sys.modules:
        return
    import logging
    logger = logging.getLogger("assetflow")
    for old in [h for h in logger.handlers if getattr(h, "masks_secrets", False)]:
        logger.removeHandler(old)              # a second load in one process replaces the first
    if not masks:
        return
    handler = logging.StreamHandler()          # stderr, where logging printed without a handler
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: _mask_record(record, masks))
    handler.masks_secrets = True
    logger.addHandler(handler)


def _mask_record(record, masks: Masks) -> bool:
    """Mask the formatted message before any handler prints it (a logging filter callable)."""
    record.msg, record.args = masks.mask(record.getMessage()), None
    return True


def mask(text: str) -> str:
    """`text` with the loaded project's secrets masked (as it is before a project is loaded)."""
    ctx = click.get_current_context(silent=True)
    masks = ctx.obj.get("masks") if ctx is not None and isinstance(ctx.obj, dict) else None
    return masks.mask(text) if masks else text


def warn(problems) -> None:
    """One masked `warning:` line on stderr per problem (an alert that did not arrive)."""
    for problem in problems:
        click.echo(mask(f"warning: {problem}"), err=True)
