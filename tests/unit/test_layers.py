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


PURE = ["assetflow.planner", "assetflow.graph", "assetflow.partitions", "assetflow.select", "assetflow.freshness"]


@pytest.mark.parametrize("module", PURE + ["assetflow.executor", "assetflow.loader", "assetflow.fingerprint"])
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
    return sorted(PACKAGE.rglob("*.py"))


@functools.cache
def imported_top_levels(path: Path) -> frozenset[str]:
    """Top-level packages a module imports anywhere (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return frozenset(names)


def importers(library: str) -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in source_files() if library in imported_top_levels(p)}


def test_the_scanner_sees_imports():
    assert importers("assetflow")        # sanity: the package imports itself somewhere
    assert "assetflow/sql.py" in importers("sqlglot")


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
    code = ("import json, sys\nfrom assetflow.cli import main\n"
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


def test_only_the_sql_module_imports_sqlglot():
    offenders = importers("sqlglot") - {"assetflow/sql.py", "assetflow/config.py"}
    assert not offenders, f"sqlglot imported outside assetflow/sql.py: {sorted(offenders)}"


def test_only_the_cli_imports_click():
    assert importers("click") <= {"assetflow/cli.py"}


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
    assert "assetflow.planner" in modules and "assetflow.engines.duckdb" in modules

    def try_import(module: str) -> tuple[str, int, str]:
        proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        return module, proc.returncode, proc.stderr.strip()

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [(m, err) for m, code, err in pool.map(try_import, modules) if code != 0]
    assert not failures, failures
