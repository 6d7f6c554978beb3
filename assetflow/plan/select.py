"""Selection: a dbt-style string -> a typed spec -> the set of assets it names.

Grammar: terms separated by spaces are unioned; `a,b` intersects; each term is
`[+]method:value[+]` with methods `name` (default; `schema.name`, bare name, or a `*` glob),
`tag` and `path`. A leading `+` adds upstream assets, a trailing `+` adds downstream assets.
`path:` values are relative to the project root here; `rebase_paths` turns what a user typed
relative to the current folder into that.
"""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Iterable

from assetflow.errors import SelectionError
from assetflow.plan.graph import AssetGraph, downstream_closure, upstream_closure
from assetflow.names import suggest

METHODS = ("name", "tag", "path")
_TERM = re.compile(r"^(?P<up>\+?)(?:(?P<method>[a-z_]+):)?(?P<value>[^+]+?)(?P<down>\+?)$")


@dataclass(frozen=True, slots=True)
class Term:
    method: str
    value: str
    with_upstream: bool
    with_downstream: bool
    text: str


@dataclass(frozen=True, slots=True)
class Selection:
    """A union of intersections of terms."""

    groups: tuple[tuple[Term, ...], ...]


def parse_selection(parts: Iterable[str]) -> Selection:
    groups = []
    for word in " ".join(parts).split():
        groups.append(tuple(_parse_term(t, word) for t in word.split(",")))
    return Selection(tuple(groups))


def _parse_term(text: str, word: str) -> Term:
    match = _TERM.match(text)
    if match is None or not match.group("value").strip():
        raise SelectionError(f"cannot parse selection term '{text}' in '{word}'",
                             hint="write name, schema.name, +name, name+, tag:x or path:assets/dir")
    method = match.group("method") or "name"
    if method not in METHODS:
        raise SelectionError(f"unknown selection method '{method}:' in '{text}'",
                             hint=f"methods: {', '.join(m + ':' for m in METHODS)}")
    return Term(method, match.group("value"), bool(match.group("up")), bool(match.group("down")), text)


def rebase_paths(parts: Iterable[str], cwd: str, root: str) -> tuple[str, ...]:
    """The selection with its `path:` terms made relative to the project root `root`.

    A relative path is read from the current folder `cwd` (as a shell completes it:
    `path:marts` inside `assets/`), or from the root when the command runs outside the project
    (`--project DIR`); an absolute path is taken as it is. Both folders are absolute."""
    inside = os.path.commonpath([cwd, root]) == root
    base = cwd if inside else root

    def rebase(text: str) -> str:
        match = _TERM.match(text)
        if match is None or match.group("method") != "path":
            return text
        full = os.path.normpath(os.path.join(base, match.group("value")))
        rel = os.path.relpath(full, root).replace(os.sep, "/")
        return f"{match.group('up')}path:{rel}{match.group('down')}"

    return tuple(",".join(rebase(t) for t in word.split(",")) for part in parts for word in part.split())


def resolve_selection(selection: Selection, graph: AssetGraph) -> frozenset[str]:
    """The assets a selection names; an empty selection names every asset."""
    if not selection.groups:
        return frozenset(graph.assets)
    chosen: set[str] = set()
    for group in selection.groups:
        sets = [_resolve_term(term, graph) for term in group]
        chosen |= set.intersection(*sets)
    return frozenset(chosen)


def _resolve_term(term: Term, graph: AssetGraph) -> set[str]:
    matched = _match(term, graph)
    if not matched:
        raise SelectionError(f"selection '{term.text}' matches no asset",
                             hint=_hint(term, graph) or "run `assetflow graph` to list the assets")
    result = set(matched)
    if term.with_upstream:
        result |= upstream_closure(graph, matched)
    if term.with_downstream:
        result |= downstream_closure(graph, matched)
    return result


def _match(term: Term, graph: AssetGraph) -> set[str]:
    value = term.value.lower()
    if term.method == "tag":
        return {n for n, a in graph.assets.items() if value in (t.lower() for t in a.settings.tags)}
    if term.method == "path":
        prefix = value.rstrip("/").removeprefix("./")
        if prefix in ("", "."):                       # the project root itself
            return set(graph.assets)
        return {n for n, a in graph.assets.items()
                if a.path.lower() == prefix or a.path.lower().startswith(prefix + "/")}
    if any(ch in value for ch in "*?["):
        return {n for n in graph.assets if fnmatch.fnmatchcase(n, value)
                or fnmatch.fnmatchcase(n.rpartition(".")[2], value)}
    if value in graph.assets:
        return {value}
    return {n for n in graph.assets if n.rpartition(".")[2] == value}


def _hint(term: Term, graph: AssetGraph) -> str | None:
    if term.method == "tag":
        tags = sorted({t for a in graph.assets.values() for t in a.settings.tags})
        return f"known tags: {', '.join(tags)}" if tags else "no asset has tags"
    if term.method == "path":
        return ("path: is relative to the current folder (the path above is what that gives from the "
                "project root); from the root, write e.g. path:assets/marts")
    names = sorted(graph.assets) + sorted({n.rpartition('.')[2] for n in graph.assets})
    return suggest(term.value, names)
