"""The page of one asset: its partitions as status ranges, why each range is not fresh, its SQL or
function, upstream and downstream, columns and their types, recent runs, and the action buttons."""
from __future__ import annotations

import ast
from pathlib import Path

from assetflow.assets import PythonBody, SeedBody, SqlBody
from assetflow.partitions import StaticPartitions
from assetflow.ui.html import badge, esc, table, url, when
from assetflow.ui.pages_assets import asset_status
from assetflow.ui.ranges import FRESH, SEVERITY, status_ranges, strip

REASON_ROWS = 200          # ranges listed in "why not fresh" (the strip shows them all)


def asset_body(name: str, report, root: Path, columns: dict | None, runs: list) -> str:
    graph, plan = report.graph, report.plan.assets[name]
    spec = graph.assets[name]
    counts = plan.counts()
    ranges = status_ranges(plan.keys, plan.problems)
    return (f'<h1>{esc(name)} {badge(asset_status(counts))}</h1>{_about(spec)}{_buttons(name, spec)}'
            f'<h2>Partitions</h2>{_counts(counts)}{_strip(plan.keys, ranges)}{_why(ranges)}'
            f'<div class="two">{_neighbours(graph, name)}{_columns(spec, columns)}</div>'
            f'<h2>Definition</h2>{_definition(spec, root)}<h2>Recent runs</h2>{_runs(runs)}')


def _about(spec) -> str:
    s = spec.settings
    part = s.partitioning
    if part is None:
        partitions = "not partitioned"
    elif isinstance(part, StaticPartitions):
        partitions = f"{len(part.keys)} static partitions on {part.column}"
    else:
        partitions = (f"{part.grain.value} partitions on {part.column} from {part.start:%Y-%m-%d}"
                      + (f" to {part.end:%Y-%m-%d}" if part.end else ""))
    rows = [("kind", s.kind.value), ("partitions", partitions), ("defined in", f"{spec.path}:{spec.line}"),
            ("owner", s.owner), ("tags", ", ".join(s.tags) or None)]
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows if v)
    description = f'<p class="description">{esc(s.description)}</p>' if s.description else ""
    return f"{description}<dl class=about>{items}</dl>"


def _buttons(name: str, spec) -> str:
    out = (f'<div class="actions"><button type="button" data-post="/api/materialize" '
           f'data-selection="{esc(name)}" id="materialize">Materialize</button>')
    if spec.partitioning is not None:
        out += '<button type="button" id="backfill-open">Backfill</button>'
    out += '<span class="form-error" role="alert"></span></div>'
    return out + (_backfill_dialog(name) if spec.partitioning is not None else "")


def _backfill_dialog(name: str) -> str:
    return (f'<dialog id="backfill-dialog"><form id="backfill-form" method="dialog">'
            f'<h3>Backfill {esc(name)}</h3><input type="hidden" name="asset" value="{esc(name)}">'
            '<p><label for="bf-from">From</label> <input id="bf-from" name="from" required> '
            '<label for="bf-to">To</label> <input id="bf-to" name="to" required></p>'
            '<p><label><input type="checkbox" name="downstream" checked> include downstream</label> '
            '<label><input type="checkbox" name="only_missing"> only missing or failed</label></p>'
            '<p class="preview" role="status"></p><p class="form-error" role="alert"></p>'
            '<p class="buttons"><button type="button" id="bf-preview">Preview</button> '
            '<button type="button" id="bf-launch">Launch</button> '
            '<button type="button" id="bf-close">Close</button></p></form></dialog>')


def _counts(counts: dict) -> str:
    parts = [f'{badge(c)} {counts[c]}' for c in SEVERITY if counts[c]]
    return f'<p class="summary">{counts["total"]} partitions: {" · ".join(parts) or "none yet"}</p>'


def _label(r) -> str:
    span = r.first if r.count == 1 else f"{r.first} .. {r.last}"
    return f"{span} ({r.count}): {r.category}" + (f" - {', '.join(r.reasons)}" if r.reasons else "")


def _strip(keys, ranges) -> str:
    if not keys:
        return ""
    segments = "".join(f'<span class="seg s-{esc(r.category)}" style="flex-grow:{r.count}" '
                       f'title="{esc(_label(r))}"></span>' for r in strip(ranges, keys))
    return (f'<div class="strip" role="img" aria-label="partition status">{segments}</div>'
            f'<p class="strip-ends"><span>{esc(keys[0])}</span><span>{esc(keys[-1])}</span></p>')


def _why(ranges) -> str:
    bad = [r for r in ranges if r.category != FRESH]
    if not bad:
        return '<p class="ok">Every partition is fresh.</p>'
    rows = [f'<tr><td>{esc(r.first)}</td><td>{esc(r.last)}</td><td class="n">{r.count}</td>'
            f'<td>{badge(r.category)}</td><td>{esc(", ".join(r.reasons))}</td></tr>' for r in bad[:REASON_ROWS]]
    more = f'<p>and {len(bad) - REASON_ROWS} more ranges</p>' if len(bad) > REASON_ROWS else ""
    return "<h3>Why not fresh</h3>" + table(("from", "to", "partitions", "status", "why"), rows, "why") + more


def _neighbours(graph, name: str) -> str:
    def links(names) -> str:
        items = [f'<li><a href="{url("assets", n)}">{esc(n)}</a></li>' if n in graph.assets
                 else f'<li>{esc(n)} <span class="muted">(source)</span></li>' for n in names]
        return f'<ul>{"".join(items)}</ul>' if items else '<p class="muted">none</p>'
    return (f'<section><h2>Upstream</h2>{links(graph.upstream.get(name, ()))}'
            f'<h2>Downstream</h2>{links(graph.downstream.get(name, ()))}</section>')


def _columns(spec, columns: dict | None) -> str:
    types = ((columns or {}).get(spec.key.schema) or {}).get(spec.key.name) or {}
    documented = dict(spec.settings.columns)
    names = list(types) + [c for c in documented if c not in types]
    if not names:
        return '<section><h2>Columns</h2><p class="muted">not built yet</p></section>'
    rows = [f'<tr><td>{esc(c)}</td><td>{esc(types.get(c, ""))}</td><td>{esc(documented.get(c, ""))}</td></tr>'
            for c in names]
    return f'<section><h2>Columns</h2>{table(("column", "type", "description"), rows, "columns")}</section>'


def _definition(spec, root: Path) -> str:
    body = spec.body
    if isinstance(body, SqlBody):
        return f'<pre class="code sql">{esc(body.sql.strip())}</pre>'
    if isinstance(body, PythonBody):
        return f'<pre class="code python">{esc(_function_source(root / spec.path, body.function))}</pre>'
    if isinstance(body, SeedBody):
        return f'<p>A seed: the CSV file <code>{esc(body.file)}</code>.</p>'
    return ""


def _function_source(path: Path, function: str) -> str:
    """The asset function's source with its decorators (the whole file if it cannot be found)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"({path} cannot be read: {exc.strerror})"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            lines = text.splitlines()
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            return "\n".join(lines[first - 1:node.end_lineno])
    return text


def _runs(runs: list) -> str:
    if not runs:
        return '<p class="muted">No run has built this asset yet.</p>'
    rows = [f'<tr><td><a href="{url("runs", r.run_id)}">{esc(r.run_id)}</a></td><td>{badge(r.status)}</td>'
            f'<td>{when(r.started_at)}</td><td class="n">{r.partitions}</td><td class="n">{r.failed or ""}</td>'
            f'<td>{esc(r.command)}</td></tr>' for r in runs]
    return table(("run", "status", "started (UTC)", "partitions", "failed", "command"), rows, "runs")
