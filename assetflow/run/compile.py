"""Turn an asset into what an engine runs: qualified SQL, partition windows, bound parameters."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from assetflow.assets import AssetKey, AssetSpec, Kind, SqlBody
from assetflow.project.cache import JsonCache
from assetflow.project.variables import Variables
from assetflow.engines.base import PartitionWindow
from assetflow.plan.graph import AssetGraph
from assetflow.partitions import StaticPartitions, TimePartitions

PARAMETERS = ("start", "end", "lookback_start", "partition")
COMPILE_CACHE_FORMAT = 2        # part of each key: 2 = the user's text, not sqlglot's print of it


@dataclass(frozen=True, slots=True)
class CompiledSql:
    sql: str                          # engine dialect; `$start`, `$end`... left as parameters
    parameters: frozenset[str]        # which of them the query uses


def relation_of(node: str, graph: AssetGraph) -> str:
    """The SQL name an engine reads for a graph node (asset, declared source)."""
    if node in graph.assets:
        return graph.assets[node].key.quoted()
    source = graph.sources[node]
    if source.table is not None:
        return source.table
    return AssetKey.parse(source.name).quoted()


def compile_sql(spec: AssetSpec, graph: AssetGraph, root: Path, dialect: str,
                target_dialect: str = "duckdb", cache: JsonCache | None = None) -> CompiledSql:
    """The query with every reference resolved; cached by its code and what its names resolve to."""
    assert isinstance(spec.body, SqlBody)
    name = str(spec.key)
    relations = {ref: relation_of(node, graph) for ref, node in graph.relations[name].items()}
    files = {f: absolute_path(f, root) for f in spec.body.file_reads}
    key = hashlib.sha256(repr((COMPILE_CACHE_FORMAT, spec.body.sql, dialect, target_dialect, sorted(relations.items()),
                               sorted(files.items()))).encode()).hexdigest()
    hit = cache.entries.get(key) if cache is not None else None
    if hit is not None:
        return CompiledSql(hit[0], frozenset(hit[1]))
    if spec.body.template and target_dialect == dialect:
        # The loader's template is the user's text with sentinels for the names: fill them in.
        from assetflow.project.header import fill_template
        refs = [relations[tuple(p.lower() for p in r.parts)] for r in spec.references[:_template_refs(spec)]]
        text = fill_template(spec.body.template, refs, [files[f] for f in spec.body.file_reads])
        return CompiledSql(text, frozenset(spec.body.placeholders) & frozenset(PARAMETERS))
    # Another dialect than the engine's: sqlglot transpiles the query (what `dialect` asks for).
    from assetflow.project import sql_rewrite   # sqlglot loads only when something new is compiled
    text, used = sql_rewrite.qualify_with_placeholders(spec.body.sql, dialect, relations, files, target_dialect,
                                                       path=spec.path)
    compiled = CompiledSql(text, used & frozenset(PARAMETERS))
    if cache is not None:
        cache.set(key, [compiled.sql, sorted(compiled.parameters)])
    return compiled


def _template_refs(spec: AssetSpec) -> int:
    """How many leading references come from the query (header `deps` and the tables of the table
    macros it uses follow them)."""
    macro_refs = spec.body.macro_refs if isinstance(spec.body, SqlBody) else 0
    return len(spec.references) - len(spec.settings.deps) - macro_refs


def absolute_path(path: str, root: Path) -> str:
    """A file path as the engine reads it: relative paths are the project root's, not the cwd's."""
    if "://" in path or Path(path).is_absolute():
        return path
    return str((root / path).resolve())


def partition_window(spec: AssetSpec, index: int, count: int = 1) -> PartitionWindow | None:
    """The rows partitions `index .. index + count - 1` replace."""
    part = spec.partitioning
    if isinstance(part, TimePartitions):
        start, _ = part.bound_values(part.window(index))
        _, end = part.bound_values(part.window(index + count - 1))
        return PartitionWindow(part.column, start, end)
    if isinstance(part, StaticPartitions):
        return PartitionWindow(part.column, key=part.keys[index])
    return None


def lookback_start(spec: AssetSpec, index: int) -> Any:
    """The start of the earliest partition partition `index` reads with its `lookback`: the window
    the upstream mapping widens to, typed like `$start`. It is not clipped at the asset's own first
    partition, as the mapping is not: upstream data from before it is read when it exists."""
    part = spec.partitioning
    assert isinstance(part, TimePartitions)
    return part.bound_values(part.window(index - spec.settings.lookback))[0]


def bound_parameters(spec: AssetSpec, index: int, used: frozenset[str], count: int = 1) -> Mapping[str, Any]:
    """Typed values for the placeholders the query uses: DATE/TIMESTAMP windows, text keys.

    A batch of `count` partitions binds the joint window (`$lookback_start` widens its start).
    """
    part = spec.partitioning
    values: dict[str, Any] = {}
    if isinstance(part, TimePartitions):
        values["start"], _ = part.bound_values(part.window(index))
        _, values["end"] = part.bound_values(part.window(index + count - 1))
        values["lookback_start"] = lookback_start(spec, index)
        values["partition"] = part.key(index)
    elif isinstance(part, StaticPartitions):
        values["partition"] = part.keys[index]
    return {k: v for k, v in values.items() if k in used}


def compile_for_display(spec: AssetSpec, graph: AssetGraph, root: Path, dialect: str, index: int | None,
                        target_dialect: str = "duckdb", variables: Variables = Variables(),
                        macros: tuple[str, ...] = ()) -> str:
    """The statement exactly as it runs, with partition parameters shown as typed literals, after
    the `SET VARIABLE` statements its connection runs first (a view has the values written in)."""
    compiled = compile_sql(spec, graph, root, dialect, target_dialect)
    text = compiled.sql
    if index is not None and compiled.parameters:
        from assetflow.project import sql_rewrite
        text = sql_rewrite.inline_parameters(text, bound_parameters(spec, index, compiled.parameters), target_dialect)
    text = re.sub(r"\A(?:[ \t]*\n)+", "", text)    # the blank lines a header leaves (they keep file lines)
    if spec.kind is Kind.VIEW:
        text = view_sql(spec, text, variables.literals())
        return session_preamble(spec, Variables(), macros) + text
    return session_preamble(spec, variables, macros) + text



def session_preamble(spec: AssetSpec, variables: Variables, macros: tuple[str, ...] = ()) -> str:
    """The statements assetflow runs on a connection before this asset (`SET VARIABLE` for each
    variable it reads, `macros`: what creates the macros it uses), as `compile` shows them."""
    assert isinstance(spec.body, SqlBody)
    statements = dict(zip((name for name, _ in variables.values), variables.statements()))
    names = sorted(statements) if "*" in spec.body.variables else spec.body.variables
    lines = [statements[name] + ";" for name in names if name in statements]
    lines += [statement + ";" for statement in macros]
    return "\n".join(lines) + "\n" if lines else ""


def view_sql(spec: AssetSpec, sql: str, literals: Mapping[str, str]) -> str:
    """A view's query with the values of the variables it reads written in (`literals`: name ->
    SQL literal); any other asset's query as it is (its connection has them set)."""
    if spec.kind is not Kind.VIEW or not isinstance(spec.body, SqlBody) or not spec.body.variables:
        return sql
    from assetflow.project import sql_rewrite
    return sql_rewrite.inline_variables(sql, literals)
