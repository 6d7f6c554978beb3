"""Engines: where SQL runs and data lands. Each engine is one module behind `base.Engine`."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from assetflow.config import Target
from assetflow.errors import TargetError, UsageError


@contextmanager
def open_engine(target: Target, *, read_only: bool, fault=lambda point: None) -> Iterator:
    """Open the target's engine; a read-only open of a database that does not exist yields None."""
    if target.engine != "duckdb":
        raise UsageError(f"engine '{target.engine}' is not available in this version",
                         hint="use engine = \"duckdb\"")
    from assetflow.engines.duckdb import open_duckdb
    if read_only and target.path != ":memory:" and not Path(target.path).exists():
        yield None
        return
    if target.path != ":memory:" and Path(target.path).is_dir():
        raise TargetError(f"the target path {target.path} is a directory", hint="point `path` at a .duckdb file")
    if not read_only and target.path != ":memory:":
        Path(target.path).parent.mkdir(parents=True, exist_ok=True)
    engine = open_duckdb(target.path, read_only=read_only and target.path != ":memory:", fault=fault)
    try:
        yield engine
    finally:
        engine.close()
