"""Import layers: which modules may load which third-party libraries, and no import cycles.

Each import check runs in a fresh interpreter, so nothing imported by the test session leaks in.
"""
from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "assetflow"
ROOT = PACKAGE.parent


def modules_after_import(module: str) -> set[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def loaded(modules: set[str], library: str) -> bool:
    return any(m == library or m.startswith(library + ".") for m in modules)


PURE = ["assetflow.plan.planner", "assetflow.plan.graph", "assetflow.partitions", "assetflow.plan.select", "assetflow.plan.freshness",
        "assetflow.schedule.decide", "assetflow.schedule.coverage"]


@pytest.mark.parametrize("module", PURE + ["assetflow.run.executor", "assetflow.project.loader", "assetflow.project.fingerprint"])
def test_pure_layers_import_no_engine_or_cli(module):
    modules = modules_after_import(module)
    assert module in modules
    # sqlglot too: it loads lazily, only when a SQL file must be parsed
    for library in ("duckdb", "click", "watchfiles", "sqlglot"):
        assert not loaded(modules, library), f"importing {module} loads {library}"


def test_the_facade_is_light():
    modules = modules_after_import("assetflow")
    for library in ("duckdb", "sqlglot", "click", "watchfiles", "pyarrow"):
        assert not loaded(modules, library), f"`import assetflow` loads {library}"


# ---------------------------------------------------------------------------- static ownership


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "template" not in p.relative_to(PACKAGE).parts)


def _runtime_imports(tree: ast.AST) -> list[ast.stmt]:
    """Every import statement that runs (module level or inside functions), except the ones under
    `if TYPE_CHECKING:`, which exist for annotations only."""
    found: list[ast.stmt] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@functools.cache
def imported_names(path: Path) -> frozenset[str]:
    """Dotted names a module imports at run time; `from pkg import mod` counts as `pkg.mod`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif node.level == 0 and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def imported_top_levels(path: Path) -> frozenset[str]:
    return frozenset(name.split(".")[0] for name in imported_names(path))


def importers(library: str) -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in source_files() if library in imported_top_levels(p)}


def test_the_scanner_sees_imports():
    assert importers("assetflow")        # sanity: the package imports itself somewhere
    assert "assetflow/project/sql.py" in importers("sqlglot")
    assert "assetflow/cli/app.py" in importers("click")


def test_only_engines_import_duckdb():
    offenders = {p for p in importers("duckdb") | importers("_duckdb") if not p.startswith("assetflow/engines/")}
    assert not offenders, f"duckdb imported outside assetflow/engines/: {sorted(offenders)}"


def test_sql_runs_need_only_duckdbs_extension(tmp_path):
    """`import duckdb` (its Python relation API) costs more than the rest of a no-op run: building,
    planning and recording SQL assets use only the C extension `_duckdb` (engines/duckdb_module)."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "assetflow.toml").write_text('[project]\nname = "t"\n')
    (tmp_path / "assets" / "a.sql").write_text("select 1 as x\n")
    (tmp_path / "assets" / "b.sql").write_text("select x + 1 as y from main.a\n")
    code = ("import json, sys\nfrom assetflow.cli.app import main\n"
            "for command in sys.argv[2:]:\n"
            "    try:\n        main([\"--project\", sys.argv[1], command])\n"
            "    except SystemExit as exc:\n        assert not exc.code, (command, exc.code)\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path), "materialize", "materialize", "status"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert (tmp_path / "warehouse.duckdb").exists() and "_duckdb" in modules
    assert not loaded(modules, "duckdb"), "a SQL-only run imported the duckdb package"


# Each third-party library has one home in the package.
OWNERS = {
    "sqlglot": ("assetflow/project/sql.py", "assetflow/project/sql_rewrite.py",   # the SQL wall
                "assetflow/project/sql_macros.py"),
    "click": ("assetflow/cli/",),
    "watchfiles": ("assetflow/cli/dev.py",),
    "jinja2": ("assetflow/dbt/render.py",),
    "yaml": ("assetflow/dbt/yamlfiles.py",),
    "croniter": ("assetflow/project/cron.py",),     # cron is project syntax, as SQL is
    "pyspark": ("assetflow/engines/spark",),
}


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_each_library_has_one_owner(library):
    offenders = {p for p in importers(library) if not p.startswith(OWNERS[library])}
    assert not offenders, f"{library} imported outside {OWNERS[library]}: {sorted(offenders)}"


# ---------------------------------------------------------------------------- no cycles


def all_modules() -> list[str]:
    names = []
    for path in source_files():
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] == "__main__":
            continue                 # running the CLI is what importing __main__ does
        names.append(".".join(parts))
    return names


