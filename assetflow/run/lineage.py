"""`assetflow lineage`: asset-level neighbours, and column-level lineage traced through SQL assets."""
from __future__ import annotations

from dataclasses import dataclass, field

from assetflow.assets import SqlBody
from assetflow.errors import UsageError
from assetflow.plan.graph import AssetGraph, downstream_closure, upstream_closure
from assetflow.project.loader import Project

MAX_DEPTH = 25


@dataclass(frozen=True)
class ColumnNode:
    node: str                       # asset or source name
    column: str
    upstream: tuple[ColumnNode, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class AssetLineage:
    name: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    all_upstream: tuple[str, ...]
    all_downstream: tuple[str, ...]
    description: str | None = None
    owner: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


def split_target(graph: AssetGraph, text: str) -> tuple[str, str | None]:
    """`schema.name`, `name`, `schema.name.column` or `name.column` -> (asset, column or None)."""
    lowered = text.lower()
    if lowered in graph.assets:
        return lowered, None
    matches = [n for n in graph.assets if n.rpartition(".")[2] == lowered]
    if len(matches) == 1:
        return matches[0], None
    head, _, column = text.rpartition(".")
    if head:
        asset, inner = split_target(graph, head) if head.lower() != text.lower() else (None, None)
        if asset is not None and inner is None:
            return asset, column
    from assetflow.names import suggest
    raise UsageError(f"'{text}' is not an asset or asset.column",
                     hint=suggest(text, sorted(graph.assets)) or "run `assetflow graph` to list assets")


def asset_lineage(graph: AssetGraph, name: str) -> AssetLineage:
    settings = graph.assets[name].settings
    return AssetLineage(name, graph.upstream[name], graph.downstream.get(name, ()),
                        tuple(sorted(upstream_closure(graph, [name]))),
                        tuple(sorted(downstream_closure(graph, [name]))),
                        settings.description, settings.owner, dict(settings.columns))


def render_asset(info: AssetLineage) -> str:
    lines = [info.name]
    if info.description:
        import textwrap
        lines += [f"  {wrapped}" for line in info.description.splitlines()
                  for wrapped in (textwrap.wrap(line, 96) or [""])]
    if info.owner:
        lines.append(f"  owner:          {info.owner}")
    lines += [f"  upstream:       {', '.join(info.upstream) or '-'}",
              f"  downstream:     {', '.join(info.downstream) or '-'}",
              f"  all upstream:   {', '.join(info.all_upstream) or '-'}",
              f"  all downstream: {', '.join(info.all_downstream) or '-'}"]
    if info.columns:
        lines.append("  columns:")
        width = max(len(c) for c in info.columns)
        lines += [f"    {column:<{width}}  {text}" for column, text in info.columns.items()]
    return "\n".join(lines)


def column_description(graph: AssetGraph, node: str, column: str) -> str | None:
    spec = graph.assets.get(node)
    if spec is None:
        return None
    return next((text for name, text in spec.settings.columns if name.lower() == column.lower()), None)


def column_lineage(project: Project, graph: AssetGraph, name: str, column: str,
                   schema: dict[str, dict[str, dict[str, str]]] | None) -> ColumnNode:
    """Trace `name.column` to the columns it derives from, asset by asset, down to sources."""
    return _trace(project, graph, name, column, schema, 0)


def _trace(project: Project, graph: AssetGraph, name: str, column: str, schema, depth: int) -> ColumnNode:
    spec = graph.assets.get(name)
    if spec is None or not isinstance(spec.body, SqlBody) or depth >= MAX_DEPTH:
        return ColumnNode(name, column)           # a source, a seed, or a Python asset: lineage ends here
    from assetflow.project import sql
    from assetflow.run.compile import compile_sql, relation_of
    compiled = compile_sql(spec, graph, project.root, project.config.dialect)
    by_relation = {_parts(relation_of(node, graph)): node for node in graph.upstream[name]}
    children = []
    for parts, col in sql.source_columns(compiled.sql, "duckdb", column, schema):
        node = by_relation.get(parts[-2:]) or ".".join(parts)
        children.append(_trace(project, graph, node, col, schema, depth + 1))
    return ColumnNode(name, column, tuple(children))


def _parts(relation: str) -> tuple[str, ...]:
    return tuple(p.strip('"').lower() for p in relation.split("."))[-2:]


def render_columns(root: ColumnNode, graph: AssetGraph) -> str:
    lines = [f"{root.node}.{root.column}" + _described(graph, root)]

    def walk(node: ColumnNode, depth: int) -> None:
        for child in node.upstream:
            lines.append(f"{'  ' * depth}<- {child.node}.{child.column}" + _described(graph, child))
            walk(child, depth + 1)

    walk(root, 1)
    if not root.upstream:
        lines.append("  (no upstream columns: a constant, or an asset whose lineage cannot be traced)")
    return "\n".join(lines)


def _described(graph: AssetGraph, node: ColumnNode) -> str:
    text = column_description(graph, node.node, node.column)
    return f"  -- {text}" if text else ""


def column_json(root: ColumnNode, graph: AssetGraph) -> dict:
    return {"asset": root.node, "column": root.column,
            "description": column_description(graph, root.node, root.column),
            "upstream": [column_json(c, graph) for c in root.upstream]}
