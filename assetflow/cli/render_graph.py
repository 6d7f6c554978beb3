"""The asset graph as text, JSON, Mermaid and Graphviz dot (`assetflow graph`), and an asset's
documentation as JSON (graph JSON, the UI). Nodes drawn are the selected assets in dependency
order and the sources they read."""
from __future__ import annotations

from typing import Any

from assetflow.plan.graph import AssetGraph

def _shown(graph: AssetGraph, names: frozenset[str] | None) -> tuple[list[str], list[str]]:
    """The assets to draw (in dependency order) and the sources they read: everything without a
    selection; with one, the selected assets and the sources those read."""
    if names is None:
        return list(graph.order), sorted(graph.sources)
    assets = [n for n in graph.order if n in names]
    return assets, sorted({up for n in assets for up in graph.upstream[n] if up in graph.sources})


def graph_json(graph: AssetGraph, names: frozenset[str] | None = None) -> dict[str, Any]:
    assets, sources = _shown(graph, names)
    return {"assets": [{"name": n, "kind": graph.assets[n].kind.value, "upstream": list(graph.upstream[n]),
                        "path": graph.assets[n].path, "tags": list(graph.assets[n].settings.tags),
                        **docs_json(graph.assets[n].settings)}
                       for n in assets],
            "sources": sources}


def docs_json(settings) -> dict[str, Any]:
    """An asset's documentation: description and owner (null when not written), columns by name."""
    return {"description": settings.description, "owner": settings.owner, "columns": dict(settings.columns)}


def graph_text(graph: AssetGraph, names: frozenset[str] | None = None) -> str:
    lines = []
    for name in _shown(graph, names)[0]:
        ups = graph.upstream[name]
        lines.append(f"{name} ({graph.assets[name].kind.value})" + (f" <- {', '.join(ups)}" if ups else ""))
    return "\n".join(lines)


def _node_id(name: str, ids: dict[str, str]) -> str:
    return ids.setdefault(name, f"n{len(ids)}")


def _edges(graph: AssetGraph, assets: list[str], sources: list[str]) -> list[tuple[str, str]]:
    drawn = set(assets) | set(sources)
    return [(up, name) for name in assets for up in graph.upstream[name] if up in drawn]


def graph_mermaid(graph: AssetGraph, names: frozenset[str] | None = None) -> str:
    assets, sources = _shown(graph, names)
    ids: dict[str, str] = {}
    lines = ["graph LR"]
    lines.extend(f'  {_node_id(name, ids)}[("{name}")]' for name in sources)
    lines.extend(f'  {_node_id(name, ids)}["{name}"]' for name in assets)
    lines.extend(f"  {_node_id(up, ids)} --> {_node_id(name, ids)}" for up, name in _edges(graph, assets, sources))
    return "\n".join(lines)


def graph_dot(graph: AssetGraph, names: frozenset[str] | None = None) -> str:
    assets, sources = _shown(graph, names)
    lines = ["digraph assetflow {", "  rankdir=LR;"]
    lines.extend(f'  "{name}" [shape=cylinder];' for name in sources)
    lines.extend(f'  "{name}" [shape=box];' for name in assets)
    lines.extend(f'  "{up}" -> "{name}";' for up, name in _edges(graph, assets, sources))
    lines.append("}")
    return "\n".join(lines)
