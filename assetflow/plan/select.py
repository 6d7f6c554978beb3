"""Selection: a dbt-style string -> a typed spec -> the set of assets it names.

Grammar: words separated by spaces are unioned; `a,b` intersects; each term is
`[@][N+]method:value[+N]` with methods `name` (default; `schema.name`, bare name, or a `*` glob),
`tag`, `path` and `state` (`state:modified`). A leading `+` adds upstream assets, a trailing `+`
adds downstream assets; a number beside the `+` limits the depth (`2+name`: two generations up,
`name+1`: the direct readers). `@name` is the asset, its descendants and every ancestor of its
descendants (what a rebuild of `name` needs, dbt's `@`). `--exclude` is a second selection whose
assets are removed.

`path:` values are relative to the project root here; `rebase_paths` turns what a user typed
relative to the current folder into that.

Pure: `state:modified` needs the assets whose code version differs from the one last built; the
caller reads them from the state store and passes them in (`modified`).
"""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from assetflow.errors import SelectionError
from assetflow.names import suggest
from assetflow.plan.graph import AssetGraph

METHODS = ("name", "tag", "path", "state")
STATES = ("modified",)
_TERM = re.compile(r"^(?P<at>@?)(?P<up>(?P<up_depth>\d*)\+)?(?:(?P<method>[a-z_]+):)?(?P<value>[^+@]+?)"
                   r"(?P<down>\+(?P<down_depth>\d*))?$")
_GRAMMAR = "write name, schema.name, +name, name+, 2+name, name+1, @name, tag:x, path:assets/dir or state:modified"


@dataclass(frozen=True, slots=True)
class Term:
    method: str
    value: str
    with_upstream: bool
    with_downstream: bool
    text: str
    up_depth: int | None = None          # generations of upstream to add; None: all
    down_depth: int | None = None
    at: bool = False                     # `@name`: descendants and their ancestors
    position: int = field(default=0, compare=False)   # column of the term in the selection text
    source: str = field(default="", compare=False)    # the whole selection text (for the caret)


@dataclass(frozen=True, slots=True)
class Selection:
    """A union of intersections of terms."""

    groups: tuple[tuple[Term, ...], ...]

    @property
    def needs_state(self) -> bool:
        return any(t.method == "state" for group in self.groups for t in group)


def parse_selection(parts: Iterable[str]) -> Selection:
    text = " ".join(parts)
    groups = []
    for word in re.finditer(r"\S+", text):
        terms, offset = [], word.start()
        for piece in word.group().split(","):
            terms.append(_parse_term(piece, offset, text))
            offset += len(piece) + 1
        groups.append(tuple(terms))
    return Selection(tuple(groups))


def _error(message: str, position: int, source: str, hint: str | None) -> SelectionError:
    """An error that points at the bad term: its column, and a caret under it."""
    return SelectionError(f"{message} (column {position + 1})\n    {source}\n    {' ' * position}^", hint=hint)


def _parse_term(text: str, position: int, source: str) -> Term:
    match = _TERM.match(text)
    if match is None or not match.group("value").strip():
        raise _error(f"cannot parse selection term '{text}'", position, source, _GRAMMAR)
    method = match.group("method") or "name"
    if method not in METHODS:
        raise _error(f"unknown selection method '{method}:' in '{text}'", position, source,
                     suggest(method, list(METHODS)) or f"methods: {', '.join(m + ':' for m in METHODS)}")
    value = match.group("value")
    if method == "state" and value not in STATES:
        raise _error(f"unknown state '{value}' in '{text}'", position, source, "write state:modified")
    at, up, down = bool(match.group("at")), match.group("up"), match.group("down")
    if at and up:
        raise _error(f"'@' and a leading '+' cannot be combined in '{text}'", position, source,
                     f"@ already includes the ancestors: write @{value}")
    return Term(method, value, bool(up), bool(down), text,
                up_depth=int(match.group("up_depth")) if up and match.group("up_depth") else None,
                down_depth=int(match.group("down_depth")) if down and match.group("down_depth") else None,
                at=at, position=position, source=source)


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
        return f"{match.group('at')}{match.group('up') or ''}path:{rel}{match.group('down') or ''}"

    return tuple(",".join(rebase(t) for t in word.split(",")) for part in parts for word in part.split())


def resolve_selection(selection: Selection, graph: AssetGraph, modified: frozenset[str] | None = None,
                      exclude: Selection | None = None) -> frozenset[str]:
    """The assets a selection names, minus those `exclude` names; an empty selection names every
    asset. `modified` (assets whose code changed since their last build) is needed only when a
    term uses `state:`."""
    if not selection.groups:
        chosen = set(graph.assets)
    else:
        chosen = set()
        for group in selection.groups:
            chosen |= set.intersection(*[_resolve_term(term, graph, modified) for term in group])
    if exclude is not None and exclude.groups:
        chosen -= resolve_selection(exclude, graph, modified)
    return frozenset(chosen)


def _resolve_term(term: Term, graph: AssetGraph, modified: frozenset[str] | None) -> set[str]:
    if term.method == "state":
        if modified is None:
            raise _error("state:modified needs the target's state, which was not read", term.position,
                         term.source, None)
        matched = set(modified) & set(graph.assets)   # nothing modified is an answer, not an error
    else:
        matched = _match(term, graph)
        if not matched:
            raise _error(f"selection '{term.text}' matches no asset", term.position, term.source,
                         _hint(term, graph) or "run `assetflow graph` to list the assets")
    result = set(matched)
    if term.with_downstream or term.at:
        result |= _walk(matched, lambda n: graph.downstream.get(n, ()), None if term.at else term.down_depth)
    if term.at:
        return result | _walk(result, graph.upstream_assets, None)
    if term.with_upstream:
        result |= _walk(matched, graph.upstream_assets, term.up_depth)
    return result


def _walk(start: Iterable[str], step: Callable[[str], Iterable[str]], depth: int | None) -> set[str]:
    """Everything reachable from `start` in at most `depth` steps (None: any number), start excluded
    unless reached again."""
    seen: set[str] = set()
    frontier = set(start)
    level = 0
    while frontier and (depth is None or level < depth):
        frontier = {nxt for node in frontier for nxt in step(node)} - seen
        seen |= frontier
        level += 1
    return seen


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
