"""`status --verify`: compare the state store with the data, partition by partition.

Every recorded row count must match what the table holds; rows in a partition nobody recorded, or a
record whose rows are gone, are drift. After any crash this must come back empty.
"""
from __future__ import annotations

from dataclasses import dataclass

from assetflow.assets import Kind, quote_identifier
from assetflow.plan.graph import AssetGraph
from assetflow.partitions import Grain, StaticPartitions, TimePartitions
from assetflow.state import UNPARTITIONED

_KEY_FORMATS = {Grain.HOUR: "%Y-%m-%dT%H", Grain.DAY: "%Y-%m-%d", Grain.WEEK: "%G-W%V", Grain.MONTH: "%Y-%m"}


@dataclass(frozen=True, slots=True)
class Drift:
    asset: str
    partition: str | None
    recorded: int | None          # rows the state store says the last good build wrote
    actual: int                   # rows the table holds for that partition
    problem: str


def partition_key_sql(spec) -> str:
    """SQL that maps a row to its partition key (the inverse of the partition window)."""
    part = spec.partitioning
    if isinstance(part, TimePartitions) and part.timezone:
        column, fmt = quote_identifier(part.column), _KEY_FORMATS[part.grain]
        # a DATE holds the local day; a timestamp is an instant (naive: UTC), seen on the local calendar
        return (f"CASE WHEN typeof({column}) = 'DATE' THEN strftime(CAST({column} AS DATE), '{fmt}') "
                f"ELSE strftime(timezone('{part.timezone}', CAST({column} AS TIMESTAMPTZ)), '{fmt}') END")
    if isinstance(part, TimePartitions):
        cast = "TIMESTAMP" if part.grain is Grain.HOUR else "DATE"
        return f"strftime(CAST({quote_identifier(part.column)} AS {cast}), '{_KEY_FORMATS[part.grain]}')"
    if isinstance(part, StaticPartitions):
        return f"CAST({quote_identifier(part.column)} AS VARCHAR)"
    return f"'{UNPARTITIONED}'"


def verify(graph: AssetGraph, engine) -> list[Drift]:
    state = engine.read_state(with_rows=True)
    existing = engine.existing_tables()
    drifts: list[Drift] = []
    for name in graph.order:
        spec = graph.assets[name]
        if spec.kind is Kind.VIEW:
            continue
        records = {k: r for k, r in state.partitions.get(name, {}).items() if r.code_version is not None}
        actual = engine.group_counts(spec.key.quoted(), partition_key_sql(spec)) if name in existing else {}
        for key in sorted(set(records) | set(actual)):
            drifts.extend(_compare(name, key, records.get(key), actual.get(key, 0), spec.partitioning is None))
    return drifts


def _compare(name: str, key: str, record, actual: int, unpartitioned: bool) -> list[Drift]:
    partition = None if unpartitioned or key == UNPARTITIONED else key
    if record is None:
        return [Drift(name, partition, None, actual, "rows without a record of building them")] if actual else []
    if record.rows is not None and record.rows != actual:
        return [Drift(name, partition, record.rows, actual, "row count differs from the recorded build")]
    return []
