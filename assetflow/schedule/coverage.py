"""Which partitions a tick covers: the window rule, on top of partitions.py's own rules.

A tick at instant T runs `materialize` as if now were T, so the partitions that exist for it are
those whose window has closed by T (`count(T)`: a 02:00 daily tick sees yesterday, not today).
`catchup` bounds how far back it reaches: only partitions whose window ended within that span
before T, `(T - catchup, T]`, plus always the latest closed one, so `catchup = "0"` builds the
latest window only and `"7d"` at 02:00 the last seven days. Without `catchup`, every closed window
is covered. Of the covered partitions, the planner builds only the stale, missing or failed ones.

Static partitions have no windows: they are all covered, whatever `catchup` says. An
unpartitioned asset is covered as its single "partition" 0, as in `partitions.upstream_range`.
"""
from __future__ import annotations

from datetime import datetime, timezone

from assetflow.durations import Duration
from assetflow.partitions import Partitioning, StaticPartitions


def tick_partitions(partitioning: Partitioning | None, tick: datetime, catchup: Duration | None) -> range:
    """The indices of the partitions a tick at `tick` (an aware instant) may build."""
    if partitioning is None:
        return range(0, 1)
    at = _naive_utc(tick)                      # partitions.py works in naive UTC
    closed = partitioning.count(at)
    if isinstance(partitioning, StaticPartitions) or catchup is None or closed == 0:
        return range(0, closed)
    # the partition whose window holds T - catchup is the first whose window ends after it
    first = max(partitioning.index_at(at - catchup.delta), 0)
    return range(min(first, closed - 1), closed)


def _naive_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"{instant!r} is naive: a tick is an aware instant")
    return instant.astimezone(timezone.utc).replace(tzinfo=None)
