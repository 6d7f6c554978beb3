"""Engines: where SQL runs and data lands. Each engine is one module behind `base.Engine`."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from assetflow.project.config import CONFIG_FILE, Target
from assetflow.errors import TargetError, UsageError


@contextmanager
def open_engine(target: Target, *, read_only: bool, fault=lambda point: None, wait: float = 0.0) -> Iterator:
    """Open the target's engine; a read-only open of a database that does not exist yields None.

    A writer's folder must exist already (`prepare_database_folder` creates it where that is
    safe): a typo in `path` must not quietly grow a tree of folders somewhere."""
    if target.engine not in ("duckdb", "spark"):
        raise UsageError(f"engine '{target.engine}' is not available in this version",
                         hint="use engine = \"duckdb\" or \"spark\"")
    if target.path != ":memory:":
        refuse_unopenable(target, writing=not read_only)
        if read_only and not Path(target.path).exists():
            yield None
            return
    if target.engine == "spark":
        engine = _open_spark(target, read_only, fault, wait)
    else:
        engine = _open_waiting(target.path, read_only and target.path != ":memory:", fault, wait)
    try:
        yield engine
    finally:
        engine.close()


def _open_spark(target: Target, read_only: bool, fault, wait: float):
    """A Spark target: pyspark must be installed; a writer's warehouse must be writable. No JVM
    starts here (engines/spark.py starts one when SQL runs)."""
    from assetflow.engines.spark_session import require_pyspark
    require_pyspark(target)
    from assetflow.engines.spark import check_warehouse, open_spark
    if not read_only:
        check_warehouse(target)
    return open_spark(target, read_only=read_only, fault=fault, wait=wait)


def prepare_database_folder(target: Target, root: Path) -> None:
    """Make sure a writer can create the target's database file, before the run lock is made
    beside it. Missing folders inside the project are created (`path = ".assetflow/prod.duckdb"`,
    as dbt creates `target/`); a missing folder outside the project is an error."""
    if target.path == ":memory:":
        return
    refuse_unopenable(target, writing=False)
    folder = Path(target.path).parent
    if not folder.exists():
        if not _inside(folder, root):
            raise _target_error(target, f"its folder {folder} does not exist",
                                f"create it first (mkdir -p {folder}), or fix `path` in [targets.{target.name}]")
        folder.mkdir(parents=True, exist_ok=True)
    refuse_unopenable(target, writing=True)


def refuse_unopenable(target: Target, *, writing: bool) -> None:
    """A TargetError naming the target and its path when the database cannot be opened there:
    the path is a folder, lies under a regular file, or (to write) its folder is missing or not
    writable."""
    path = Path(target.path)
    if path.is_dir():
        raise _target_error(target, "it is a directory", "point `path` at a .duckdb file")
    existing = next((p for p in path.parents if os.path.lexists(p)), None)
    if existing is not None and not existing.is_dir():
        raise _target_error(target, f"{existing} is a file, not a folder",
                            f"point `path` in [targets.{target.name}] at a file inside a folder")
    if not writing:
        return
    if existing != path.parent:
        raise _target_error(target, f"its folder {path.parent} does not exist",
                            f"create it first (mkdir -p {path.parent}), or fix `path` in [targets.{target.name}]")
    writable = os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK | os.X_OK)
    if not writable:
        what = f"the file {path}" if path.exists() else f"the folder {path.parent}"
        raise _target_error(target, f"{what} is not writable (permissions or a read-only file system)",
                            f"make it writable, or point `path` in [targets.{target.name}] somewhere writable")


def _target_error(target: Target, problem: str, hint: str) -> TargetError:
    return TargetError(f"target '{target.name}': cannot open the database {target.path}: {problem}",
                       path=CONFIG_FILE, hint=hint)


def _inside(folder: Path, root: Path) -> bool:
    return folder.resolve().is_relative_to(root.resolve())


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
