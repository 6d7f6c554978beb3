"""`assetflow runs` and `assetflow runs show`: the recorded history of a target."""
from __future__ import annotations

import click

from assetflow.cli.common import CONTEXT, common_options, emit, examples, load, record_dict
from assetflow.cli.snapshot_notice import snapshot_json, snapshot_text

TARGET_HELP = "Target from assetflow.toml (default: the first)."


@click.group(invoke_without_command=True, context_settings=CONTEXT, epilog=examples(
    "assetflow runs", "assetflow runs --limit 5 --target prod --json", "assetflow runs show 20260301T0200"))
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--target", help=TARGET_HELP)
@common_options()
@click.pass_context
def runs(ctx, limit: int, as_json: bool, target: str | None) -> None:
    """List recent runs, newest first (`runs show RUN_ID` for one)."""
    ctx.obj["target"] = target
    ctx.obj["as_json"] = as_json
    if ctx.invoked_subcommand is not None:
        return
    from assetflow.cli import render
    from assetflow import api
    report = api.runs_report(load(ctx), target, limit)
    records = report.runs
    if as_json:
        emit(render.to_json({"runs": [{**record_dict(r), "backfill": _backfill_json(report.backfills.get(r.run_id))}
                                      for r in records], "snapshot": snapshot_json(report.snapshot)}))
        return
    if report.snapshot is not None:
        emit(snapshot_text(report.snapshot))
    if not records:
        emit("No runs yet.")
    for r in records:
        ended = f"{r.ended_at:%Y-%m-%d %H:%M:%S}" if r.ended_at else "-"
        tick = f"  [{r.trigger} tick {r.tick:%Y-%m-%dT%H:%M}Z]" if r.tick is not None else ""
        done = report.backfills.get(r.run_id)
        progress = f"  ({done.done} of {done.total} done)" if done is not None else ""
        emit(f"{r.run_id}  {r.status:<9}  {r.started_at:%Y-%m-%d %H:%M:%S} -> {ended}  {r.command}{tick}{progress}")


def _backfill_json(progress) -> dict | None:
    """A backfill run's progress: the partitions of the range its pass had built when it ended."""
    if progress is None:
        return None
    return {"id": progress.backfill, "asset": progress.asset, "from": progress.first, "to": progress.last,
            "pass": progress.generation, "done": progress.done, "total": progress.total}


@runs.command(name="show", context_settings=CONTEXT, epilog=examples(
    "assetflow runs show 20260301T0200", "assetflow runs show 20260301T020000-a1b2c3 --target prod --json"))
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--target", help=TARGET_HELP)
@common_options()
@click.pass_context
def runs_show(ctx, run_id: str, as_json: bool, target: str | None) -> None:
    """Show one run (RUN_ID or a unique prefix): every attempt, its rows, whole error and log."""
    from assetflow.cli import render
    from assetflow import api
    report = api.run_report(load(ctx), target or ctx.obj.get("target"), run_id)
    from assetflow.cli.alerts_render import alerts_json, alerts_text
    if as_json or ctx.obj.get("as_json"):
        emit(render.to_json({**render.run_record_json(report.record, report.attempts),
                             "alerts": alerts_json(report.alerts), "snapshot": snapshot_json(report.snapshot)}))
        return
    if report.snapshot is not None:
        emit(snapshot_text(report.snapshot))
    emit(render.run_record_text(report.record, report.attempts))
    if (alerts := alerts_text(report.alerts)) is not None:
        emit(alerts)
