"""The Spark engine: assetflow's state in a DuckDB file, the data as Parquet version directories
that Spark writes and the session's catalog points at.

Nothing here starts a JVM until a method needs Spark (`build`, reading data, checks): `status`,
`graph`, `runs` and planning use the state store alone. Writes: engines/spark_writes.py; the
catalog, rebuilt from the state in every session: engines/spark_catalog.py.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from assetflow.assets import AssetKey, Kind
from assetflow.checks import CheckResult
from assetflow.engines import spark_store
from assetflow.engines.base import BuildOutcome, BuildRequest, PartitionWindow, SourceView
from assetflow.engines.duckdb import DuckDBEngine
from assetflow.engines.spark_rebuild import SparkRebuilds
from assetflow.engines.spark_session import interrupt, scratch_dir, start_session
from assetflow.errors import FailureKind

# State-store methods answered by the DuckDB state file as they are on a DuckDB target.
_STATE_METHODS = ("read_state", "stored_versions", "deviations", "partition_versions", "record_run",
                  "record_sources", "record_failure", "fold_runs", "list_runs", "run_attempts", "failures",
                  "mark_abandoned_runs", "find_runs", "record_checks", "latest_checks", "now",
                  "skip_checkpoint_on_close", "schedules", "outbox", "backfills")


class SparkEngine:
    dialect = "spark"

    def __init__(self, target, state: DuckDBEngine, read_only: bool, fault=lambda point: None):
        self.target = target
        self._state = state
        self._read_only = read_only
        self._fault = fault
        self._session: Any = None
        self._created = False
        self._guard = threading.RLock()
        self._catalog = None
        self._file_sources: list[SourceView] = []
        self.rebuilds = SparkRebuilds(state)
        self._interrupted = threading.Event()

    # ------------------------------------------------------------------ the session

    def session(self):
        """The SparkSession, started on first use; the catalog is registered from the state then."""
        with self._guard:
            if self._session is None:
                from assetflow.engines.spark_catalog import SparkCatalog
                self._session, self._created = start_session(self.target, scratch_dir(self.target.path))
                self._catalog = SparkCatalog(self._session, self._state, self.target)
                self._catalog.register_all()
            return self._session

    def catalog(self):
        self.session()
        return self._catalog

    def python_connection(self):
        """What a Python asset receives as `context.con`: the SparkSession."""
        return self.session()

    def use_session(self, statements: tuple[str, ...]) -> None:
        """Project variables are DuckDB's (`SET VARIABLE`, `getvariable`): Spark SQL has neither, so
        nothing is set here; a Spark asset that calls getvariable() fails as Spark reports it."""

    def ensure_macros(self, statements: tuple[str, ...]) -> None:
        """DuckDB's CREATE MACRO has no Spark equivalent that assetflow creates: a Spark asset
        calling a project macro fails as Spark reports the unknown function."""

    def interrupt(self) -> None:
        """Cancel the running Spark jobs; a build whose job ended anyway commits nothing after it."""
        self._interrupted.set()
        if self._session is not None:
            interrupt(self._session)

    def check_interrupted(self, key) -> None:
        from assetflow.engines.spark_errors import SparkJobCancelled
        if self._interrupted.is_set():
            raise SparkJobCancelled(f"Query interrupted: the run was stopped before {key} was recorded")

    def close(self) -> None:
        try:
            if self._session is not None and self._created:
                self._session.stop()
        finally:
            self._state.close()

    @staticmethod
    def failure_kind(exc: BaseException) -> FailureKind:
        from assetflow.engines.spark_errors import failure_kind
        return failure_kind(exc)

    # ------------------------------------------------------------------ preparation

    def prepare(self, schemas: set[str], file_sources: list[SourceView]) -> None:
        self._state.prepare(set(), [])
        self._state.read(spark_store.ensure)
        self.catalog().prepare(schemas, file_sources)

    def moved_source_views(self, file_sources: list[SourceView]) -> list:
        return []          # source views are made afresh in every session

    def repoint_source_views(self, file_sources: list[SourceView]) -> list:
        return []

    # ------------------------------------------------------------------ reads (state only)

    def existing_tables(self) -> set[str]:
        return {t.asset for t in self._state.read(spark_store.tables)}

    def table_columns(self) -> dict[str, dict[str, dict[str, str]]]:
        out: dict[str, dict[str, dict[str, str]]] = {}
        for table in self._state.read(spark_store.tables):
            schema, _, name = table.asset.partition(".")
            out.setdefault(schema, {})[name] = dict(table.columns)
        return out

    def collect_garbage(self) -> int:
        """Remove the version directories the state does not point at (old versions, killed writes)."""
        from assetflow.engines.spark_clean import remove_garbage
        return remove_garbage(self)

    def cleaner(self):
        from assetflow.engines.spark_clean import SparkCleaner
        return SparkCleaner(self)

    # ------------------------------------------------------------------ reads (Spark)

    def read_arrow(self, key: AssetKey, window: PartitionWindow | None):
        return self.catalog().read_arrow(key, window)

    def group_counts(self, relation: str, key_sql: str) -> dict[str, int]:
        rows = self.catalog().query(f"SELECT {key_sql} AS k, count(*) FROM {relation} GROUP BY ALL")
        return {("" if k is None else str(k)): n for k, n in rows}

    def count_rows(self, sql: str) -> int:
        return self.catalog().query(f"SELECT count(*) FROM ({sql})")[0][0]

    def query_fingerprint(self, sql: str, params: dict | None = None) -> str | None:
        """A hash of a freshness query's result (None when it fails); a read-only engine (status)
        starts no JVM and answers "" (unknown)."""
        if self._read_only:
            return ""
        import hashlib
        try:
            rows = self.catalog().query(sql, params)
        except Exception:  # the source is missing or the query fails: the source counts as missing
            return None
        return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]

    def preview(self, key: AssetKey, window: PartitionWindow | None, limit: int):
        """(columns, rows) of up to `limit` rows, for `assetflow show`."""
        return self.catalog().show(key, window, limit)

    # ------------------------------------------------------------------ writes

    def build(self, request: BuildRequest) -> BuildOutcome:
        from assetflow.engines.spark_errors import SparkJobCancelled, cancelled
        from assetflow.engines.spark_writes import write
        try:
            return write(self, request)
        except Exception as exc:  # py4j and pyspark raise many classes: a cancelled job is told by its text
            if cancelled(exc):
                raise SparkJobCancelled(f"Query interrupted: the Spark job of {request.key} was cancelled") from None
            raise

    def interrupter(self):
        """What cancels the Spark jobs this thread starts from now on (a step's timeout)."""
        from assetflow.engines.spark_session import job_group
        return job_group(self.session())

    def analyze(self, asset: str, sql: str, params) -> None:
        """Spark's analyzer judges the query before the run starts (no job runs)."""
        self.catalog().analyze(asset, sql, params)

    def rebuilding(self, key: AssetKey) -> bool:
        """A partitioned asset whose columns changed is rebuilt beside its table (engines/spark_rebuild)."""
        return self.rebuilds.rebuilding(key)

    def swap_in(self, key: AssetKey, run_id: str) -> None:
        self.rebuilds.swap_in(self.catalog(), key, run_id, self._fault)

    def discard_rebuild(self, key: AssetKey) -> None:
        self.rebuilds.discard(key)

    def discard_rebuilds(self) -> None:
        self.rebuilds.discard_all()

    def run_checks(self, key: AssetKey, specs, window: PartitionWindow | None) -> list[CheckResult]:
        return self.catalog().run_checks(key.quoted(), tuple(specs), window)

    @property
    def state(self) -> DuckDBEngine:
        return self._state

    @property
    def fault(self):
        return self._fault

    @property
    def warehouse(self) -> str:
        return self.target.warehouse


def _delegate(name: str):
    def method(self, *args, **kwargs):
        return getattr(self._state, name)(*args, **kwargs)
    method.__name__ = name
    method.__doc__ = f"The state store's {name} (the target's DuckDB state file)."
    return method


for _name in _STATE_METHODS:
    setattr(SparkEngine, _name, _delegate(_name))


def open_spark(target, *, read_only: bool, fault, wait: float):
    """The engine over the target's state file (opened as a DuckDB target's database is)."""
    from assetflow.engines import _open_waiting
    state = _open_waiting(target.path, read_only, fault, wait)
    return SparkEngine(target, state, read_only, fault)


def check_warehouse(target) -> None:
    """A local warehouse folder must exist or be creatable, and be writable (exit 2 otherwise)."""
    import os

    from assetflow.errors import TargetError
    if "://" in target.warehouse and not target.warehouse.startswith("file:"):
        return
    path = Path(target.warehouse.removeprefix("file:"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TargetError(f"target '{target.name}': cannot create the warehouse {path}: {exc.strerror}",
                          path="assetflow.toml", hint=f"fix `warehouse` in [targets.{target.name}]") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise TargetError(f"target '{target.name}': the warehouse {path} is not writable",
                          path="assetflow.toml",
                          hint=f"make it writable, or point `warehouse` in [targets.{target.name}] elsewhere")
