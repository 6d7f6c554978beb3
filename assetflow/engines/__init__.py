"""Engines: where SQL runs and data lands. Each engine is one module behind `base.Engine`."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from assetflow.project.config import Target
from assetflow.errors import TargetError, UsageError


@contextmanager
def open_engine(target: Target, *, read_only: bool, fault=lambda point: None, wait: float = 0.0) -> Iterator:
    """Open the target's engine; a read-only open of a database that does not exist yields None."""
    if target.engine != "duckdb":
        raise UsageError(f"engine '{target.engine}' is not available in this version",
                         hint="use engine = \"duckdb\"")
    if read_only and target.path != ":memory:" and not Path(target.path).exists():
        yield None
        return
    if target.path != ":memory:" and Path(target.path).is_dir():
        raise TargetError(f"the target path {target.path} is a directory", hint="point `path` at a .duckdb file")
    if not read_only and target.path != ":memory:":
        Path(target.path).parent.mkdir(parents=True, exist_ok=True)
    engine = _open_waiting(target.path, read_only and target.path != ":memory:", fault, wait)
    try:
        yield engine
    finally:
        engine.close()


def syntax_checker(dialect: str):
    """The syntax check of the engine that parses this dialect, for the loader (`loader.SyntaxCheck`):
    DuckDB's parser for the duckdb dialect; None for others, which sqlglot alone reads."""
    if dialect != "duckdb":
        return None
    from assetflow.engines.duckdb_syntax import DuckDBSyntax
    return DuckDBSyntax()


def _open_waiting(path: str, read_only: bool, fault, wait: float):
    """Open the database, retrying for up to `wait` seconds while another process holds its file
    (a notebook or `status` reading it): DuckDB itself fails at once on a conflicting lock."""
    import time

    from assetflow.engines.duckdb import open_duckdb
    from assetflow.errors import LockError
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return open_duckdb(path, read_only=read_only, fault=fault)
        except LockError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
