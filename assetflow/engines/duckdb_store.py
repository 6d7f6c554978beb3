"""The state store half of the DuckDB engine (`state.StateStore`): runs, attempts, partition
records, source versions, checks, backfills, the outbox and the scheduler's tables, each read or
written through `duckdb_state` and its sibling modules on this thread's cursor.

A base class of `DuckDBEngine`, which supplies what every method here uses: `connection()` (this
thread's cursor), `_transaction(cur, work)` (BEGIN ... COMMIT behind the checkpoint gate),
`_read_only`, `_fault` (the crash-test fault points) and `now()`. Kept apart from the engine so
that building data and keeping its record read as two concerns.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from assetflow.engines import duckdb_state as store
from assetflow.plan.freshness import Expectation
from assetflow.state import AttemptRecord, FailureRecord, RunRecord, SourceVersion, StateSnapshot, StoredVersions


class DuckDBStateStore:
    """Every state-store method of the DuckDB engine."""

    def read_state(self, with_rows: bool = False) -> StateSnapshot:
        return store.read_state(self.connection(), with_rows)

    def stored_versions(self) -> StoredVersions:
        return store.stored_versions(self.connection())

    def deviations(self, expectation: Expectation) -> dict[str, dict[int, int]]:
        from assetflow.engines.duckdb_deviations import deviations
        return deviations(self.connection(), expectation)

    def partition_versions(self, assets: set[str]) -> dict[str, dict[str, int]]:
        return store.partition_versions(self.connection(), assets)

    def record_run(self, record: RunRecord, folded: bool = False) -> None:
        if not self._read_only:
            store.record_run(self.connection(), record, folded)

    def record_sources(self, versions: Mapping[str, SourceVersion]) -> None:
        store.record_sources(self.connection(), versions)

    def record_failure(self, attempt: AttemptRecord) -> None:
        cur = self.connection()
        self._transaction(cur, lambda: store.write_failure(cur, attempt))

    def fold_runs(self) -> None:
        """Bring the partition records up to date with every recorded attempt (see duckdb_state);
        creates or upgrades the state store first."""
        cur = self.connection()
        store.ensure_schema(cur, self._transaction)
        if store.has_unfolded(cur):
            self._transaction(cur, lambda: store.fold_runs(cur))

    def list_runs(self, limit: int) -> list[RunRecord]:
        return store.list_runs(self.connection(), limit)

    def run_attempts(self, run_id: str) -> list[AttemptRecord]:
        return store.run_attempts(self.connection(), run_id)

    def failures(self) -> list[FailureRecord]:
        return store.failures(self.connection())

    def asset_runs(self, asset: str, limit: int) -> list:
        from assetflow.engines.duckdb_history import asset_runs
        return asset_runs(self.connection(), asset, limit)

    def mark_abandoned_runs(self, now: datetime) -> int:
        return store.mark_abandoned(self.connection(), now)

    def find_runs(self, prefix: str) -> list[str]:
        return store.find_run(self.connection(), prefix)

    def outbox(self):
        """The alert outbox and incidents (engines/duckdb_outbox), over this thread's cursor."""
        from assetflow.engines.duckdb_outbox import OutboxStore
        return OutboxStore(self.connection(), self._transaction, self._fault)

    def schedules(self):
        """The scheduler's part of the state store (ticks, cursors, heartbeat)."""
        from assetflow.engines.duckdb_schedule_state import DuckDBScheduleStore
        return DuckDBScheduleStore(self.connection(), self._transaction, self._read_only, self._fault)

    def record_checks(self, run_id: str, asset: str, partition: str | None, results) -> None:
        cur = self.connection()
        self._transaction(cur, lambda: store.write_checks(cur, run_id, asset, partition, results, self.now()))

    def latest_checks(self) -> list[tuple]:
        return store.latest_checks(self.connection())

    def backfills(self):
        """The backfill records: each backfill's pass and its runs (run/backfills)."""
        from assetflow.engines.duckdb_backfills import Backfills
        return Backfills(self.connection(), self._transaction)

    def cleaner(self):
        """Listing and removing what no asset defines any more (`assetflow clean`)."""
        from assetflow.engines.duckdb_clean import Cleaner
        return Cleaner(self.connection(), self._transaction)
