"""The command line: thin click commands over the library. Only this module prints and exits."""
from __future__ import annotations

import functools
import sys
import time
import traceback
from pathlib import Path

import click

from assetflow.cli.masks import mask, use_masks, warn
from assetflow.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, AssetflowError, Interrupted, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Group(click.Group):
    """Renders AssetflowError as one message with its exit code; a traceback only with --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AssetflowError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(mask(exc.render()), err=True)
            sys.exit(exc.exit_code)
        except (KeyboardInterrupt, Interrupted):
            click.echo("interrupted: partitions in flight were rolled back; the run is recorded as cancelled",
                       err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings=CONTEXT)
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Project folder (default: the nearest folder upwards holding assetflow.toml).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.version_option(package_name="assetflow")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None, debug: bool) -> None:
    """assetflow: declare data assets in SQL and Python; build only what is stale."""
    ctx.ensure_object(dict)
    ctx.obj.update(project_dir=project_dir, debug=debug)


def project_option(func):
    """`--project DIR` on every subcommand too, so it may come before or after the command."""
    @click.option("--project", "sub_project_dir", type=click.Path(file_okay=False, path_type=Path),
                  help="Project folder.", hidden=True)
    @functools.wraps(func)
    def wrapper(*args, sub_project_dir=None, **kwargs):
        ctx = click.get_current_context()
        if sub_project_dir is not None:
            ctx.obj["project_dir"] = sub_project_dir
        return func(*args, **kwargs)
    return wrapper


def _command_line() -> str:
    """The command as typed, without the global options (recorded with the run, shown as lock holder)."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--project":
            skip = True
        elif not (arg.startswith("--project=") or arg == "--debug"):
            args.append(arg)
    return " ".join(args)


def _load(ctx: click.Context):
    from assetflow.project.config import find_project_root
    from assetflow.api import load_project
    start = ctx.obj.get("project_dir")
    if start is not None and not Path(start).exists():
        raise UsageError(f"project folder {start} does not exist")
    root = find_project_root(Path(start) if start else Path.cwd())
    project = load_project(root)
    use_masks(ctx, project.config.masks)
    return project


def _emit(text: str) -> None:
    click.echo(mask(text))


# ------------------------------------------------------------------------------------------ init

@main.command(context_settings=CONTEXT)
@click.argument("directory", type=click.Path(path_type=Path))
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY from the built-in template."""
    from assetflow.project.scaffold import create_project
    created = create_project(directory)
    _emit(f"Created project in {created}\nNext: cd {directory} && assetflow materialize")


# ------------------------------------------------------------------------------------------ status

@main.command(context_settings=CONTEXT)
@click.argument("selection", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@click.option("--verify", is_flag=True, help="Also compare recorded row counts with the data, per partition.")
@project_option
@click.pass_context
def status(ctx: click.Context, selection: tuple[str, ...], as_json: bool, target: str | None, verify: bool) -> None:
    """Show each asset's partitions: fresh, stale, blocked or failed, and why."""
    from assetflow.cli import render
    from assetflow import api
    report = api.status(_load(ctx), selection, target, verify)
    if as_json:
        data = render.status_json(report.plan, report.graph, report.selected, report.checks, report.orphans,
                                  report.outside)
        data["moved_sources"] = render.moved_sources_json(report.moved_sources)
        if report.drift is not None:
            data["drift"] = [d.__dict__ if hasattr(d, "__dict__") else
                             {s: getattr(d, s) for s in d.__slots__} for d in report.drift]
        _emit(render.to_json(data))
    else:
        _emit(render.status_text(report.plan, report.graph, report.selected, report.database,
                                 checks=report.checks, orphans=report.orphans))
        if report.moved_sources:
            _emit(render.moved_sources_text(report.moved_sources))
        if report.drift is not None:
            _emit(render.drift_text(report.drift, report.outside or ()))
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
    ]):
        func = option(func)
    return func


@main.command(context_settings=CONTEXT)
@click.argument("selection", nargs=-1)
@click.option("--partition", help="Build this partition key only.")
@click.option("--from", "from_key", help="First partition key (inclusive).")
@click.option("--to", "to_key", help="Last partition key (inclusive).")
@click.option("--full-refresh", is_flag=True, help="Rebuild the selected partitions whatever their state.")
@_run_options
@project_option
@click.pass_context
def materialize(ctx, selection, partition, from_key, to_key, full_refresh, threads, target, wait, as_json,
                dry_run) -> None:
    """Build the stale partitions of the selected assets, in dependency order, in parallel."""
    from assetflow.api import MaterializeOptions
    options = MaterializeOptions(tuple(selection), partition, from_key, to_key, full_refresh, threads, dry_run,
                                 target, wait, command=_command_line())
    _materialize(ctx, options, as_json)


