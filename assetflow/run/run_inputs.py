"""What a run takes from the project besides its plan: the views over declared file sources, each
asset's retry policy, the checks the project declares now, and its custom checks over what a run
built (their results recorded with the run).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from assetflow.assets import AssetKey
from assetflow.engines.base import SourceView
from assetflow.plan.graph import AssetGraph
from assetflow.project.loader import Project
from assetflow.state import SUCCESS

if TYPE_CHECKING:
    from assetflow.run.executor import RetryPolicy


def custom_checks(project: Project, graph: AssetGraph, engine, run_id: str, results) -> list:
    """Custom checks over the assets this run built; their results are recorded with the run."""
    from assetflow.run.checks_runner import run_custom_checks      # loaded when a run has built
    built = {r.asset for r in results if r.status == SUCCESS}
    if not built or not project.checks:
        return []
    outcomes = run_custom_checks(project, graph, engine, built)
    for outcome in outcomes:
        engine.record_checks(run_id, outcome.asset, outcome.partition, [outcome.result])
    return [o for o in outcomes if not o.result.passed]


def declared_checks(project: Project, graph: AssetGraph) -> set[str]:
    """Names of the checks the project declares now (older results of edited checks are not shown)."""
    names = {c.text for spec in graph.assets.values() for c in spec.settings.checks}
    return names | {f"{c.name} ({c.path})" for c in project.checks}


def file_source_views(project: Project, graph: AssetGraph, missing: frozenset[str]) -> list[SourceView]:
    """Views over declared file sources; a source with no files gets none (its readers are blocked)."""
    views = []
    for source in project.config.sources:
        if source.glob is not None and source.name not in missing:
            pattern = source.glob if os.path.isabs(source.glob) else str(project.root / source.glob)
            views.append(SourceView(AssetKey.parse(source.name), pattern))
    return views


def retry_policy(project: Project, graph: AssetGraph, name: str) -> RetryPolicy:
    from assetflow.run.executor import RetryPolicy
    settings = graph.assets[name].settings
    retries = settings.retries if settings.retries is not None else project.config.retries
    delay = settings.retry_delay if settings.retry_delay is not None else project.config.retry_delay
    return RetryPolicy(retries, delay)
