"""What every command shares: the one error handler, the options accepted anywhere on the line,
loading the project, and printing."""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

import click

from assetflow.cli.masks import mask, use_masks
from assetflow.errors import EXIT_INTERRUPTED, AssetflowError, Interrupted, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
SELECTION_HELP = ("SELECTION: names (schema.name or name, globs), +name (with upstream), name+ (with "
                  "downstream), 2+name / name+1 (limited depth), @name, tag:x, path:dir (relative to the "
                  "current folder), state:modified; several are unioned, a,b intersects; --exclude "
                  "SELECTION removes. The grammar: docs/cli.md#selection")


def examples(*lines: str, selection: bool = False) -> str:
    """A command's epilog: examples as typed (kept as written), and where the selection grammar is."""
    text = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
    return text + ("\n\n" + SELECTION_HELP if selection else "") + "\n\nCommand line reference: docs/cli.md"


def json_requested(args: Sequence[str]) -> bool:
    """Whether the command line asks for JSON (`--json`, `--format json`), wherever it stands:
    an error must then be JSON on stdout too, even one found before the command's options parse."""
    words = list(args)
    if "--" in words:
        words = words[:words.index("--")]
    for n, word in enumerate(words):
        if word == "--json" or word == "--format=json":
            return True
        if word == "--format" and n + 1 < len(words) and words[n + 1] == "json":
            return True
    return False


def error_json(message: str, path: str | None = None, line: int | None = None, hint: str | None = None) -> str:
    return mask(json.dumps({"error": {"message": message, "path": path, "line": line, "hint": hint}}))


class AssetflowGroup(click.Group):
    """Renders AssetflowError as one message with its exit code; a traceback only with --debug.
    With --json the error is also printed on stdout as {"error": {...}} (SPEC section 7)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta.setdefault("assetflow.json", json_requested(args))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        as_json = ctx.meta.get("assetflow.json", False)
        try:
            return super().invoke(ctx)
        except AssetflowError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            if as_json:
                click.echo(error_json(exc.message, exc.path, exc.line, exc.hint))
            click.echo(mask(exc.render()), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:       # bad options: click prints the usage on stderr
            if as_json:
                click.echo(error_json(exc.format_message(), hint=_usage_hint(ctx)))
            raise
        except (KeyboardInterrupt, Interrupted):
            click.echo("interrupted: partitions in flight were rolled back; the run is recorded as cancelled",
                       err=True)
            sys.exit(EXIT_INTERRUPTED)


def _usage_hint(ctx: click.Context) -> str:
    name = ctx.invoked_subcommand
    return f"see `assetflow {name} --help`" if name else "see `assetflow --help`"


def common_options(with_project: bool = True):
    """`--project DIR` and `--debug` on every subcommand too, so global options may come before or
    after the command (`assetflow status --project shop --debug`)."""
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, sub_project_dir=None, sub_debug=False, **kwargs):
            ctx = click.get_current_context()
            ctx.ensure_object(dict)
            if sub_project_dir is not None:
                ctx.obj["project_dir"] = sub_project_dir
            if sub_debug:
                ctx.obj["debug"] = True
            with engine_logs(bool(ctx.obj.get("debug"))):
                return func(*args, **kwargs)
        wrapper = click.option("--debug", "sub_debug", is_flag=True, hidden=True,
                               help="Show Python tracebacks for errors.")(wrapper)
        if with_project:
            wrapper = click.option("--project", "sub_project_dir", hidden=True, help="Project folder.",
                                   type=click.Path(file_okay=False, path_type=Path))(wrapper)
        return wrapper
    return decorate


@contextlib.contextmanager
def engine_logs(debug: bool):
    """With --debug the engines' own logs are let through (Spark's log4j at INFO, for a JVM
    started by this command), for this command only."""
    logger = logging.getLogger("assetflow.spark")
    before = logger.level
    if debug:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.setLevel(before)


def project_root(ctx: click.Context) -> Path:
    from assetflow.project.config import find_project_root
    start = ctx.obj.get("project_dir")
    if start is not None and not Path(start).exists():
        raise UsageError(f"project folder {start} does not exist")
    return find_project_root(Path(start) if start else Path.cwd())


def rooted(selection: Sequence[str], root: Path) -> tuple[str, ...]:
    """The selection with `path:` terms read from the current folder (see select.rebase_paths)."""
    from assetflow.plan.select import rebase_paths
    return rebase_paths(selection, str(Path.cwd()), str(root))


def load(ctx: click.Context):
    from assetflow.api import load_project
    project = load_project(project_root(ctx), variables=ctx.obj.get("vars"))
    use_masks(ctx, project.config.masks)
    return project


def emit(text: str) -> None:
    click.echo(mask(text))


def command_line() -> str:
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


def record_dict(record: Any) -> dict:
    return {s: getattr(record, s) for s in record.__slots__}
