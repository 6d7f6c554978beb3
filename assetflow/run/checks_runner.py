"""Run checks outside a write: `assetflow check`, custom `checks/*.sql` after a run, and the checks that
compare with another asset once both are built."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

from assetflow.assets import AssetKey, AssetSpec
from assetflow.checks import CheckOutcome, CheckResult
from assetflow.run.compile import absolute_path, relation_of
from assetflow.plan.graph import AssetGraph, resolve_reference
from assetflow.project.loader import CustomCheck, Project


def check_targets(spec: AssetSpec, graph: AssetGraph) -> tuple:
    """Each check with the relation a `relationships` check compares against."""
    relations = graph.relations[str(spec.key)]
    return tuple((c, relation_of(relations[tuple(p.lower() for p in c.ref_asset.split("."))], graph)
                  if c.ref_asset else None) for c in spec.settings.checks)


def compared_asset(graph: AssetGraph, spec: AssetSpec, check) -> str | None:
    """The asset a `relationships` check compares with (None for other checks, or a source)."""
    if not check.ref_asset:
        return None
    node = graph.relations[str(spec.key)][tuple(p.lower() for p in check.ref_asset.split("."))]
    return node if node in graph.assets else None


@dataclass(frozen=True, slots=True)
class DeferredCheck:
    """A check of a built partition that reads another asset this run also builds (or that does
    not exist yet): it runs when the run's builds are done."""

    key: AssetKey
    partition: str | None
    window: Any                    # the engine's PartitionWindow of the partition(s), or None
    target: tuple                  # (CheckSpec, relation it compares with)
    other: str                     # the asset that relation is
    own_table: bool = False        # a recheck: skipped when the checked asset's table does not exist


def rechecks(graph: AssetGraph, built: set[str], planned: frozenset[str]) -> list[DeferredCheck]:
    """Checks of assets a run did not build that compare with an asset it did: the comparison
    changed, so they run again, over the whole table (partition null)."""
    out = []
    for name in graph.order:
        spec = graph.assets[name]
        if name in planned or not any(c.ref_asset for c in spec.settings.checks):
            continue
        for target in check_targets(spec, graph):
            other = compared_asset(graph, spec, target[0])
            if other in built and other != name:
                out.append(DeferredCheck(spec.key, None, None, target, other, own_table=True))
    return out


def run_deferred_checks(engine, deferred: Iterable[DeferredCheck]) -> list[CheckOutcome]:
    """Each check against what both assets hold now. One whose other asset was never built is not
    run: there is nothing to compare with yet, which is no fault of the data just built, so it is
    reported as a warning, and runs when the other asset is first built (`rechecks`)."""
    deferred = list(deferred)
    existing = engine.existing_tables() if deferred else set()
    outcomes = []
    for d in deferred:
        check = d.target[0]
        if d.own_table and str(d.key) not in existing:
            continue
        if d.other not in existing:
            result = not_run(check, d.other)
        else:
            result = checks_now(engine, d.key, [d.target], d.window)[0]
        outcomes.append(CheckOutcome(str(d.key), d.partition, result))
    return outcomes


def not_run(check, other: str) -> CheckResult:
    """The result of a check whose other asset was never built: a warning, not a failure."""
    return CheckResult(check.text, "warn", -1, False,
                       error=f"{other} has not been built, so there is nothing to compare with")


def _comparable(graph: AssetGraph, spec: AssetSpec, existing: set[str]) -> tuple[tuple, list[CheckResult]]:
    """(the checks that can run now, results for those whose other asset was never built)."""
    targets, skipped = [], []
    for target in check_targets(spec, graph):
        other = compared_asset(graph, spec, target[0])
        if other is not None and other not in existing:
            skipped.append(not_run(target[0], other))
        else:
            targets.append(target)
    return tuple(targets), skipped


def checks_now(engine, key: AssetKey, targets, window) -> list[CheckResult]:
    """Run checks outside a write; a check whose query fails (the relation it compares with is
    gone, a column is missing) is a failed result carrying the error, not a crash."""
    try:
        return engine.run_checks(key, targets, window)
    except Exception:  # one of them cannot run: find which, one by one
        results = []
        for check, relation in targets:
            try:
                results.extend(engine.run_checks(key, [(check, relation)], window))
            except Exception as exc:
                error = (str(exc).splitlines() or [type(exc).__name__])[0]
                results.append(CheckResult(check.text, check.severity, -1, False, error=error))
        return results


