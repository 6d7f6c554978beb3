"""Resumable backfills: which run belongs to which backfill, and what a rerun still has to build.

A backfill is identified by its asset and the range it covers, as resolved partition keys
(`marts.daily 2024-01-01..2024-03-31`), in the target whose state store records it: the
selection of a backfill is always that asset and its downstream, so it adds nothing to tell two
apart, and `--from 2024-1-01`-style spellings that resolve to the same keys are the same backfill.
Each run of it is recorded beside its run row; what it has built is read from the attempt rows,
which commit with the data, so a SIGKILL loses nothing that was written. A rerun builds the
partitions of the range that this backfill's current pass has not built yet; `--restart`, or a
pass that had built the whole range, starts a new pass over all of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BackfillKey:
    asset: str
    first: str                    # the first partition key of the range, as resolved
    last: str
    restart: bool = False

    @property
    def id(self) -> str:
        return f"{self.asset} {self.first}..{self.last}"


@dataclass(frozen=True, slots=True)
class Resumption:
    """The pass a run of a backfill belongs to, and the partitions that pass has built already."""

    key: BackfillKey
    generation: int
    total: int
    built: frozenset[str] = frozenset()

    def kept(self, partitioning, considered: range) -> dict[str, frozenset[int]]:
        """The asset's partition indices that the rerun does not rebuild."""
        return {self.key.asset: frozenset(i for i in considered if partitioning.key(i) in self.built)}


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    backfill: str                 # the backfill's id
    asset: str
    first: str
    last: str
    generation: int
    done: int                     # partitions of the range the pass had built when this run ended
    total: int


def resume(engine, key: BackfillKey, total: int) -> Resumption:
    """Where the backfill `key` stands in `engine`'s state store (a new pass when there is none)."""
    store = _store(engine)
    found = store.current(key.id, key.asset) if store is not None else None
    if found is None:
        return Resumption(key, 1, total)
    generation, built = found
    if key.restart or len(built) >= total:
        return Resumption(key, generation + 1, total)
    return Resumption(key, generation, total, frozenset(built))


def attach(engine, resumption: Resumption, run_id: str, now: datetime) -> None:
    """Record that `run_id` is a run of the backfill's current pass (before it builds anything)."""
    store = _store(engine)
    if store is not None:
        k = resumption.key
        store.attach(k.id, k.asset, k.first, k.last, resumption.total, resumption.generation, run_id, now)


def progress(engine, run_ids: list[str]) -> dict[str, BackfillProgress]:
    """For each of `run_ids` that ran a backfill: how far its pass had got."""
    store = _store(engine)
    if store is None or not run_ids:
        return {}
    return {row[0]: BackfillProgress(*row[1:]) for row in store.progress(run_ids)}


def _store(engine):
    make = getattr(engine, "backfills", None)     # an engine without one (Spark) does not resume
    return make() if make is not None else None
