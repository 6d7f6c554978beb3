"""The asset graph: resolve every reference to an asset or source, order it, find cycles.

Nodes are named by strings: `schema.name` for assets and declared sources, the path as written
for files read directly by a query. The graph is immutable; closures are pure functions over it.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Iterable, Mapping

from assetflow.assets import AssetSettings, AssetSpec, Reference, SourceSpec, SqlBody
from assetflow.errors import ProjectError
from assetflow.names import suggest


@dataclass(frozen=True)
class AssetGraph:
    assets: Mapping[str, AssetSpec]
    sources: Mapping[str, SourceSpec]
    upstream: Mapping[str, tuple[str, ...]]            # asset -> assets and sources it reads, sorted
    downstream: Mapping[str, tuple[str, ...]]          # node -> assets that read it, sorted
    relations: Mapping[str, Mapping[tuple[str, ...], str]]  # asset -> reference (lower parts) -> node,
                                                       # also what its checks read
    params: Mapping[str, Mapping[str, str]]            # python asset -> parameter -> node
    order: tuple[str, ...]                             # assets, dependencies first, ties by name

    def upstream_assets(self, name: str) -> tuple[str, ...]:
        return tuple(u for u in self.upstream[name] if u in self.assets)

    def upstream_sources(self, name: str) -> tuple[str, ...]:
        return tuple(u for u in self.upstream[name] if u in self.sources)


def build_graph(assets: Iterable[AssetSpec], declared_sources: Iterable[SourceSpec]) -> AssetGraph:
    by_name = {str(a.key): a for a in assets}
    sources = {s.name: s for s in declared_sources}
    resolver = _Resolver(by_name, sources)
    upstream: dict[str, tuple[str, ...]] = {}
    relations: dict[str, dict[tuple[str, ...], str]] = {}
    params: dict[str, dict[str, str]] = {}
    for name, spec in by_name.items():
        found: set[str] = set()
        relations[name], params[name] = {}, {}
        for ref in spec.references:
            node = resolver.resolve(ref, spec)
            found.add(node)
            relations[name][tuple(p.lower() for p in ref.parts)] = node
            if ref.param is not None:
                params[name][ref.param] = node
        for ref in spec.check_references:
            # A check reads another asset after both are built; it is no upstream (a `customers`
            # built from `orders` is what `relationships(customer_id, customers.id)` on orders
            # compares with, and an edge would make that a cycle).
            relations[name].setdefault(tuple(p.lower() for p in ref.parts), resolver.resolve(ref, spec))
        if isinstance(spec.body, SqlBody):
            for file_path in spec.body.file_reads:
                sources.setdefault(file_path, SourceSpec(name=file_path, glob=file_path, path=spec.path))
                found.add(file_path)
        upstream[name] = tuple(sorted(found))
    downstream: dict[str, list[str]] = {n: [] for n in (*by_name, *sources)}
    for name, ups in upstream.items():
        for up in ups:
            downstream[up].append(name)
    order = _topological_order(by_name, upstream)
    return AssetGraph(by_name, sources, upstream, {k: tuple(sorted(v)) for k, v in downstream.items()},
                      relations, params, order)


class _Resolver:
    """Match a reference by `schema.name`, or by a bare `name` that only one node has."""

    def __init__(self, assets: Mapping[str, AssetSpec], sources: Mapping[str, SourceSpec]):
        self.full = {**{n: n for n in sources}, **{n: n for n in assets}}
        self.bare: dict[str, list[str]] = {}
        for name in self.full:
            self.bare.setdefault(name.rpartition(".")[2], []).append(name)

    def resolve(self, ref: Reference, spec: AssetSpec) -> str:
        parts = tuple(p.lower() for p in ref.parts)
        if len(parts) >= 2 and ".".join(parts[-2:]) in self.full:
            return ".".join(parts[-2:])
        if len(parts) == 1:
            candidates = sorted(self.bare.get(parts[0], []))
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                raise ProjectError(f"'{ref.text}' is ambiguous: it could be {' or '.join(candidates)}",
                                   path=spec.path, line=ref.line, hint=f"write the schema-qualified name, "
                                   f"e.g. {candidates[0]}")
        what = f"parameter '{ref.param}'" if ref.param else "table"
        known = sorted(self.full) + sorted(self.bare)
        hint = suggest(parts[-1] if len(parts) == 1 else ".".join(parts[-2:]), known)
        raise ProjectError(f"unknown {what} '{ref.text}': it is not an asset or a declared source",
                           path=spec.path, line=ref.line,
                           hint=hint or "declare it under [sources] in assetflow.toml or add an asset for it")


def resolve_reference(graph: AssetGraph, ref: Reference, path: str) -> str:
    """Resolve a reference from outside the asset files (custom checks) against the graph."""
    from assetflow.assets import AssetKey
    holder = AssetSpec(key=AssetKey("main", "_"), settings=AssetSettings(), body=SqlBody(""), path=path, line=1,
                       code_version="")
    return _Resolver(graph.assets, graph.sources).resolve(ref, holder)


def _topological_order(assets: Mapping[str, AssetSpec], upstream: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    pending = {n: sum(1 for u in upstream[n] if u in assets) for n in assets}
    readers: dict[str, list[str]] = {n: [] for n in assets}
    for name in assets:
        for up in upstream[name]:
            if up in assets:
                readers[up].append(name)
    ready = [n for n, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for reader in readers[name]:
            pending[reader] -= 1
            if pending[reader] == 0:
                heapq.heappush(ready, reader)
    if len(order) < len(assets):
        cycle = _find_cycle({n for n in assets if pending[n] > 0}, upstream)
        first = assets[cycle[0]]
        raise ProjectError(f"the assets form a cycle: {' -> '.join(cycle)}", path=first.path,
                           hint="break the cycle: an asset cannot read, directly or not, its own output")
    return tuple(order)


def _find_cycle(stuck: set[str], upstream: Mapping[str, tuple[str, ...]]) -> list[str]:
    """A concrete cycle among `stuck` nodes: `a -> b` means a reads b, as the SQL says."""
    start = min(stuck)
    path, index, node = [], {}, start
    while node not in index:
        index[node] = len(path)
        path.append(node)
        node = min(u for u in upstream[node] if u in stuck)
    cycle = path[index[node]:]
    first = cycle.index(min(cycle))
    cycle = cycle[first:] + cycle[:first]
    return cycle + [cycle[0]]


def upstream_closure(graph: AssetGraph, names: Iterable[str]) -> set[str]:
    return _closure(names, lambda n: graph.upstream_assets(n) if n in graph.assets else ())


def downstream_closure(graph: AssetGraph, names: Iterable[str]) -> set[str]:
    return _closure(names, lambda n: graph.downstream.get(n, ()))


def _closure(names: Iterable[str], step) -> set[str]:
    seen: set[str] = set()
    stack = list(names)
    while stack:
        node = stack.pop()
        for nxt in step(node):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
