"""Secrets never reach a terminal or a log: once a project is loaded, every line the CLI prints and
every log record (an asset's `context.log`) passes through the project's masks (values read
from the environment, webhook URLs, routing keys; see project/interpolate.py)."""
from __future__ import annotations

import logging

import click

from assetflow.project.interpolate import MaskingFilter, Masks


def use_masks(ctx: click.Context, masks: Masks) -> None:
    """Mask with `masks` from now on: in `mask()` and in the `assetflow` loggers' output."""
    ctx.obj["masks"] = masks
    logger = logging.getLogger("assetflow")
    for old in [h for h in logger.handlers if getattr(h, "masks_secrets", False)]:
        logger.removeHandler(old)              # a second load in one process replaces the first
    handler = logging.StreamHandler()          # stderr, where logging printed without a handler
    handler.setLevel(logging.WARNING)
    handler.addFilter(MaskingFilter(masks))
    handler.masks_secrets = True
    logger.addHandler(handler)


def mask(text: str) -> str:
    """`text` with the loaded project's secrets masked (as it is before a project is loaded)."""
    ctx = click.get_current_context(silent=True)
    masks = ctx.obj.get("masks") if ctx is not None and isinstance(ctx.obj, dict) else None
    return masks.mask(text) if masks else text