def test_every_module_imports_alone():
    """A module that only imports as part of a cycle fails when it is imported first."""
    modules = all_modules()
    assert "assetflow.plan.planner" in modules and "assetflow.engines.duckdb" in modules

    def try_import(module: str) -> tuple[str, int, str]:
        proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        return module, proc.returncode, proc.stderr.strip()

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [(m, err) for m, code, err in pool.map(try_import, modules) if code != 0]
    assert not failures, failures


# ---------------------------------------------------------------------------- layers, by walking the source

# Data flows one way: a module may import its own layer and the ones below, never one above.
LAYERS = {
    "assetflow": 0,              # shared values: errors, names, assets, partitions, state, checks
    "assetflow.project": 1,      # load: config, header, sql, pyassets, loader
    "assetflow.plan": 2,         # graph, select, windows, freshness, planner (pure)
    "assetflow.engines": 3,      # the Engine protocol and its implementations
    "assetflow.run": 4,          # assess, compile, execute, steps, checks, lock
    "assetflow.alerts": 4,       # notifications of a run's outcome
    "assetflow.api": 5,          # the use cases
    "assetflow.dbt": 5,          # import-dbt: a use case of its own
    "assetflow.schedule": 6,     # the scheduler drives the use cases
    "assetflow.ui": 7,           # the web UI drives the use cases and the scheduler
    "assetflow.cli": 8,          # the command line: over everything
}
FACADE = {"assetflow", "assetflow.__main__"}     # the public facade re-exports lazily from above


def layer_of(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS and (n > 1 or len(parts) == 2):
            return LAYERS[prefix]
    return LAYERS["assetflow"]


def module_graph() -> dict[str, set[str]]:
    """Every assetflow module and the assetflow modules it imports at run time."""
    known = set(all_modules()) | {"assetflow.__main__"}
    graph: dict[str, set[str]] = {}
    for path in source_files():
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        targets = set()
        for imported in imported_names(path):
            while imported and imported not in known:
                imported = imported.rpartition(".")[0]
            # a package is always imported before its own modules: that edge is no dependency
            if imported.startswith("assetflow") and not (name + ".").startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    return graph


def test_the_module_graph_is_seen():
    graph = module_graph()
    assert "assetflow.plan.graph" in graph["assetflow.plan.planner"] or "assetflow.plan.freshness" in graph["assetflow.plan.planner"]
    assert "assetflow.api" in graph["assetflow.cli.app"]


def test_no_import_runs_up_a_layer():
    graph = module_graph()
    upward = sorted((m, t) for m, ts in graph.items() if m not in FACADE for t in ts
                    if layer_of(t) > layer_of(m) and t not in FACADE)
    assert not upward, f"imports that run up a layer: {upward}"


def test_no_import_cycles():
    import graphlib

    graph = {m: {t for t in ts if t not in FACADE} for m, ts in module_graph().items() if m not in FACADE}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_cron_loads_only_for_projects_with_schedules():
    """croniter costs 25 ms or more to import; a project without schedules never pays it."""
    modules = modules_after_import("assetflow.project.loader")
    assert "assetflow.project.config" in modules
    assert not loaded(modules, "croniter") and "assetflow.project.schedules" not in modules
