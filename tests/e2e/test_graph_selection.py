"""`graph SELECTION`, `path:` relative to the current folder, and `--help` with examples that
point to the selection grammar (SPEC section 7)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_cli, write_project

REPO = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

TOML = """
[project]
name = "t"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"

[sources]
"raw.orders" = { path = "data/orders.csv" }
"""
FILES = {
    "data/orders.csv": "id,amount\n1,10\n",
    "assets/staging/stg_orders.sql": "select id, amount from raw.orders\n",
    "assets/marts/revenue.sql": "select sum(amount) as total from staging.stg_orders\n",
    "assets/marts/big.sql": """
        /* assetflow
        tags = ["finance"]
        */
        select * from staging.stg_orders where amount > 5
        """,
    "assets/reports/summary.sql": "select total from marts.revenue\n",
}
ALL = {"staging.stg_orders", "marts.revenue", "marts.big", "reports.summary"}


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    return write_project(tmp_path_factory.mktemp("graph") / "proj", FILES, TOML)


def graph_names(p, *args, cwd=None) -> set[str]:
    r = run_cli(None if cwd else p, "graph", *args, "--format", "json", cwd=cwd, env=ENV)
    assert r.exit_code == 0, r.output
    return {a["name"] for a in r.json()["assets"]}


def test_graph_without_selection_is_the_whole_dag(proj):
    assert graph_names(proj) == ALL


def test_graph_takes_a_selection_in_every_format(proj):
    data = run_cli(proj, "graph", "marts.revenue+", "--format", "json").json()
    assert {a["name"] for a in data["assets"]} == {"marts.revenue", "reports.summary"}
    assert data["sources"] == []                      # the selected assets read no source
    upstream = run_cli(proj, "graph", "+marts.revenue", "--format", "json").json()
    assert {a["name"] for a in upstream["assets"]} == {"staging.stg_orders", "marts.revenue"}
    assert upstream["sources"] == ["raw.orders"]
    text = run_cli(proj, "graph", "tag:finance").stdout.splitlines()
    assert text == ["marts.big (table) <- staging.stg_orders"]
    mermaid = run_cli(proj, "graph", "marts.revenue+", "--format", "mermaid").stdout
    assert '"marts.revenue"' in mermaid and '"reports.summary"' in mermaid and "-->" in mermaid
    assert "stg_orders" not in mermaid
    dot = run_cli(proj, "graph", "marts.revenue+", "--format", "dot").stdout
    assert '"marts.revenue" -> "reports.summary";' in dot and "stg_orders" not in dot


def test_graph_with_an_unknown_selection_is_exit_2(proj):
    r = run_cli(proj, "graph", "marts.revenu")
    assert r.exit_code == 2 and "marts.revenue" in r.stderr


def test_path_is_relative_to_the_current_folder(proj):
    marts = proj / "assets" / "marts"
    assert graph_names(proj, "path:.", cwd=marts) == {"marts.revenue", "marts.big"}
    assert graph_names(proj, "path:revenue.sql+", cwd=marts) == {"marts.revenue", "reports.summary"}
    assert graph_names(proj, "path:../staging", cwd=marts) == {"staging.stg_orders"}
    assert graph_names(proj, "path:marts", cwd=proj / "assets") == {"marts.revenue", "marts.big"}
    assert graph_names(proj, "path:assets/reports", cwd=proj) == {"reports.summary"}
    assert graph_names(proj, f"path:{proj / 'assets' / 'staging'}", cwd=marts) == {"staging.stg_orders"}


def test_path_from_outside_the_project_is_relative_to_its_root(proj, tmp_path):
    r = run_cli(None, "--project", str(proj), "graph", "path:assets/marts", "--format", "json", cwd=tmp_path, env=ENV)
    assert r.exit_code == 0, r.output
    assert {a["name"] for a in r.json()["assets"]} == {"marts.revenue", "marts.big"}


def test_path_relative_to_the_current_folder_in_status_materialize_and_check(proj):
    marts = proj / "assets" / "marts"
    status = run_cli(None, "status", "path:revenue.sql", "--json", cwd=marts, env=ENV)
    assert [a["name"] for a in status.json()["assets"]] == ["marts.revenue"]
    plan = run_cli(None, "materialize", "+path:revenue.sql", "--dry-run", "--json", cwd=marts, env=ENV)
    assert {r["asset"] for r in plan.json()["results"]} == {"staging.stg_orders", "marts.revenue"}
    r = run_cli(None, "status", "path:assets/marts", cwd=marts, env=ENV)
    assert r.exit_code == 2 and "path:assets/marts/assets/marts" in r.stderr and "current folder" in r.stderr


SELECTING = ["status", "materialize", "check", "dev", "graph"]
OTHERS = ["init", "backfill", "lineage", "compile", "runs", "runs show", "import-dbt"]


@pytest.mark.parametrize("command", SELECTING + OTHERS)
def test_help_has_examples_and_points_to_the_reference(command):
    r = run_cli(None, *command.split(), "--help", env=ENV)
    assert r.exit_code == 0, r.output
    assert "Examples:\n" in r.stdout and f"  assetflow {command.split()[0]}" in r.stdout
    assert "docs/cli.md" in r.stdout
    if command in SELECTING:
        flowed = " ".join(r.stdout.split())          # click wraps help text at the terminal width
        assert "docs/cli.md#selection" in flowed and "path:dir (relative to the current folder)" in flowed
