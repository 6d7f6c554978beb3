"""The session's catalog, rebuilt from assetflow's state: every table an external Parquet table at
the version directories the state records, a partitioned asset as a table partitioned by its
partition key (`__af_partition`, one version directory each) behind a view of the asset's own
columns, views as views, file sources as views over Parquet.

DDL runs under one lock: a partition swap is a DROP and an ADD of the batch's partitions, which
readers in this session never see half-done (a reader of an asset waits for its build).
"""
from __future__ import annotations

import threading
import warnings
from typing import Any

from assetflow import checks as checking
from assetflow.assets import AssetKey
from assetflow.checks import CheckResult
from assetflow.engines import spark_store
from assetflow.engines.base import PartitionWindow, SourceView
from assetflow.engines.duckdb_sql import window_filter
from assetflow.errors import ProjectError
from assetflow.project import sql_rewrite as sqltext

from assetflow.engines.spark_store import PART, data_name, name_of, string


class SparkCatalog:
    def __init__(self, session, state, target):
        self.spark = session
        self._state = state
        self._target = target
        self._lock = threading.RLock()
        self._kinds: dict[str, str] = {}        # asset -> what is registered: table | partitioned | view
        self._databases: set[str] = set()
        self._columns: dict[str, tuple[tuple[str, str], ...]] = {}

    # ------------------------------------------------------------------ registration

    def register_all(self) -> None:
        """Every table, partition and view the state records, in the order they were made."""
        parts = self._state.read(spark_store.parts)
        for table in self._state.read(spark_store.tables):
            try:
                self.register(table, parts.get(table.asset, {}))
            except Exception:   # e.g. a view over what was dropped: its next build makes it again
                self._kinds.pop(table.asset, None)

    def register(self, table: spark_store.SparkTable, parts: dict[str, str | None]) -> None:
        with self._lock:
            self.database(table.asset.partition(".")[0])
            self.drop(table.asset)
            name = name_of(table.asset)
            if table.kind == "view":
                self.sql(f"CREATE VIEW {name} AS {table.view_sql}")
            elif table.kind == "table":
                self.sql(f"CREATE TABLE {name} USING parquet LOCATION {string(table.location)}")
            else:
                self._register_partitioned(table, parts)
            self._kinds[table.asset] = table.kind

    def _register_partitioned(self, table: spark_store.SparkTable, parts: dict[str, str | None]) -> None:
        columns = ", ".join(f"`{c}` {t}" for c, t in table.columns)
        root = f"{self._target.warehouse.rstrip('/')}/{table.asset.replace('.', '/')}"
        self.sql(f"CREATE TABLE {data_name(table.asset)} ({columns}, `{PART}` STRING) USING parquet "
                 f"PARTITIONED BY (`{PART}`) LOCATION {string(root)}")
        self.add_partitions(table.asset, parts)
        self._columns[table.asset] = table.columns
        listed = ", ".join(f"`{c}`" for c, _ in table.columns)
        self.sql(f"CREATE VIEW {name_of(table.asset)} AS SELECT {listed} FROM {data_name(table.asset)}")

    def add_partitions(self, asset: str, parts: dict[str, str | None]) -> None:
        located = [(k, loc) for k, loc in sorted(parts.items()) if loc]
        for chunk in range(0, len(located), 500):
            specs = " ".join(f"PARTITION (`{PART}` = {string(k)}) LOCATION {string(loc)}"
                             for k, loc in located[chunk:chunk + 500])
            self.sql(f"ALTER TABLE {data_name(asset)} ADD IF NOT EXISTS {specs}")

    def swap_partitions(self, asset: str, parts: dict[str, str | None]) -> None:
        """Point the batch's partitions at their new version directories (none: no rows)."""
        with self._lock:
            for chunk in range(0, len(parts), 500):
                keys = sorted(parts)[chunk:chunk + 500]
                specs = ", ".join(f"PARTITION (`{PART}` = {string(k)})" for k in keys)
                self.sql(f"ALTER TABLE {data_name(asset)} DROP IF EXISTS {specs}")
            self.add_partitions(asset, parts)

    def drop(self, asset: str) -> None:
        kind = self._kinds.pop(asset, None)
        name = name_of(asset)
        if kind in ("view", "placeholder"):
            self.sql(f"DROP VIEW IF EXISTS {name}")
        elif kind == "partitioned":
            self.sql(f"DROP VIEW IF EXISTS {name}")
            self.sql(f"DROP TABLE IF EXISTS {data_name(asset)}")
        else:           # a name another project left in this JVM's catalog is replaced too
            for statement in (f"DROP VIEW IF EXISTS {name}", f"DROP TABLE IF EXISTS {name}",
                              f"DROP TABLE IF EXISTS {data_name(asset)}"):
                try:
                    self.sql(statement)
                except Exception:   # DROP VIEW of a table (or the reverse) is an error in Spark
                    pass

    @property
    def lock(self):
        return self._lock

    def kind(self, asset: str) -> str | None:
        return self._kinds.get(asset)

    def columns(self, asset: str) -> tuple[tuple[str, str], ...]:
        """The columns the registered partitioned table was made with."""
        return self._columns.get(asset, ())

    def database(self, schema: str) -> None:
        with self._lock:
            if schema not in self._databases:
                if not self.spark.catalog.databaseExists(schema):
                    self.sql(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
                self._databases.add(schema)

    def prepare(self, schemas: set[str], file_sources: list[SourceView]) -> None:
        from assetflow.engines.spark_sources import register_sources
        for schema in sorted(schemas | {s.key.schema for s in file_sources}):
            self.database(schema)
        with self._lock:
            register_sources(self, file_sources)

    def placeholder(self, asset: str, spark_sql: str) -> None:
        """A view standing in for an asset this run builds, so that its readers can be analyzed
        before the run starts; its build replaces it."""
        with self._lock:
            if asset in self._kinds:
                return
            self.database(asset.partition(".")[0])
            self.drop(asset)
            self.sql(f"CREATE VIEW {name_of(asset)} AS {spark_sql}")
            self._kinds[asset] = "placeholder"

    # ------------------------------------------------------------------ queries

    def sql(self, text: str, params=None):
        return self.spark.sql(text) if params is None else self.spark.sql(text, args=params)

    def query(self, duckdb_sql: str, params: dict | None = None) -> list[tuple]:
        """A DuckDB-dialect query (assetflow's own: checks, counts, freshness) run on Spark."""
        text = sqltext.transpile(duckdb_sql, "duckdb", "spark", params)
        return [tuple(row) for row in self.sql(text).collect()]

    def analyze(self, asset: str, spark_sql: str, params) -> None:
        text = sqltext.transpile(spark_sql, "spark", "spark", params) if params else spark_sql
        self.sql(text)          # a DataFrame is analyzed when it is made; nothing runs
        if self.kind(asset) is None:
            self.placeholder(asset, text)

    def frame(self, key: AssetKey, window: PartitionWindow | None):
        where, params = window_filter(window)
        text = sqltext.transpile(f"SELECT * FROM {key.quoted()} WHERE {where}", "duckdb", "spark", {"?": params})
        return self.sql(text)

    def read_arrow(self, key: AssetKey, window: PartitionWindow | None):
        return to_arrow(self.frame(key, window))

    def show(self, key: AssetKey, window: PartitionWindow | None, limit: int):
        frame = self.frame(key, window).limit(limit)
        columns = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]
        return columns, [tuple(r) for r in frame.collect()]

    def run_checks(self, relation: str, specs, window: PartitionWindow | None) -> list[CheckResult]:
        where, params = window_filter(window)
        results = []
        for spec, ref_relation in specs:
            query = checking.check_query(spec, relation, where, tuple(params), ref_relation)
            count = self.query(query.sql, {"?": list(query.params)} if query.params else None)[0][0]
            results.append(checking.judge(query, int(count or 0)))
        return results


def to_arrow(frame) -> Any:
    """A DataFrame as a pyarrow Table; Spark's TIMESTAMP (with the session in UTC) comes back as
    DuckDB's naive TIMESTAMP, as it was written."""
    import pyarrow as pa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = frame.toArrow()
    fields = [pa.field(f.name, pa.timestamp(f.type.unit)) if pa.types.is_timestamp(f.type) and f.type.tz
              else f for f in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def refuse_analysis(path: str, asset: str, exc: BaseException) -> ProjectError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ProjectError(f"Spark cannot analyze {asset}: {first}", path=path,
                        hint="rewrite the construct Spark names (docs/spark.md lists what differs)")