@main.command(context_settings=CONTEXT)
@click.argument("asset_name", metavar="ASSET")
@click.option("--from", "from_key", required=True, help="First partition key (inclusive).")
@click.option("--to", "to_key", required=True, help="Last partition key (inclusive).")
@_run_options
@project_option
@click.pass_context
def backfill(ctx, asset_name, from_key, to_key, threads, target, wait, as_json, dry_run) -> None:
    """Rebuild ASSET's partitions FROM..TO, then whatever downstream became stale."""
    from assetflow.api import backfill as run_backfill
    _materialize(ctx, None, as_json, backfill=(asset_name, from_key, to_key, threads, target, wait, dry_run),
                 runner_fn=run_backfill)


def _materialize(ctx, options, as_json: bool, backfill=None, runner_fn=None) -> None:
    from assetflow.cli import render
    from assetflow import api
    from assetflow.api import RunEvents
    import signal
    import threading
    project = _load(ctx)
    started = time.perf_counter()
    progress = _Progress(enabled=not as_json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())   # finish what runs, start nothing new
    events = RunEvents(stop=stop, on_plan=progress.plan, on_done=progress.done)
    if backfill is not None:
        outcome = runner_fn(project, *backfill, events=events)
    else:
        outcome = api.materialize(project, options, events)
    if outcome.run_id is None:                                   # dry run
        _emit(render.to_json(render.dry_run_json(outcome.plan)) if as_json else render.plan_text(outcome.plan))
        return
    if as_json:
        _emit(render.to_json(render.run_json(outcome.run_id, outcome.status, outcome.results, outcome.plan, outcome.checks)))
    else:
        _emit(render.run_summary(outcome.run_id, outcome.results, outcome.database,
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

    def _say(self, line: str, newline: bool = True) -> None:
        try:
            click.echo(mask(line), err=True, nl=newline)
        except OSError:            # a closed pipe (`| head`) must not kill the run: stop reporting
            self.enabled = False


# ------------------------------------------------------------------------------------------ graph & co

@main.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "mermaid", "dot"]), default="text",
              show_default=True)
@project_option
@click.pass_context
def graph(ctx, fmt: str) -> None:
    """Print the asset graph (the DAG) as text, JSON, Mermaid or Graphviz dot."""
    from assetflow.cli import render
    from assetflow import api
    g = api.graph_of(_load(ctx))
    out = {"text": render.graph_text, "mermaid": render.graph_mermaid, "dot": render.graph_dot}
    _emit(render.to_json(render.graph_json(g)) if fmt == "json" else out[fmt](g))


