"""The assets page (the graph and a table of partition counts) and the page of one asset."""
from __future__ import annotations

from collections import deque

from assetflow.plan.graph import AssetGraph
from assetflow.ui.html import badge, data_json, esc, table, url
from assetflow.ui.ranges import SEVERITY, worst

GRAPH_LIMIT = 150          # nodes drawn at once; a bigger graph opens on a neighbourhood (dbt-docs#170)
DEFAULT_DEPTH = 2


def asset_status(counts: dict) -> str:
    return worst(c for c in SEVERITY if counts.get(c))


def assets_body(report, focus: str | None, depth: int) -> str:
    graph, plans = report.graph, report.plan.assets
    status = {name: asset_status(plans[name].counts()) for name in graph.order}
    shown, focus = neighbourhood(graph, status, focus, depth)
    totals = {c: sum(plans[n].counts()[c] for n in graph.order) for c in SEVERITY}
    summary = " · ".join(f'{badge(c)} {totals[c]}' for c in SEVERITY)
    return (f'<h1>Assets</h1><p class="summary">{len(graph.order)} assets, '
            f'{sum(len(plans[n].keys) for n in graph.order)} partitions: {summary}</p>'
            f'{_materialize_form()}{_graph_section(graph, status, shown, focus, depth)}'
            f'<h2>Partitions per asset</h2>{_counts_table(graph, plans, status)}')


def _materialize_form() -> str:
    return ('<form class="actions" id="materialize-form" data-action="/api/materialize">'
            '<label>Selection <input name="selection" placeholder="every asset (e.g. marts.daily+, tag:x)"></label>'
            '<button type="submit">Materialize</button><span class="form-error" role="alert"></span></form>')


def neighbourhood(graph: AssetGraph, status: dict[str, str], focus: str | None,
                  depth: int) -> tuple[list[str], str | None]:
    """Every asset when the graph is small; else the assets within `depth` edges of `focus` (default:
    the first failed, else stale, else first asset), nearest first, at most GRAPH_LIMIT."""
    if len(graph.order) <= GRAPH_LIMIT and focus is None:
        return list(graph.order), None
    if focus is None or focus not in graph.assets:
        focus = next((n for c in SEVERITY for n in graph.order if status[n] == c), None)
    if focus is None:
        return [], None
    seen, queue = {focus: 0}, deque([focus])
    while queue and len(seen) < GRAPH_LIMIT:
        name = queue.popleft()
        if seen[name] >= depth:
            continue
        for other in (*graph.upstream_assets(name), *graph.downstream.get(name, ())):
            if other in graph.assets and other not in seen and len(seen) < GRAPH_LIMIT:
                seen[other] = seen[name] + 1
                queue.append(other)
    return [n for n in graph.order if n in seen], focus


def _graph_section(graph: AssetGraph, status: dict, shown: list[str], focus: str | None, depth: int) -> str:
    members = set(shown)
    nodes = [{"id": n, "status": status[n], "href": url("assets", n), "focus": n == focus} for n in shown]
    edges = [[u, n] for n in shown for u in graph.upstream_assets(n) if u in members]
    if focus is None:
        caption = f"All {len(shown)} assets."
    else:
        caption = (f"{len(shown)} of {len(graph.order)} assets: those within {depth} steps of "
                   f'<a href="{url("assets", focus)}">{esc(focus)}</a>.')
    options = "".join(f'<option value="{esc(n)}">' for n in graph.order)
    chooser = (f'<form class="focus" method="get" action="/"><label>Neighbourhood of '
               f'<input name="focus" list="asset-names" value="{esc(focus or "")}"></label>'
               f'<label>depth <input name="depth" type="number" min="1" max="9" value="{depth}"></label>'
               f'<button type="submit">Show</button></form><datalist id="asset-names">{options}</datalist>')
    legend = "".join(f'<span class="legend s-{c}">{c}</span>' for c in SEVERITY)
    return (f'<section class="graph"><h2>Graph</h2>{chooser}<p class="caption">{caption} {legend}</p>'
            f'<div id="graph" class="graph-canvas" aria-label="asset graph"></div>'
            f'<script type="application/json" id="graph-data">{data_json({"nodes": nodes, "edges": edges})}'
            f'</script></section>')


def _counts_table(graph: AssetGraph, plans, status: dict) -> str:
    rows = []
    for name in graph.order:
        c = plans[name].counts()
        spec = graph.assets[name]
        rows.append(f'<tr data-asset="{esc(name)}"><td><a href="{url("assets", name)}">{esc(name)}</a></td>'
                    f'<td>{esc(spec.kind.value)}</td><td>{badge(status[name])}</td><td class="n">{c["total"]}</td>'
                    + "".join(f'<td class="n">{c[k] or ""}</td>' for k in SEVERITY) + "</tr>")
    return table(("asset", "kind", "status", "partitions", *SEVERITY), rows, "assets-table")
