"""`assetflow init`: copy the project template into a new folder."""
from __future__ import annotations

import shutil
from pathlib import Path

from assetflow.errors import UsageError

_IGNORE = shutil.ignore_patterns("*.duckdb", "*.duckdb.wal", "*.lock", ".assetflow", "__pycache__")


def template_dir() -> Path:
    """The template: packaged inside assetflow, or beside it in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "template",):
        if (candidate / "assetflow.toml").is_file():
            return candidate
    raise UsageError("the project template is missing from this installation",
                     hint="reinstall assetflow (pip install -e . from a checkout)")


def create_project(directory: Path) -> Path:
    directory = directory.resolve()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(f"{directory} already exists and is not empty",
                         hint="pick a new folder name, or empty this one")
    shutil.copytree(template_dir(), directory, ignore=_IGNORE, dirs_exist_ok=True)
    return directory
