"""`assetflow show ASSET`: an asset's rows (one partition's with --partition), on any engine."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from assetflow.errors import UsageError
from assetflow.plan.graph import AssetGraph
from assetflow.run.compile import partition_window


@dataclass(frozen=True)
class Preview:
    asset: str
    partition: str | None
    columns: tuple[tuple[str, str], ...]       # (name, the engine's type)
    rows: tuple[tuple[Any, ...], ...]
    limit: int


def show(graph: AssetGraph, name: str, target, partition: str | None, limit: int) -> Preview:
    from assetflow.engines import open_engine
    spec = graph.assets[name]
    if limit < 0:
        raise UsageError("--limit must be 0 or more")
    window = None
    if partition is not None:
        if spec.partitioning is None:
            raise UsageError(f"{name} is not partitioned; drop --partition")
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        window = partition_window(spec, spec.partitioning.index(partition, now))
    with open_engine(target, read_only=True) as engine:
        if engine is None or name not in engine.existing_tables():
            raise UsageError(f"{name} has not been materialized in target '{target.name}'",
                             hint=f"build it first: assetflow materialize {name} --target {target.name}")
        columns, rows = engine.preview(spec.key, window, limit)
    return Preview(name, partition, tuple(columns), tuple(tuple(r) for r in rows), limit)
