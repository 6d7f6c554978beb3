"""`assetflow clean` on a Spark target: the relations are the ones the state records; removing one
forgets it in the state, and the version directories no state row points at (old versions, and
what a killed write left) are deleted, after the state no longer names them."""
from __future__ import annotations

import shutil
from pathlib import Path

from assetflow.engines import spark_store
from assetflow.engines.base import CleanRequest, PartitionRange
from assetflow.engines.duckdb_clean import Cleaner, _outside


class SparkCleaner:
    def __init__(self, engine):
        self._engine = engine
        state = engine.state
        self._cleaner = Cleaner(state.connection(), lambda cur, work: state.in_transaction(lambda _: work()))

    def relations(self) -> dict[str, str]:
        return {t.asset: ("view" if t.kind == "view" else "table") for t in self._engine.state.read(spark_store.tables)}

    def recorded(self) -> dict[str, tuple[int, bool]]:
        return self._cleaner.recorded()

    def source_views(self) -> set[str]:
        return set()

    def rows_outside(self, rng: PartitionRange) -> dict[str, int]:
        outside, params = _outside(rng)
        rows = self._engine.catalog().query(f"SELECT {rng.key_sql} AS k, count(*) FROM {rng.key.quoted()} "
                                            f"WHERE {outside} GROUP BY ALL ORDER BY 1", {"?": params})
        return {("" if k is None else str(k)): n for k, n in rows}

    def apply(self, request: CleanRequest) -> None:
        """Forget dropped assets and outside records; rows outside a range of a partitioned asset
        go with their partitions' records (their directories become garbage)."""
        state = self._engine.state

        def work(cur):
            for key, _ in request.drop:
                spark_store.forget(cur, str(key))
            for asset, partition in request.records:
                cur.execute("DELETE FROM _assetflow.spark_parts WHERE asset = ? AND partition = ?", [asset, partition])
        state.in_transaction(work)
        self._cleaner.apply(CleanRequest(forget=request.forget, records=request.records))
        remove_garbage(self._engine)


def garbage(engine) -> list[Path]:
    """Version directories under the warehouse that the state does not point at."""
    if "://" in engine.warehouse:
        return []
    referenced = {Path(p.removeprefix("file:")) for p in engine.state.read(spark_store.referenced)}
    keep = referenced | {p.parent for p in referenced}
    found = []
    for versions in Path(engine.warehouse).glob("**/_v"):
        for version in versions.iterdir():
            if version.is_dir() and version not in keep:
                found.append(version)
    return found


def remove_garbage(engine) -> int:
    removed = 0
    for path in garbage(engine):
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed
