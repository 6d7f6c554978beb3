"""The asset graph (resolution, order, cycles, closures) and the selection grammar."""
from __future__ import annotations

import re

import pytest
from graph_builders import make_graph, make_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.errors import ProjectError, SelectionError
from assetflow.plan.graph import AssetGraph, downstream_closure, upstream_closure
from assetflow.plan.select import Selection, Term, parse_selection, resolve_selection

# ---------------------------------------------------------------------------- build_graph


def test_references_resolve_by_full_or_unambiguous_bare_name_case_insensitively():
    graph = make_graph(make_spec("staging.stg_orders", ("raw.orders",)),
                       make_spec("marts.revenue", ("STG_ORDERS", "Raw.Orders", "warehouse.staging.stg_orders")),
                       sources=("raw.orders",))
    assert graph.upstream["marts.revenue"] == ("raw.orders", "staging.stg_orders")
    assert graph.upstream_assets("marts.revenue") == ("staging.stg_orders",)
    assert graph.upstream_sources("marts.revenue") == ("raw.orders",)
    assert graph.downstream["raw.orders"] == ("marts.revenue", "staging.stg_orders")
    assert graph.relations["marts.revenue"][("stg_orders",)] == "staging.stg_orders"
    assert graph.relations["marts.revenue"][("warehouse", "staging", "stg_orders")] == "staging.stg_orders"


def test_file_reads_become_sources():
    graph = make_graph(make_spec("a", file_reads=("data/x.csv",)))
    assert graph.upstream["main.a"] == ("data/x.csv",)
    assert graph.sources["data/x.csv"].glob == "data/x.csv"
    assert graph.downstream["data/x.csv"] == ("main.a",)


def test_cycle_error_names_the_exact_cycle():
    specs = [make_spec("a", ("c",)), make_spec("b", ("a",)), make_spec("c", ("b",)), make_spec("d", ("a",))]
    with pytest.raises(ProjectError) as info:
        make_graph(*specs)
    assert "main.a -> main.c -> main.b -> main.a" in info.value.message
    assert "main.d" not in info.value.message          # a reader of the cycle is not part of it
    assert info.value.path == "assets/main/a.sql"


def test_cycle_reached_through_a_tail_names_only_the_cycle():
    specs = [make_spec("aa", ("b",)), make_spec("b", ("c",)), make_spec("c", ("b",))]
    with pytest.raises(ProjectError, match=r"cycle: main\.b -> main\.c -> main\.b$"):
        make_graph(*specs)


def test_self_reference_is_a_cycle():
    with pytest.raises(ProjectError, match=r"cycle: main\.a -> main\.a"):
        make_graph(make_spec("a", ("main.a",)))


@settings(max_examples=100)
@given(data=st.data())
def test_reported_cycle_is_a_real_cycle(data):
    size = data.draw(st.integers(2, 9))
    names = [f"n{i}" for i in range(size)]
    reads = {n: set(data.draw(st.sets(st.sampled_from(names), max_size=3))) for n in names}
    ring = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=size, unique=True))
    for here, there in zip(ring, ring[1:] + ring[:1]):
        reads[here].add(there)                       # plant at least one cycle
    with pytest.raises(ProjectError) as info:
        make_graph(*[make_spec(n, tuple(sorted(reads[n]))) for n in names])
    path = re.search(r"cycle: (.*)$", info.value.message).group(1).split(" -> ")
    assert path[0] == path[-1] and len(set(path[:-1])) == len(path) - 1
    for reader, read in zip(path, path[1:]):
        assert read.removeprefix("main.") in reads[reader.removeprefix("main.")]


def test_ambiguous_bare_name_names_both():
    specs = [make_spec("staging.orders"), make_spec("marts.orders"), make_spec("main.report", ("orders",))]
    with pytest.raises(ProjectError) as info:
        make_graph(*specs)
    assert "marts.orders" in info.value.message and "staging.orders" in info.value.message
    assert info.value.path == "assets/main/report.sql" and info.value.line == 1
    assert "schema-qualified" in info.value.hint


