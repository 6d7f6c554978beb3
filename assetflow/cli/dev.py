"""`assetflow dev`: build what is stale, then rebuild on every save.

Each cycle reloads the project (the parse cache re-parses only changed files), plans with the same
planner as `materialize`, limited to the latest partitions so a save never starts a long backfill,
and runs the build with its checks. An error in a file is shown and the loop keeps watching. The
run lock and the database are held only during a build, so other commands work in between.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from assetflow.errors import AssetflowError

WATCHED_SUFFIXES = (".sql", ".py", ".csv", ".parquet", ".json", ".toml")
IGNORED_PARTS = (".assetflow", "__pycache__", ".git", ".venv")


@dataclass(frozen=True)
class DevOptions:
    selection: tuple[str, ...] = ()
    partition: str | None = None
    last: int = 1
    threads: int | None = None
    target: str | None = None
    debounce_ms: int = 50
    exclude: tuple[str, ...] = ()
    variables: tuple[tuple[str, object], ...] = ()    # --var, over [vars]


def watch_filter(root: Path, database: str) -> Callable[[object, str], bool]:
    db = Path(database).resolve() if database != ":memory:" else None

    def keep(_change: object, path: str) -> bool:
        p = Path(path)
        if any(part in IGNORED_PARTS for part in p.parts):
            return False
        if db is not None and (p == db or str(p).startswith(str(db))):
            return False
        return p.suffix.lower() in WATCHED_SUFFIXES
    return keep


def latest_ranges(graph, selected, last: int, now) -> dict[str, range]:
    """The latest `last` partitions of each selected partitioned asset."""
    ranges = {}
    for name in selected:
        part = graph.assets[name].partitioning
        if part is not None:
            count = part.count(now)
            ranges[name] = range(max(count - last, 0), count)
    return ranges


def touched_assets(root: Path, graph, changed: list[str]) -> set[str] | None:
    """Assets a save can have made stale: those defined in the changed files, those reading a
    changed data file, and everything downstream. None when that cannot be told (config changed,
    a file was deleted): then everything stale is considered."""
    from assetflow.project.config import CONFIG_FILE
    from assetflow.plan.graph import downstream_closure
    from assetflow.run.sources import expand
    if not changed or CONFIG_FILE in changed:
        return None
    by_path = {spec.path: name for name, spec in graph.assets.items()}
    hit: set[str] = set()
    for path in changed:
        if path in by_path:
            hit.add(by_path[path])
            continue
        readers = {reader for name, source in graph.sources.items() if source.glob is not None
                   and root / path in expand(root, source.glob) for reader in graph.downstream.get(name, ())}
        if not readers and path.endswith((".sql", ".py")):
            return None                       # a file that defines nothing (now): e.g. deleted
        hit |= readers
    return hit | downstream_closure(graph, hit)


def build_once(root: Path, options: DevOptions, say: Callable[[str], None], limit: bool = True,
               changed: list[str] | None = None) -> bool:
    """Load, plan and build; report errors instead of raising. Returns False on a project error.

    With `limit`, partitioned assets rebuild only their latest partitions (or `--partition`), and
    only what the `changed` files can have made stale is built: partitions left stale by earlier
    limited rebuilds are not rebuilt on every save.
    """
    from assetflow.cli import render
    from assetflow.api import MaterializeOptions, RunEvents, graph_of, load_project, materialize
    from assetflow.run.assess import select_assets
    from assetflow.plan.windows import partition_ranges
    started = time.perf_counter()
    try:
        project = load_project(root, variables=dict(options.variables))
        graph = graph_of(project)
        selected = select_assets(graph, options.selection, options.exclude, project.config.target(options.target))
        now = _utcnow()
        ranges = {}
        if limit:
            touched = touched_assets(root, graph, changed or [])
            if touched is not None:
                selected = selected & frozenset(touched)
            ranges = (partition_ranges(graph, selected, options.partition, None, None, now) if options.partition
                      else latest_ranges(graph, selected, options.last, now))
        outcome = materialize(project, MaterializeOptions(
            options.selection, threads=options.threads, target=options.target, wait=30.0, command="dev",
            ranges=ranges or None, names=selected), RunEvents(on_log=say))
    except AssetflowError as exc:
        say(exc.render())
        say("watching for changes (fix the error and save)...")
        return False
    if not outcome.plan.steps and not outcome.plan.blocked:
        say("up to date")
        return True
    for step in outcome.plan.steps:
        say(f"  stale: {render.label(step.asset, step.partition)} ({', '.join(step.reasons)})")
    for result in outcome.results:
        say(render.step_line(result))
    for line in render.check_lines(outcome.checks):
        say(line)
    ok = sum(1 for r in outcome.results if r.status == "success")
    say(f"built {ok}/{len(outcome.results)} in {time.perf_counter() - started:.2f}s"
        + ("" if outcome.status == "success" else f" ({outcome.status})"))
    return True


def run_dev(root: Path, database: str, options: DevOptions, say: Callable[[str], None],
            stop_event=None) -> None:
    """Build, then watch and rebuild until interrupted."""
    from watchfiles import watch
    say(f"assetflow dev: watching {root}")
    build_once(root, options, say, limit=False)      # first, everything that is stale
    for changes in watch(root, watch_filter=watch_filter(root, database), debounce=1600,
                         step=options.debounce_ms, stop_event=stop_event, raise_interrupt=False):
        names = sorted({Path(p).relative_to(root).as_posix() if Path(p).is_relative_to(root) else p
                        for _, p in changes})
        say(f"changed: {', '.join(names)}")
        build_once(root, options, say, changed=names)


def _utcnow():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).replace(tzinfo=None)
