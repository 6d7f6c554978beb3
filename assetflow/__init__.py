"""assetflow: an asset-centric data build tool.

The public facade. `asset` and `AssetContext` are what asset files import, so they load eagerly
and cheaply; the rest of the library loads on first use.
"""
from __future__ import annotations

from assetflow.assets import AssetContext, AssetKey, asset
from assetflow.errors import AssetflowError, ProjectError, UsageError

__all__ = ["asset", "AssetContext", "AssetKey", "AssetflowError", "ProjectError", "UsageError",
           "load_project", "materialize", "status", "MaterializeOptions"]
__version__ = "0.1.0"

_LAZY = {"load_project": ("assetflow.loader", "load_project"),
         "materialize": ("assetflow.runner", "materialize"),
         "status": ("assetflow.runner", "status"),
         "MaterializeOptions": ("assetflow.runner", "MaterializeOptions")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'assetflow' has no attribute {name!r}")