def test_bare_name_shared_by_an_asset_and_a_source_is_ambiguous():
    with pytest.raises(ProjectError, match="raw.orders or staging.orders"):
        make_graph(make_spec("staging.orders"), make_spec("report", ("orders",)), sources=("raw.orders",))


def test_an_upper_case_method_is_not_silently_a_name():
    # `TAG:finance` is not the tag method (methods are lower case); it must not select anything
    with pytest.raises(SelectionError):
        select("TAG:finance")


def test_unknown_name_suggests_the_closest():
    specs = [make_spec("staging.orders"), make_spec("report", ("x", "ordrs"))]
    with pytest.raises(ProjectError) as info:
        make_graph(make_spec("x"), *specs)
    assert "unknown table 'ordrs'" in info.value.message
    assert info.value.line == 2
    assert "did you mean" in info.value.hint and "orders" in info.value.hint


def test_unknown_qualified_name_suggests_the_closest():
    with pytest.raises(ProjectError) as info:
        make_graph(make_spec("staging.orders"), make_spec("report", ("stagign.orders",)))
    assert "staging.orders" in info.value.hint


def test_topological_order_puts_deps_first_and_ties_by_name():
    graph = make_graph(make_spec("z"), make_spec("y", ("z",)), make_spec("b", ("y",)), make_spec("a"),
                       make_spec("c"))
    assert graph.order == ("main.a", "main.c", "main.z", "main.y", "main.b")


@st.composite
def dags(draw, max_size=10):
    """Random acyclic graphs over names whose sort order is unrelated to the dependency order."""
    size = draw(st.integers(1, max_size))
    names = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=size, max_size=size,
                          unique=True))
    schemas = draw(st.lists(st.sampled_from(["main", "staging", "marts"]), min_size=size, max_size=size))
    full = [f"{s}.{n}" for s, n in zip(schemas, names)]
    specs = []
    for i, name in enumerate(full):
        reads = draw(st.sets(st.sampled_from(full[:i]), max_size=3)) if i else set()
        specs.append(make_spec(name, tuple(sorted(reads)), tags=tuple(draw(st.sets(st.sampled_from("xyz"))))))
    return make_graph(*specs)


def reachable(graph: AssetGraph, start: str, step) -> set[str]:
    """Plain recursive reachability, independent of graph._closure."""
    out: set[str] = set()

    def visit(node: str) -> None:
        for nxt in step(node):
            if nxt not in out:
                out.add(nxt)
                visit(nxt)

    visit(start)
    return out


@settings(max_examples=100)
@given(graph=dags())
def test_topological_order_is_the_smallest_valid_order(graph):
    order = graph.order
    assert sorted(order) == sorted(graph.assets)
    done: set[str] = set()
    for name in order:
        ready = {n for n in graph.assets if n not in done and set(graph.upstream_assets(n)) <= done}
        assert name == min(ready)                      # deps first; among the ready ones, by name
        done.add(name)


@settings(max_examples=100)
@given(graph=dags(), data=st.data())
def test_closures_match_reachability(graph, data):
    name = data.draw(st.sampled_from(sorted(graph.assets)))
    ups = reachable(graph, name, graph.upstream_assets)
    downs = reachable(graph, name, lambda n: graph.downstream.get(n, ()))
    assert upstream_closure(graph, [name]) == ups
    assert downstream_closure(graph, [name]) == downs
    assert name not in ups and name not in downs
    assert all(graph.order.index(u) < graph.order.index(name) for u in ups)
    assert all(graph.order.index(d) > graph.order.index(name) for d in downs)


# ---------------------------------------------------------------------------- selection


def shop() -> AssetGraph:
    return make_graph(
        make_spec("raw_orders"),
        make_spec("staging.stg_orders", ("raw_orders",), tags=("core",)),
        make_spec("staging.stg_customers", tags=("core", "pii")),
        make_spec("marts.daily_revenue", ("stg_orders",), tags=("Finance",)),
        make_spec("marts.customer_scores", ("stg_orders", "stg_customers"), tags=("finance", "ml")),
        make_spec("reports.report", ("daily_revenue",), path="assets/reports/deep/report.sql"),
    )


def select(*words: str) -> set[str]:
    return set(resolve_selection(parse_selection(words), shop()))


def test_parse_selection_into_typed_terms():
    parsed = parse_selection(["+tag:finance+,marts.x", "path:assets/m  y+"])
    assert parsed == Selection((
        (Term("tag", "finance", True, True, "+tag:finance+"), Term("name", "marts.x", False, False, "marts.x")),
        (Term("path", "assets/m", False, False, "path:assets/m"),),
        (Term("name", "y", False, True, "y+"),),
    ))


@pytest.mark.parametrize("words,expected", [
    (["stg_orders"], {"staging.stg_orders"}),
    (["staging.stg_orders"], {"staging.stg_orders"}),
    (["STAGING.Stg_Orders"], {"staging.stg_orders"}),
    (["name:daily_revenue"], {"marts.daily_revenue"}),
    (["+daily_revenue"], {"marts.daily_revenue", "staging.stg_orders", "main.raw_orders"}),
    (["stg_orders+"], {"staging.stg_orders", "marts.daily_revenue", "marts.customer_scores", "reports.report"}),
    (["+daily_revenue+"], {"marts.daily_revenue", "staging.stg_orders", "main.raw_orders", "reports.report"}),
    (["tag:finance"], {"marts.daily_revenue", "marts.customer_scores"}),
    (["tag:PII"], {"staging.stg_customers"}),
    (["path:assets/marts"], {"marts.daily_revenue", "marts.customer_scores"}),
    (["path:./assets/reports/"], {"reports.report"}),
    (["path:assets/reports/deep/report.sql"], {"reports.report"}),
    (["stg_*"], {"staging.stg_orders", "staging.stg_customers"}),
    (["marts.*"], {"marts.daily_revenue", "marts.customer_scores"}),
    (["*.*_orders"], {"staging.stg_orders", "main.raw_orders"}),
    (["tag:core,tag:pii"], {"staging.stg_customers"}),
    (["tag:finance,+daily_revenue"], {"marts.daily_revenue"}),
    (["tag:finance", "raw_orders"], {"marts.daily_revenue", "marts.customer_scores", "main.raw_orders"}),
    (["tag:finance raw_orders"], {"marts.daily_revenue", "marts.customer_scores", "main.raw_orders"}),
    ([], {"main.raw_orders", "staging.stg_orders", "staging.stg_customers", "marts.daily_revenue",
          "marts.customer_scores", "reports.report"}),
])
def test_resolve_selection(words, expected):
    assert select(*words) == expected


def test_path_does_not_match_a_sibling_prefix():
    with pytest.raises(SelectionError):
        select("path:assets/mart")


@pytest.mark.parametrize("text,message,hint", [
    ("colour:red", "unknown selection method 'colour:'", "name:, tag:, path:"),
    ("stg_ordrs", "matches no asset", "did you mean"),
    ("tag:nope", "matches no asset", "known tags: Finance, core, finance, ml, pii"),
    ("path:models/x", "matches no asset", "path: is relative to the current folder"),
    ("+", "cannot parse selection term", "tag:x"),
    ("a,,b", "cannot parse selection term", "name+"),
])
def test_selection_errors_have_hints(text, message, hint):
    with pytest.raises(SelectionError) as info:
        select(text)
    assert message in info.value.message
    assert hint in (info.value.hint or "")


def test_unknown_name_suggests_the_closest_asset():
    with pytest.raises(SelectionError) as info:
        select("stg_ordrs")
    assert "stg_orders" in info.value.hint


@settings(max_examples=100)
@given(graph=dags(), data=st.data())
def test_plus_operators_add_closures(graph, data):
    name = data.draw(st.sampled_from(sorted(graph.assets)))
    other = data.draw(st.sampled_from(sorted(graph.assets)))
    ups = {name} | upstream_closure(graph, [name])
    downs = {name} | downstream_closure(graph, [name])

    def resolve(text: str) -> frozenset[str]:
        return resolve_selection(parse_selection([text]), graph)

    assert resolve(f"+{name}") == ups
    assert resolve(f"{name}+") == downs
    assert resolve(f"+{name}+") == ups | downs
    assert resolve(f"+{name},{other}+") == ups & ({other} | downstream_closure(graph, [other]))
    assert resolve_selection(parse_selection([f"+{name}", f"{other}"]), graph) == ups | {other}
    tags = {t for a in graph.assets.values() for t in a.settings.tags}
    for tag in tags:
        assert resolve(f"tag:{tag}") == {n for n, a in graph.assets.items() if tag in a.settings.tags}


