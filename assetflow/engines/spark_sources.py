"""File sources on Spark: Parquet globs are read by Spark itself; CSV and JSON files are read by
DuckDB's sniffing reader (the one a DuckDB target uses, so both engines see the same columns and
types) into a Parquet copy under the warehouse, which Spark reads. Views are made in every session."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from assetflow.engines.base import SourceView
from assetflow.engines.duckdb_sql import file_reader, sql_string
from assetflow.engines.duckdb_state import run


def register_sources(catalog, file_sources: list[SourceView]) -> None:
    from assetflow.engines.spark_store import name_of
    for source in file_sources:
        asset = str(source.key)
        if source.glob.lower().endswith(".parquet"):
            path = source.glob
        else:
            path = _parquet_copy(catalog, source)
        catalog.drop(asset)
        catalog.sql(f"CREATE VIEW {name_of(asset)} AS SELECT * FROM parquet.`{path.replace('`', '``')}`")
        catalog._kinds[asset] = "view"


def _parquet_copy(catalog, source: SourceView) -> str:
    """A Parquet copy of a CSV/JSON source, named by the files' names, sizes and times (made once
    for each version of the files)."""
    files = sorted(Path(p) for p in _glob(source.glob))
    digest = hashlib.sha256(repr([(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]).encode())
    folder = Path(catalog._target.warehouse) / "_sources" / str(source.key)
    target = folder / f"{digest.hexdigest()[:16]}.parquet"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")

        def copy(cur):
            run(cur, f"COPY (SELECT * FROM {file_reader(cur, source.glob)}) TO {sql_string(str(partial))} "
                     "(FORMAT parquet)")
        catalog._state.read(copy)
        os.replace(partial, target)
        for old in folder.glob("*.parquet"):
            if old != target:
                old.unlink(missing_ok=True)
    return str(target)


def _glob(pattern: str) -> list[str]:
    import glob
    return glob.glob(pattern, recursive=True)
