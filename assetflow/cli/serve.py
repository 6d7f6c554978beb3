"""`assetflow serve`: the web UI, the runs it launches and (unless --no-schedules) the scheduler,
in one long-lived process. SIGTERM or Ctrl-C stops it: a running build gets its grace period."""
from __future__ import annotations

import signal
import threading

import click

from assetflow.cli.common import CONTEXT, common_options, examples, project_root


@click.command(context_settings=CONTEXT, epilog=examples(
    "assetflow serve", "assetflow serve --port 0", "assetflow serve --host 0.0.0.0 --port 8080 --no-schedules"))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the UI to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--no-schedules", is_flag=True, help="Do not run the project's schedules in this process.")
@click.option("--target", help="Target from assetflow.toml (default: the first).")
@common_options()
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, no_schedules: bool, target: str | None) -> None:
    """Serve the web UI: the asset graph, partitions, runs, schedules, and Materialize/Backfill buttons."""
    from assetflow.errors import UsageError
    from assetflow.ui import build_server
    from assetflow.ui.server import is_loopback
    try:
        root = project_root(ctx)
        server = build_server(root, host, port, target, schedules=not no_schedules)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                         hint="pick another --port (0 picks a free one)") from None
    if not is_loopback(host):
        click.echo(f"warning: listening on {host}: anyone who can reach this machine can open the UI and "
                   "start runs; the token only stops other web sites, not other people", err=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = None
    if not no_schedules and server.app.reads.project().config.schedules:
        from assetflow.cli.masks import mask
        from assetflow.ui.scheduling import start_scheduler
        scheduler = start_scheduler(root, stop, lambda exc: click.echo(mask(exc.render()), err=True))
    server.warm()              # (before the address is printed: nobody can ask before it is read)
    worker = threading.Thread(target=server.serve_forever, name="assetflow-serve", daemon=True)
    worker.start()
    click.echo(f"Serving on {server.url}")
    while not stop.wait(0.5):
        pass
    click.echo("stopping: running partitions finish (their grace period), nothing new starts", err=True)
    server.stop()
    if scheduler is not None:
        scheduler.join()
    click.echo("stopped", err=True)