@pytest.mark.parametrize("typed, cwd, expected", [
    ("path:.", "/p/assets/marts", "path:assets/marts"),
    ("+path:x.sql+", "/p/assets/marts", "+path:assets/marts/x.sql+"),
    ("path:../staging,tag:a", "/p/assets/marts", "path:assets/staging,tag:a"),
    ("path:assets/marts", "/p", "path:assets/marts"),
    ("path:assets/marts", "/elsewhere", "path:assets/marts"),       # outside the project: from its root
    ("path:/p/assets/x", "/p/assets/marts", "path:assets/x"),
    ("path:..", "/p/assets", "path:."),
    ("marts.x tag:path", "/p/assets", "marts.x tag:path"),             # other methods are left alone
])
def test_rebase_paths_reads_path_terms_from_the_current_folder(typed, cwd, expected):
    from assetflow.plan.select import rebase_paths
    assert " ".join(rebase_paths([typed], cwd, "/p")) == expected


def test_path_dot_at_the_root_selects_every_asset():
    graph = make_graph(make_spec("main.a", path="assets/a.sql"), make_spec("x.b", path="assets/x/b.sql"))
    assert resolve_selection(parse_selection(["path:."]), graph) == {"main.a", "x.b"}


# ---------------------------------------------------------------------------- depth, @, exclude, state


def generations(graph: AssetGraph, start: str, step, depth: int) -> set[str]:
    """Nodes at most `depth` steps from start, by plain recursion (independent of select._walk)."""
    out: set[str] = set()

    def visit(node: str, left: int) -> None:
        if left == 0:
            return
        for nxt in step(node):
            out.add(nxt)
            visit(nxt, left - 1)

    visit(start, depth)
    return out


@pytest.mark.parametrize("words,expected", [
    (["1+daily_revenue"], {"marts.daily_revenue", "staging.stg_orders"}),
    (["2+report"], {"reports.report", "marts.daily_revenue", "staging.stg_orders"}),
    (["0+report"], {"reports.report"}),
    (["stg_orders+1"], {"staging.stg_orders", "marts.daily_revenue", "marts.customer_scores"}),
    (["1+stg_orders+1"], {"main.raw_orders", "staging.stg_orders", "marts.daily_revenue",
                          "marts.customer_scores"}),
    # @: stg_orders, its descendants, and every ancestor of those (stg_customers feeds customer_scores)
    (["@stg_orders"], {"main.raw_orders", "staging.stg_orders", "marts.daily_revenue", "marts.customer_scores",
                       "reports.report", "staging.stg_customers"}),
    (["@stg_customers"], {"staging.stg_customers", "marts.customer_scores", "staging.stg_orders",
                          "main.raw_orders"}),
    (["2024_orders_like_names_are_names"], None),
])
def test_depth_limits_and_at(words, expected):
    if expected is None:
        with pytest.raises(SelectionError, match="matches no asset"):
            select(*words)
        return
    assert select(*words) == expected


def test_parse_depths_and_at():
    (term,), (at,) = parse_selection(["2+tag:x+3 @y"]).groups
    assert (term.up_depth, term.down_depth, term.with_upstream, term.with_downstream) == (2, 3, True, True)
    assert at.at and at.value == "y" and not at.with_upstream
    assert parse_selection(["+x+"]).groups[0][0].up_depth is None


def test_exclude_removes_assets():
    graph = shop()
    resolve = lambda s, e: set(resolve_selection(parse_selection([s]), graph, exclude=parse_selection([e])))
    assert resolve("stg_orders+", "reports.report") == {"staging.stg_orders", "marts.daily_revenue",
                                                        "marts.customer_scores"}
    assert resolve("", "tag:finance") == set(graph.assets) - {"marts.daily_revenue", "marts.customer_scores"}
    assert resolve("raw_orders", "raw_orders") == set()


