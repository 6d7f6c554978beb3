"""The command line: thin click commands over the library. Only this module prints and exits."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from assetflow.cli.common import (CONTEXT, AssetflowGroup, command_line, common_options, emit, examples, load,
                                  project_root, rooted)
from assetflow.cli.clean import command as clean_command
from assetflow.cli.import_dbt import import_dbt
from assetflow.cli.masks import mask, use_masks, warn
from assetflow.cli.options import exclude_option, var_option
from assetflow.cli.runs import runs
from assetflow.cli.serve import serve
from assetflow.cli.show import command as show_command
from assetflow.cli.snapshot_notice import snapshot_json, snapshot_text
from assetflow.cli.schedule import schedule
from assetflow.errors import EXIT_TERMINATED


@click.group(cls=AssetflowGroup, context_settings=CONTEXT)
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Project folder (default: the nearest folder upwards holding assetflow.toml).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.version_option(package_name="assetflow")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None, debug: bool) -> None:
    """assetflow: declare data assets in SQL and Python; build only what is stale.

    Options may come before or after arguments. Selection grammar: docs/cli.md#selection.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(project_dir=project_dir, debug=debug)


main.add_command(runs)
main.add_command(clean_command(load, common_options(), CONTEXT))
main.add_command(import_dbt)
main.add_command(serve)
main.add_command(schedule)
main.add_command(show_command(load, common_options(), CONTEXT, examples(
    "assetflow show marts.daily_revenue --partition 2024-01-31", "assetflow show customer_lifetime --limit 5 --json")))

# ------------------------------------------------------------------------------------------ init

@main.command(context_settings=CONTEXT, epilog=examples("assetflow init shop && cd shop && assetflow materialize"))
@click.argument("directory", type=click.Path(path_type=Path))
@common_options(with_project=False)
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY from the built-in template."""
    from assetflow.project.scaffold import create_project
    created = create_project(directory)
    emit(f"Created project in {created}\nNext: cd {directory} && assetflow materialize")


# ------------------------------------------------------------------------------------------ status

@main.command(context_settings=CONTEXT, epilog=examples(
    "assetflow status", "assetflow status marts.daily_revenue+ --json", "assetflow status tag:finance --verify",
    selection=True))
@click.argument("selection", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@click.option("--verify", is_flag=True, help="Also compare recorded row counts with the data, per partition.")
@exclude_option
@var_option
@common_options()
@click.pass_context
def status(ctx: click.Context, selection: tuple[str, ...], as_json: bool, target: str | None, verify: bool,
           exclude: tuple[str, ...]) -> None:
    """Show each asset's partitions: fresh, stale, blocked or failed, and why."""
    from assetflow.cli import render
    from assetflow import api
    project = load(ctx)
    report = api.status(project, rooted(selection, project.root), target, verify,
                        rooted(exclude, project.root))
    if as_json:
        data = render.status_json(report.plan, report.graph, report.selected, report.checks, report.orphans,
                                  report.outside, report.failures)
        data["moved_sources"] = render.moved_sources_json(report.moved_sources)
        data["snapshot"] = snapshot_json(report.snapshot)
        if report.drift is not None:
            data["drift"] = [d.__dict__ if hasattr(d, "__dict__") else
                             {s: getattr(d, s) for s in d.__slots__} for d in report.drift]
        emit(render.to_json(data))
    else:
        if report.snapshot is not None:
            emit(snapshot_text(report.snapshot))
        emit(render.status_text(report.plan, report.graph, report.selected, report.database,
                                checks=report.checks, orphans=report.orphans, failures=report.failures))
        if report.moved_sources:
            emit(render.moved_sources_text(report.moved_sources))
        if report.drift is not None:
            emit(render.drift_text(report.drift, report.outside or ()))
        elif verify and report.snapshot is not None:
            emit("verify: not done: the tables cannot be read while another process holds the database")
    if report.drift:
        sys.exit(1)


# ------------------------------------------------------------------------------------------ materialize

def _run_options(func):
    for option in reversed([
        click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: the target's)."),
        click.option("--target", help="Target from assetflow.toml (default: the first)."),
        click.option("--wait", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="Seconds to wait for another run's lock."),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
        click.option("--dry-run", is_flag=True, help="Show the plan; build nothing."),
        var_option,
    ]):
        func = option(func)
    return func


@main.command(context_settings=CONTEXT, epilog=examples(
    "assetflow materialize", "assetflow materialize +marts.daily_revenue --partition 2024-03-01",
    "assetflow materialize path:assets/staging --full-refresh --dry-run", selection=True))