def run_asset_checks(graph: AssetGraph, engine, names: Iterable[str]) -> list[CheckOutcome]:
    """Every declared check of each asset against its data as it is now: over the whole table, or
    for a partitioned asset over each built partition, exactly as `materialize` judges them."""
    from assetflow.run.compile import partition_window
    existing = engine.existing_tables()
    state = engine.read_state()
    now = engine.now()
    outcomes = []
    for name in names:
        spec = graph.assets[name]
        if not spec.settings.checks or name not in existing:
            continue
        targets, skipped = _comparable(graph, spec, existing)
        outcomes.extend(CheckOutcome(name, None, r) for r in skipped)      # once, not per partition
        if spec.partitioning is None:
            outcomes.extend(CheckOutcome(name, None, r) for r in checks_now(engine, spec.key, targets, None))
            continue
        for key, record in sorted(state.partitions.get(name, {}).items()):
            if record.code_version is None:
                continue
            window = partition_window(spec, spec.partitioning.index(key, now))
            outcomes.extend(CheckOutcome(name, key, r) for r in checks_now(engine, spec.key, targets, window))
    return outcomes


def checked_assets(project: Project, graph: AssetGraph, check: CustomCheck) -> list[str]:
    return sorted({node for ref in check.references
                   if (node := resolve_reference(graph, ref, check.path)) in graph.assets})


def run_custom_checks(project: Project, graph: AssetGraph, engine, touched: set[str] | None) -> list[CheckOutcome]:
    """Custom checks that read any asset in `touched` (all of them when None)."""
    from assetflow.project.header import fill_template
    outcomes = []
    for check in project.checks:
        assets = checked_assets(project, graph, check)
        if touched is not None and not set(assets) & touched:
            continue
        # the check's own text runs, with the names it reads qualified (as for SQL assets)
        query = fill_template(check.template, [relation_of(resolve_reference(graph, ref, check.path), graph)
                                               for ref in check.references],
                              [absolute_path(f, project.root) for f in check.file_reads])
        try:
            failing = engine.count_rows(query)
            result = CheckResult(f"{check.name} ({check.path})", check.severity, failing, failing == 0)
        except Exception as exc:  # a broken check is a failed check, reported with its error
            result = CheckResult(f"{check.name} ({check.path}): {type(exc).__name__}: {exc}", check.severity, -1, False)
        outcomes.extend(CheckOutcome(asset, None, result) for asset in assets)
    return outcomes


@dataclass(frozen=True)
class CheckReport:
    run_id: str
    outcomes: tuple[CheckOutcome, ...]
    alert_problems: tuple[str, ...] = ()      # masked, one per alert that did not arrive

    @property
    def failed(self) -> bool:
        return any(not o.result.passed and o.result.severity == "error" for o in self.outcomes)


def check(project: Project, selection: tuple[str, ...], target_name: str | None, wait: float = 0.0,
          exclude: tuple[str, ...] = ()) -> CheckReport:
    """Run the checks of the selected assets (and custom checks reading them) against current data."""
    import os
    import secrets
    from datetime import datetime, timezone

    from assetflow.engines import open_engine, prepare_database_folder
    from assetflow.run.lock import run_lock
    from assetflow.plan.graph import build_graph
    from assetflow.run.assess import select_assets
    from assetflow.state import FAILED, SUCCESS, RunRecord
    graph = build_graph(project.assets, project.config.sources)
    target = project.config.target(target_name)
    names = select_assets(graph, selection, exclude, target)
    prepare_database_folder(target, project.root)
    command = " ".join(("check", *selection))
    with run_lock(target.path, command, wait), open_engine(target, read_only=False) as engine:
        engine.use_session(project.config.vars.statements())
        engine.prepare(set(), [])
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        run_id = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        outcomes = run_asset_checks(graph, engine, [n for n in graph.order if n in names])
        outcomes += run_custom_checks(project, graph, engine, set(names))
        for o in outcomes:
            engine.record_checks(run_id, o.asset, o.partition, [o.result])
        report = CheckReport(run_id, tuple(outcomes))
        status = FAILED if report.failed else SUCCESS
        record = RunRecord(run_id, command, now, status, now, os.getpid(), target.name)
        if not project.config.alerts.on_failure:
            engine.record_run(record, folded=True)
            return report
        return replace(report, alert_problems=_end_run(project, engine, record, report))


def _end_run(project: Project, engine, record, report: CheckReport) -> tuple[str, ...]:
    """A failed `assetflow check` alerts like a failed run (SPEC section 12), and a passing one
    closes the incidents of the assets it checked; earlier undelivered alerts go out first."""
    from assetflow import alerts
    from assetflow.alerts.dispatch import end_run, flush_due
    settings, masks = project.config.alerts, project.config.masks
    flushed = flush_due(engine.outbox(), settings, masks, record.started_at)
    summary = alerts.summarize(project.config.name, record.run_id, "manual", checks=report.outcomes,
                               command=record.command) if report.failed else None
    examined = {o.asset for o in report.outcomes}
    return flushed + end_run(engine.outbox(), settings, masks, record, summary, examined, project.config.name,
                             "manual", record.started_at, folded=True)
