"""What the buttons ask for, as `api.MaterializeOptions`: Materialize, Backfill, Retry failed; and
the Preview of a backfill (a dry run: how many partitions of how many assets it would build).

A backfill range is checked by the same code as `assetflow backfill` (`plan.windows`), so the
dialog refuses a bad range with the CLI's message.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from assetflow import api
from assetflow.errors import UsageError
from assetflow.plan.graph import downstream_closure
from assetflow.plan.windows import partition_ranges
from assetflow.state import FAILED


@dataclass(frozen=True, slots=True)
class BackfillForm:
    asset: str
    from_key: str
    to_key: str
    downstream: bool = True
    only_missing: bool = False       # build only what is not fresh in the range (no forced rebuild)


@dataclass(frozen=True, slots=True)
class Preview:
    partitions: int
    assets: int
    blocked: int
    per_asset: tuple[tuple[str, int], ...]

    @property
    def sentence(self) -> str:
        text = (f"Will build {self.partitions} partition{'s' * (self.partitions != 1)} of "
                f"{self.assets} asset{'s' * (self.assets != 1)}")
        return text + (f"; {self.blocked} blocked partitions will not be built" if self.blocked else "")


def materialize_options(project, selection: tuple[str, ...]) -> api.MaterializeOptions:
    """The stale partitions of the selection (every asset for an empty one)."""
    graph = api.graph_of(project)
    names = api.select(graph, selection)       # a bad selection raises the CLI's SelectionError
    command = "materialize" + "".join(f" {s}" for s in selection)
    return api.MaterializeOptions(selection, names=names, command=command)


def backfill_options(project, form: BackfillForm) -> api.MaterializeOptions:
    """As `assetflow backfill` (its range checks and messages), with the dialog's two switches."""
    graph = api.graph_of(project)
    name = _one_asset(graph, form.asset)
    if graph.assets[name].partitioning is None:
        raise UsageError(f"{name} is not partitioned; backfill takes a partitioned asset",
                         hint=f"rebuild it with: assetflow materialize {name} --full-refresh")
    if not form.from_key.strip() or not form.to_key.strip():
        raise UsageError("--from and --to go together", hint="give both, e.g. --from 2024-01-01 --to 2024-01-31")
    ranges = partition_ranges(graph, frozenset({name}), None, form.from_key.strip(), form.to_key.strip(), _utcnow())
    names = frozenset({name} | (downstream_closure(graph, [name]) if form.downstream else set()))
    command = f"backfill {name} --from {form.from_key.strip()} --to {form.to_key.strip()}"
    return api.MaterializeOptions(names=names, ranges=ranges, command=command,
                                  refresh=frozenset() if form.only_missing else frozenset({name}))


def retry_options(project, run_id: str, attempts) -> api.MaterializeOptions:
    """The partitions whose last attempt in the run failed, and what reads them downstream."""
    graph = api.graph_of(project)
    last: dict[tuple[str, str | None], str] = {}
    for a in sorted(attempts, key=lambda a: a.attempt):
        last[(a.asset, a.partition)] = a.status
    failed = sorted(k for k, status in last.items() if status == FAILED and k[0] in graph.assets)
    if not failed:
        raise UsageError(f"run {run_id} has no failed partitions of assets the project still defines")
    now = _utcnow()
    ranges: dict[str, range] = {}
    for asset, partition in failed:
        part = graph.assets[asset].partitioning
        if part is None or partition in (None, ""):
            continue
        i = part.index(partition, now)
        known = ranges.get(asset)
        ranges[asset] = range(min(i, known.start), max(i + 1, known.stop)) if known else range(i, i + 1)
    assets = {a for a, _ in failed}
    names = frozenset(assets | downstream_closure(graph, assets))
    return api.MaterializeOptions(names=names, ranges=ranges, command=f"retry failed of {run_id}")


def preview(project, options: api.MaterializeOptions) -> Preview:
    from dataclasses import replace
    outcome = api.materialize(project, replace(options, dry_run=True))
    per_asset: dict[str, int] = {}
    for step in outcome.plan.steps:
        per_asset[step.asset] = per_asset.get(step.asset, 0) + step.count
    return Preview(sum(per_asset.values()), len(per_asset), len(outcome.plan.blocked),
                   tuple(sorted(per_asset.items())))


def _one_asset(graph, text: str) -> str:
    if text not in graph.assets:
        from assetflow.names import suggest
        hint = suggest(text, list(graph.assets))
        raise UsageError(f"unknown asset '{text}'", hint=hint)
    return text


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