@click.argument("selection", nargs=-1)
@click.option("--partition", help="Build this partition key only.")
@click.option("--from", "from_key", help="First partition key (inclusive).")
@click.option("--to", "to_key", help="Last partition key (inclusive).")
@click.option("--full-refresh", is_flag=True, help="Rebuild the selected partitions whatever their state.")
@_run_options
@exclude_option
@common_options()
@click.pass_context
def materialize(ctx, selection, partition, from_key, to_key, full_refresh, threads, target, wait, as_json,
                dry_run, exclude) -> None:
    """Build the stale partitions of the selected assets, in dependency order, in parallel."""
    from assetflow.api import MaterializeOptions
    options = MaterializeOptions(rooted(selection, project_root(ctx)), partition, from_key, to_key, full_refresh, threads, dry_run,
                                 target, wait, command=command_line(),
                                 exclude=rooted(exclude, project_root(ctx)))
    _materialize(ctx, options, as_json)


@main.command(context_settings=CONTEXT, epilog=examples(
    "assetflow backfill marts.daily_revenue --from 2024-03-01 --to 2024-03-31",
    "assetflow backfill staging.stg_orders --from 2024-01-01 --to 2024-01-07 --dry-run"))
@click.argument("asset_name", metavar="ASSET")
@click.option("--from", "from_key", required=True, help="First partition key (inclusive).")
@click.option("--to", "to_key", required=True, help="Last partition key (inclusive).")
@click.option("--restart", is_flag=True, help="Rebuild the whole range, even what an earlier run of "
              "this backfill built (without it, a rerun builds only what is left).")
@_run_options
@common_options()
@click.pass_context
def backfill(ctx, asset_name, from_key, to_key, restart, threads, target, wait, as_json, dry_run) -> None:
    """Rebuild ASSET's partitions FROM..TO, then whatever downstream became stale; run again after
    a kill or failure, it builds only what it has not built yet."""
    from functools import partial

    from assetflow.api import backfill as run_backfill
    _materialize(ctx, None, as_json, backfill=(asset_name, from_key, to_key, threads, target, wait, dry_run),
                 runner_fn=partial(run_backfill, restart=restart))


def _materialize(ctx, options, as_json: bool, backfill=None, runner_fn=None) -> None:
    from assetflow.cli import render
    from assetflow import api
    from assetflow.api import RunEvents
    import signal
    import threading
    project = load(ctx)
    started = time.perf_counter()
    progress = _Progress(enabled=not as_json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())   # finish what runs, start nothing new
    events = RunEvents(stop=stop, on_plan=progress.plan, on_done=progress.done, on_log=progress.log)
    if backfill is not None:
        outcome = runner_fn(project, *backfill, events=events)
    else:
        outcome = api.materialize(project, options, events)
    if outcome.run_id is None:                                   # dry run
        if as_json:
            emit(render.to_json({**render.dry_run_json(outcome.plan), "snapshot": snapshot_json(outcome.snapshot)}))
            return
        if outcome.snapshot is not None:
            emit(snapshot_text(outcome.snapshot))
        emit(render.plan_text(outcome.plan))
        return
    if as_json:
        emit(render.to_json(render.run_json(outcome.run_id, outcome.status, outcome.results, outcome.plan, outcome.checks)))
    else:
        emit(render.run_summary(outcome.run_id, outcome.results, outcome.database,
                                 time.perf_counter() - started, outcome.plan, outcome.checks))
    warn(outcome.alert_problems)
    if outcome.status == "interrupted":
        click.echo("stopped by SIGTERM: running partitions finished, nothing new started", err=True)
        sys.exit(EXIT_TERMINATED)
    if outcome.status != "success":
        sys.exit(1)


class _Progress:
    """Progress on stderr: a bar on a terminal (failures still get their own line), one line per
    finished step otherwise (CI logs, pipes). Quiet for --json."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = enabled and sys.stderr.isatty()
        self.total = 0
        self.finished = 0

    def plan(self, plan) -> None:
        self.total = sum(step.count for step in plan.steps)
        if self.enabled:
            from assetflow.cli import render
            self._say(render.plan_text(plan, limit=10))

    def done(self, result) -> None:
        from assetflow.cli import render
        self.finished += len(result.batch) or 1
        if not self.enabled:
            return
        if not self.bar:
            self._say(f"[{self.finished}/{self.total}] {render.step_line(result)}")
            return
        if result.status != "success":
            self._say("\r\033[K" + render.step_line(result))
        width = 30
        filled = width * self.finished // max(self.total, 1)
        line = f"[{'#' * filled}{'.' * (width - filled)}] {self.finished}/{self.total}  {render.label(result.asset, result.partition)}"
        self._say("\r\033[K" + line[:120], newline=self.finished >= self.total)

    def log(self, line: str) -> None:
        """A Python asset's log line, on stderr even with --json (stdout stays the JSON alone)."""
        self._say(("\r\033[K" if self.bar else "") + line)

    def _say(self, line: str, newline: bool = True) -> None:
        try:
            click.echo(mask(line), err=True, nl=newline)
        except OSError:            # a closed pipe (`| head`) must not kill the run: stop reporting
            self.enabled = False


# ------------------------------------------------------------------------------------------ graph & co

@main.command(context_settings=CONTEXT, epilog=examples(
    "assetflow graph", "assetflow graph +marts.daily_revenue --format mermaid",
    "assetflow graph tag:finance --format dot | dot -Tsvg > graph.svg", selection=True))
