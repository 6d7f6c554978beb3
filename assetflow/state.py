"""Run and materialization records, and the store interface engines implement.

A data version is a number from one increasing sequence per state store: a partition built after
another always has a larger one. "Upstream rebuilt since P" is then a comparison of two integers,
which keeps staleness checks set-based and cheap.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Mapping, NamedTuple, Protocol

if TYPE_CHECKING:
    from assetflow.schedule_records import ScheduleStore

UNPARTITIONED = ""   # how the store spells the one partition of an unpartitioned asset
SUCCESS, FAILED, SKIPPED, RUNNING = "success", "failed", "skipped", "running"


class PartitionRecord(NamedTuple):
    """The latest state of one (asset, partition): its last good build and its last attempt.

    A NamedTuple rather than a dataclass: a state store holds hundreds of thousands of these, and
    tuples are built from columns at C speed.
    """

    code_version: str | None      # None: never built successfully
    data_version: int             # 0 when never built
    status: str                   # status of the last attempt: success | failed
    rows: int | None = None
    built_at: datetime | None = None   # the last good build's run start (its "now"), naive UTC


class AssetState(Mapping[str, PartitionRecord]):
    """One asset's partition records as columns, sorted by partition key.

    Hundreds of thousands of records come from the store as a few lists; the planner compares
    whole columns and only builds a PartitionRecord for the partitions it needs to explain.
    """

    __slots__ = ("keys", "codes", "versions", "statuses", "rows", "built", "_index")

    def __init__(self, keys: list[str], codes: list[str | None], versions: list[int], statuses: list[str],
                 rows: list[int | None], built: list[datetime | None] | None = None):
        self.keys, self.codes, self.versions, self.statuses, self.rows = keys, codes, versions, statuses, rows
        self.built = built if built is not None else [None] * len(keys)
        self._index: dict[str, int] | None = None

    def _position(self, key: str) -> int | None:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        return self._index.get(key)

    def __getitem__(self, key: str) -> PartitionRecord:
        i = self._position(key)
        if i is None:
            raise KeyError(key)
        return PartitionRecord(self.codes[i], self.versions[i], self.statuses[i], self.rows[i], self.built[i])

    def __iter__(self):
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True, slots=True)
class SourceVersion:
    fingerprint: str
    data_version: int


@dataclass(frozen=True)
class StoredVersions:
    """The small part of the store every plan reads: source fingerprints and the newest version."""

    sources: Mapping[str, SourceVersion] = field(default_factory=dict)
    newest: int = 0


@dataclass(frozen=True)
class StateSnapshot:
    partitions: Mapping[str, Mapping[str, PartitionRecord]] = field(default_factory=dict)
    sources: Mapping[str, SourceVersion] = field(default_factory=dict)
    max_version: int = 0


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    run_id: str
    asset: str
    partition: str | None
    attempt: int
    status: str
    started_at: datetime
    ended_at: datetime
    rows: int | None
    error: str | None
    code_version: str
    data_version: int
    input_versions: Mapping[str, int]
    log: tuple[str, ...] = ()       # what a Python asset logged during this attempt (context.log)


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """Why a partition's last attempt failed: its error, when, and in which run."""

    asset: str
    partition: str | None
    error: str
    failed_at: datetime | None
    run_id: str

    @property
    def first_line(self) -> str:
        return next((line for line in self.error.splitlines() if line.strip()), "")


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    command: str
    started_at: datetime
    status: str = RUNNING
    ended_at: datetime | None = None
    pid: int | None = None
    target: str | None = None
    trigger: str = "manual"           # what started it: manual | schedule:NAME (from its tick row)
    tick: datetime | None = None      # the scheduled tick it ran for (naive UTC)


class StateStore(Protocol):
    def read_state(self, with_rows: bool = False) -> StateSnapshot: ...
    def stored_versions(self) -> StoredVersions: ...
    def deviations(self, expectation) -> Mapping[str, Mapping[int, int]]: ...
    def partition_versions(self, assets: set[str]) -> Mapping[str, Mapping[str, int]]: ...
    def record_run(self, run: RunRecord, folded: bool = False) -> None: ...
    def record_sources(self, versions: Mapping[str, SourceVersion]) -> None: ...
    def record_failure(self, attempt: AttemptRecord) -> None: ...
    def list_runs(self, limit: int) -> list[RunRecord]: ...
    def run_attempts(self, run_id: str) -> list[AttemptRecord]: ...
    def failures(self) -> list[FailureRecord]: ...
    def schedules(self) -> ScheduleStore: ...      # ticks, schedule cursors, the heartbeat