@main.command(context_settings=CONTEXT)
@click.argument("asset_name", metavar="ASSET[.COLUMN]")
@click.option("--target", help="Target whose tables give column types (default: the first).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@project_option
@click.pass_context
def lineage(ctx, asset_name: str, target: str | None, as_json: bool) -> None:
    """Show what ASSET reads and what reads it; for ASSET.COLUMN, the columns it derives from."""
    from assetflow.run import lineage as lin
    from assetflow.cli import render
    from assetflow import api
    project = _load(ctx)
    g = api.graph_of(project)
    name, column = lin.split_target(g, asset_name)
    if column is None:
        info = lin.asset_lineage(g, name)
        if as_json:
            _emit(render.to_json(info.__dict__))
            return
        _emit(f"{name}\n  upstream:       {', '.join(info.upstream) or '-'}"
              f"\n  downstream:     {', '.join(info.downstream) or '-'}"
              f"\n  all upstream:   {', '.join(info.all_upstream) or '-'}"
              f"\n  all downstream: {', '.join(info.all_downstream) or '-'}")
        return
    root = lin.column_lineage(project, g, name, column, api.table_columns(project, target))
    _emit(render.to_json(lin.column_json(root)) if as_json else lin.render_columns(root))


@main.command(name="compile", context_settings=CONTEXT)
@click.argument("asset_name", metavar="ASSET")
@click.option("--partition", help="Show the statement for this partition key.")
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@project_option
@click.pass_context
def compile_command(ctx, asset_name: str, partition: str | None, target: str | None) -> None:
    """Print ASSET's SQL exactly as it would run (qualified names, partition values bound)."""
    from assetflow import api
    _emit(api.compile_asset(_load(ctx), asset_name, partition, target))


@main.command(context_settings=CONTEXT)
@click.argument("selection", nargs=-1)
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@click.option("--wait", type=click.FloatRange(min=0), default=0.0, help="Seconds to wait for another run's lock.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@project_option
@click.pass_context
def check(ctx, selection: tuple[str, ...], target: str | None, wait: float, as_json: bool) -> None:
    """Run the checks of the selected assets against their current data."""
    from assetflow.cli import render
    from assetflow.run.checks_runner import check as run_checks
    report = run_checks(_load(ctx), selection, target, wait)
    if as_json:
        _emit(render.to_json({"run_id": report.run_id, "status": "failed" if report.failed else "success",
                              "checks": render.check_json(report.outcomes)}))
    else:
        _emit("\n".join(render.check_lines(report.outcomes)) or "No checks to run.")
        passed = sum(1 for o in report.outcomes if o.result.passed)
        _emit(f"{passed} of {len(report.outcomes)} checks passed.  run {report.run_id}")
    warn(report.alert_problems)
    if report.failed:
        sys.exit(1)


@main.command(context_settings=CONTEXT)
@click.argument("selection", nargs=-1)
@click.option("--partition", help="Rebuild this partition key of partitioned assets.")
@click.option("--last", type=click.IntRange(min=1), default=1, show_default=True,
              help="Rebuild the latest N partitions of partitioned assets.")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: the target's).")
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@project_option
@click.pass_context
def dev(ctx, selection, partition, last, threads, target) -> None:
    """Build what is stale, then watch the project and rebuild what each save makes stale."""
    from assetflow.project.config import find_project_root, load_config
    from assetflow.cli.dev import DevOptions, run_dev
    start = ctx.obj.get("project_dir")
    root = find_project_root(Path(start) if start else Path.cwd())
    config = load_config(root)
    use_masks(ctx, config.masks)
    options = DevOptions(tuple(selection), partition, last, threads, target)
    try:
        run_dev(root, config.target(target).path, options, lambda line: click.echo(mask(line)))
    except KeyboardInterrupt:
        pass
    click.echo("stopped")


# ------------------------------------------------------------------------------------------ runs

@main.group(invoke_without_command=True, context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@project_option
@click.pass_context
def runs(ctx, limit: int, as_json: bool, target: str | None) -> None:
    """List recent runs (`runs show RUN_ID` for one)."""
    ctx.obj["target"] = target
    if ctx.invoked_subcommand is not None:
        return
    from assetflow.cli import render
    from assetflow import api
    records = api.list_runs(_load(ctx), target, limit)
    if as_json:
        _emit(render.to_json({"runs": [r.__dict__ if hasattr(r, "__dict__") else _record(r) for r in records]}))
        return
    if not records:
        _emit("No runs yet.")
    for r in records:
        ended = f"{r.ended_at:%Y-%m-%d %H:%M:%S}" if r.ended_at else "-"
        _emit(f"{r.run_id}  {r.status:<9}  {r.started_at:%Y-%m-%d %H:%M:%S} -> {ended}  {r.command}")


def _record(r) -> dict:
    return {s: getattr(r, s) for s in r.__slots__}


@runs.command(name="show", context_settings=CONTEXT)
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@project_option
@click.pass_context
def runs_show(ctx, run_id: str, as_json: bool) -> None:
    """Show one run: every partition attempt, its status, rows and error."""
    from assetflow.cli import render
    from assetflow import api
    record, attempts = api.show_run(_load(ctx), ctx.obj.get("target"), run_id)
    if as_json:
        _emit(render.to_json({"run": _record(record), "attempts": [_record(a) for a in attempts]}))
        return
    _emit(f"run {record.run_id}  {record.status}  {record.command}\nstarted {record.started_at}  ended {record.ended_at}")
    for a in attempts:
        line = f"  {a.status:<8} {render.label(a.asset, a.partition)}  attempt {a.attempt}"
        _emit(line + (f"  {a.rows} rows" if a.rows is not None else "") +
              (f"\n           {a.error.splitlines()[0]}" if a.error else ""))


# ------------------------------------------------------------------------------------------ command modules

from assetflow.cli.clean import command as clean_command  # noqa: E402 - registered after the group exists
from assetflow.cli.import_dbt import import_dbt  # noqa: E402

main.add_command(clean_command(_load, project_option, CONTEXT))
main.add_command(import_dbt)