@click.argument("selection", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "mermaid", "dot"]), default="text",
              show_default=True)
@exclude_option
@common_options()
@click.pass_context
def graph(ctx, selection: tuple[str, ...], fmt: str, exclude: tuple[str, ...]) -> None:
    """Print the asset graph (the DAG), or the selected part of it, as text, JSON, Mermaid or dot."""
    from assetflow.cli import render, render_graph
    from assetflow import api
    project = load(ctx)
    g = api.graph_of(project)
    names = api.select(g, rooted(selection, project.root), rooted(exclude, project.root),
                       project.config.target(None)) if selection or exclude else None
    out = {"text": render_graph.graph_text, "mermaid": render_graph.graph_mermaid, "dot": render_graph.graph_dot}
    emit(render.to_json(render_graph.graph_json(g, names)) if fmt == "json" else out[fmt](g, names))


@main.command(context_settings=CONTEXT, epilog=examples(
    "assetflow lineage marts.daily_revenue", "assetflow lineage reports.monthly_revenue.revenue_usd --json"))
@click.argument("asset_name", metavar="ASSET[.COLUMN]")
@click.option("--target", help="Target whose tables give column types (default: the first).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@common_options()
@click.pass_context
def lineage(ctx, asset_name: str, target: str | None, as_json: bool) -> None:
    """Show what ASSET reads and what reads it; for ASSET.COLUMN, the columns it derives from."""
    from assetflow.run import lineage as lin
    from assetflow.cli import render
    from assetflow import api
    project = load(ctx)
    g = api.graph_of(project)
    name, column = lin.split_target(g, asset_name)
    if column is None:
        info = lin.asset_lineage(g, name)
        emit(render.to_json(info.__dict__) if as_json else lin.render_asset(info))
        return
    root = lin.column_lineage(project, g, name, column, api.table_columns(project, target))
    emit(render.to_json(lin.column_json(root, g)) if as_json else lin.render_columns(root, g))


@main.command(name="compile", context_settings=CONTEXT, epilog=examples(
    "assetflow compile marts.daily_revenue", "assetflow compile marts.daily_revenue --partition 2024-01-05"))
@click.argument("asset_name", metavar="ASSET")
@click.option("--partition", help="Show the statement for this partition key.")
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@var_option
@common_options()
@click.pass_context
def compile_command(ctx, asset_name: str, partition: str | None, target: str | None) -> None:
    """Print ASSET's SQL exactly as it would run (qualified names, partition values bound)."""
    from assetflow import api
    emit(api.compile_asset(load(ctx), asset_name, partition, target))


@main.command(context_settings=CONTEXT, epilog=examples(
    "assetflow check", "assetflow check marts.customer_lifetime --json", selection=True))
@click.argument("selection", nargs=-1)
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@click.option("--wait", type=click.FloatRange(min=0), default=0.0, help="Seconds to wait for another run's lock.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@exclude_option
@common_options()
@click.pass_context
def check(ctx, selection: tuple[str, ...], target: str | None, wait: float, as_json: bool, exclude) -> None:
    """Run the checks of the selected assets against their current data."""
    from assetflow.cli import render
    from assetflow.run.checks_runner import check as run_checks
    project = load(ctx)
    report = run_checks(project, rooted(selection, project.root), target, wait,
                         rooted(exclude, project.root))
    if as_json:
        emit(render.to_json({"run_id": report.run_id, "status": "failed" if report.failed else "success",
                              "checks": render.check_json(report.outcomes)}))
    else:
        emit("\n".join(render.check_lines(report.outcomes)) or "No checks to run.")
        passed = sum(1 for o in report.outcomes if o.result.passed)
        emit(f"{passed} of {len(report.outcomes)} checks passed.  run {report.run_id}")
    warn(report.alert_problems)
    if report.failed:
        sys.exit(1)


@main.command(context_settings=CONTEXT, epilog=examples(
    "assetflow dev", "assetflow dev path:assets/marts --last 3", selection=True))
@click.argument("selection", nargs=-1)
@click.option("--partition", help="Rebuild this partition key of partitioned assets.")
@click.option("--last", type=click.IntRange(min=1), default=1, show_default=True,
              help="Rebuild the latest N partitions of partitioned assets.")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: the target's).")
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@exclude_option
@var_option
@common_options()
@click.pass_context
def dev(ctx, selection, partition, last, threads, target, exclude) -> None:
    """Build what is stale, then watch the project and rebuild what each save makes stale."""
    from assetflow.project.config import load_config
    from assetflow.cli.dev import DevOptions, run_dev
    root = project_root(ctx)
    config = load_config(root)
    use_masks(ctx, config.masks)
    options = DevOptions(rooted(selection, root), partition, last, threads, target,
                         exclude=rooted(exclude, root), variables=tuple(ctx.obj.get("vars", {}).items()))
    try:
        run_dev(root, config.target(target).path, options, lambda line: click.echo(mask(line)))
    except KeyboardInterrupt:
        pass
    click.echo("stopped")
