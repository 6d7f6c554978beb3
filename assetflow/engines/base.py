"""The engine seam: what the executor needs from a database, and nothing more."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Protocol

from assetflow.assets import AssetKey, Kind, SeedOptions
from assetflow.checks import CheckResult, CheckSpec
from assetflow.errors import FailureKind
from assetflow.state import AttemptRecord, StateStore


@dataclass(frozen=True, slots=True)
class PartitionWindow:
    """What a partitioned write replaces: rows of `column` in [start, end), or `column = key`."""

    column: str
    start: Any = None
    end: Any = None
    key: str | None = None


@dataclass(frozen=True)
class BuildRequest:
    """Write one asset partition (or a whole table/view) and its state record, atomically."""

    key: AssetKey
    kind: Kind
    attempt: AttemptRecord                     # the success record to commit with the data
    sql: str | None = None                     # the query, in the engine's dialect
    params: Mapping[str, Any] = field(default_factory=dict)
    arrow: Any = None                          # a pyarrow Table (Python assets), instead of sql
    seed_file: str | None = None               # absolute path of a seed file, instead of sql
    seed_options: SeedOptions | None = None    # how to read a CSV seed (None: detected)
    window: PartitionWindow | None = None      # partitioned assets only
    rebuilding_all: bool = False               # this run rebuilds every partition of the asset
    batch: tuple[tuple[AttemptRecord, PartitionWindow], ...] = ()   # batch_size: each partition's record
    checks: tuple[tuple[CheckSpec, str | None], ...] = ()   # (check, relation a relationships check reads)


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    rows: int | None                           # None for a view: it holds no rows of its own
    rows_each: tuple[int, ...] = ()            # per partition of a batch
    checks: tuple[CheckResult, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceView:
    """A declared file source exposed as a view `name` over `glob` (absolute)."""

    key: AssetKey
    glob: str


class Engine(StateStore, Protocol):
    dialect: str                  # the SQL dialect it runs: duckdb, spark

    def prepare(self, schemas: set[str], file_sources: list[SourceView]) -> None: ...
    def build(self, request: BuildRequest) -> BuildOutcome: ...
    # A full rebuild whose columns changed is built beside the table and swapped in whole:
    def rebuilding(self, key: AssetKey) -> bool: ...
    def swap_in(self, key: AssetKey, run_id: str) -> None: ...
    def discard_rebuild(self, key: AssetKey) -> None: ...
    def discard_rebuilds(self) -> None: ...
    def moved_source_views(self, file_sources: list[SourceView]) -> list[Any]: ...
    def repoint_source_views(self, file_sources: list[SourceView]) -> list[Any]: ...
    def read_arrow(self, key: AssetKey, window: PartitionWindow | None) -> Any: ...
    def preview(self, key: AssetKey, window: PartitionWindow | None, limit: int) -> tuple[list, list]: ...
    def query_fingerprint(self, sql: str) -> str: ...
    def python_connection(self) -> Any: ...     # a Python asset's `context.con`
    def use_session(self, statements: tuple[str, ...]) -> None: ...   # run on every connection first
    def ensure_macros(self, statements: tuple[str, ...]) -> None: ...  # create project macros, once each
    def interrupt(self) -> None: ...
    def skip_checkpoint_on_close(self) -> None: ...
    def fold_runs(self) -> None: ...
    def collect_garbage(self) -> int: ...          # data no state points at (clean --yes)
    def close(self) -> None: ...
    def now(self) -> datetime: ...
    def failure_kind(self, exc: BaseException) -> FailureKind: ...


# ---------------------------------------------------------------------------- clean


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """The rows a partitioned asset's current partitions hold: `column` in [start, end) for time
    partitions, or `column` in `keys` for static ones. `key_sql` maps a row to its partition key."""

    key: AssetKey
    column: str
    key_sql: str
    start: Any = None
    end: Any = None
    keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CleanRequest:
    """What `assetflow clean --yes` removes, in one transaction."""

    drop: tuple[tuple[AssetKey, str], ...] = ()          # relations assetflow built, with kind table | view
    forget: tuple[str, ...] = ()                         # assets whose partition records and checks go
    outside: tuple[PartitionRange, ...] = ()             # delete the rows outside each range
    records: tuple[tuple[str, str], ...] = ()            # (asset, partition) records outside the range
