"""assetflow: an asset-centric data build tool.

The public facade. Every name loads on first use, so that `import assetflow.cli.app` (and
`assetflow --help`) pays only for what it runs: asset files reach `asset` and `AssetContext`
through here too, and get them from `assetflow.assets` the first time they ask.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assetflow.assets import AssetContext, AssetKey, asset
    from assetflow.errors import AssetflowError, ProjectError, UsageError
    from assetflow.api import MaterializeOptions, load_project, materialize, status

__all__ = ["asset", "AssetContext", "AssetKey", "AssetflowError", "ProjectError", "UsageError",
           "load_project", "materialize", "status", "MaterializeOptions"]
__version__ = "0.1.0"

_LAZY = {"asset": "assetflow.assets", "AssetContext": "assetflow.assets", "AssetKey": "assetflow.assets",
         "AssetflowError": "assetflow.errors", "ProjectError": "assetflow.errors", "UsageError": "assetflow.errors",
         "load_project": "assetflow.api", "materialize": "assetflow.api", "status": "assetflow.api",
         "MaterializeOptions": "assetflow.api"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'assetflow' has no attribute {name!r}")