def test_state_modified_uses_the_modified_set_passed_in():
    graph = shop()
    modified = frozenset({"staging.stg_orders"})
    resolve = lambda s: set(resolve_selection(parse_selection([s]), graph, modified=modified))
    assert resolve("state:modified") == {"staging.stg_orders"}
    assert resolve("state:modified+") == {"staging.stg_orders", "marts.daily_revenue", "marts.customer_scores",
                                          "reports.report"}
    assert resolve("state:modified,tag:core") == {"staging.stg_orders"}
    # nothing modified is an empty answer, not an error (CI: `materialize state:modified+`)
    assert resolve_selection(parse_selection(["state:modified+"]), graph, modified=frozenset()) == frozenset()
    assert parse_selection(["state:modified"]).needs_state and not parse_selection(["x"]).needs_state
    with pytest.raises(SelectionError, match="needs the target's state"):
        resolve_selection(parse_selection(["state:modified"]), graph)


@pytest.mark.parametrize("text,column,message,hint", [
    ("tag:finance colour:red", 13, "unknown selection method 'colour:'", "name:, tag:, path:, state:"),
    ("raw_orders stg_ordrs", 12, "matches no asset", "did you mean"),
    ("x,y,+", 5, "cannot parse selection term '+'", "@name"),
    ("state:modifed", 1, "unknown state 'modifed'", "state:modified"),
    ("@+raw_orders", 1, "'@' and a leading '+'", "@raw_orders"),
    ("stat:modified", 1, "unknown selection method 'stat:'", "did you mean state"),
])
def test_errors_point_at_the_bad_term(text, column, message, hint):
    with pytest.raises(SelectionError) as info:
        select(text)
    assert message in info.value.message
    assert f"(column {column})" in info.value.message
    caret_line = info.value.message.splitlines()[-1]
    assert caret_line.index("^") - 4 == column - 1        # the caret sits under the term
    assert hint in (info.value.hint or "")


@settings(max_examples=100)
@given(graph=dags(), data=st.data())
def test_depth_limits_match_generations(graph, data):
    name = data.draw(st.sampled_from(sorted(graph.assets)))
    depth = data.draw(st.integers(0, 4))
    ups = generations(graph, name, graph.upstream_assets, depth)
    downs = generations(graph, name, lambda n: graph.downstream.get(n, ()), depth)

    def resolve(text: str) -> frozenset[str]:
        return resolve_selection(parse_selection([text]), graph)

    assert resolve(f"{depth}+{name}") == {name} | ups
    assert resolve(f"{name}+{depth}") == {name} | downs
    assert resolve(f"{depth}+{name}") <= resolve(f"+{name}")
    assert resolve(f"{depth + 1}+{name}") >= resolve(f"{depth}+{name}")   # deeper never selects less


@settings(max_examples=100)
@given(graph=dags(), data=st.data())
def test_at_is_descendants_and_their_ancestors(graph, data):
    name = data.draw(st.sampled_from(sorted(graph.assets)))
    descendants = {name} | reachable(graph, name, lambda n: graph.downstream.get(n, ()))
    expected = set(descendants)
    for d in descendants:
        expected |= reachable(graph, d, graph.upstream_assets)
    got = resolve_selection(parse_selection([f"@{name}"]), graph)
    assert got == expected
    # closed under ancestors: building @name never reads an unselected asset
    assert all(set(graph.upstream_assets(n)) <= got for n in got)


@settings(max_examples=100)
@given(graph=dags(), data=st.data())
def test_exclude_is_set_difference_and_state_is_the_given_set(graph, data):
    names = sorted(graph.assets)
    a = data.draw(st.sampled_from(names))
    b = data.draw(st.sampled_from(names))
    modified = frozenset(data.draw(st.sets(st.sampled_from(names))))

    def resolve(text: str, exclude: str = "") -> frozenset[str]:
        return resolve_selection(parse_selection([text]), graph, modified, parse_selection([exclude]))

    assert resolve(f"{a}+", f"+{b}") == resolve(f"{a}+") - resolve(f"+{b}")
    assert resolve(a, a) == frozenset()
    assert resolve("state:modified") == modified
    assert resolve("state:modified+") == modified | downstream_closure(graph, modified)
    assert resolve("", "state:modified") == frozenset(names) - modified
