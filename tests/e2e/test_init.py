"""`assetflow init DIR` (SPEC sections 7 and 9): a new project from the built-in template that builds."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from conftest import query, run_cli

# Calls made from another working directory still import this checkout, installed or not.
REPO = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _target_db(d):
    cfg = tomllib.loads((d / "assetflow.toml").read_text())
    first = next(iter(cfg["targets"].values()))
    return first["path"]


def test_init_creates_a_project_that_materializes_fresh(tmp_path):
    d = tmp_path / "shop"
    r = run_cli(None, "init", str(d))
    assert r.exit_code == 0, r.output
    assert (d / "assetflow.toml").is_file()
    assert (d / "assets").is_dir()
    asset_files = [f for f in (d / "assets").rglob("*") if f.suffix in (".sql", ".py")]
    assert asset_files, "the template should contain at least one asset"

    r = run_cli(d, "materialize")
    assert r.exit_code == 0, r.output

    r = run_cli(d, "status", "--json")
    assert r.exit_code == 0, r.output
    assets = r.json()["assets"]
    assert assets
    for a in assets:
        parts = a["partitions"]
        assert parts["total"] >= 1, a
        assert parts["fresh"] == parts["total"], a
        assert parts["stale"] == parts["blocked"] == parts["failed"] == 0, a
        assert a["stale"] == [], a

    # every asset is a relation `schema.name` in the target DuckDB file
    db = _target_db(d)
    if db != ":memory:":
        rows = query(d, "select schema_name || '.' || table_name from duckdb_tables() "
                        "union all select schema_name || '.' || view_name from duckdb_views()", db=db)
        relations = {row[0].lower() for row in rows}
        assert {a["name"] for a in assets} <= relations

    # the graph is consistent: every upstream is an asset or a source
    r = run_cli(d, "graph", "--format", "json")
    assert r.exit_code == 0, r.output
    g = r.json()
    known = {a["name"] for a in g["assets"]} | set(g["sources"])
    assert {a["name"] for a in g["assets"]} == {a["name"] for a in assets}
    for a in g["assets"]:
        assert a["name"] == a["name"].lower()
        for u in a["upstream"]:
            is_file = "/" in u or u.endswith((".csv", ".parquet", ".json"))
            assert u in known or is_file, (a, u)

    # a second run has nothing to do
    r = run_cli(d, "materialize", "--json")
    assert r.exit_code == 0, r.output
    assert r.json()["results"] == []

    # without --project, the nearest folder upwards holding assetflow.toml is used
    r = run_cli(None, "status", "--json", cwd=d / "assets", env=ENV)
    assert r.exit_code == 0, r.output
    assert {a["name"] for a in r.json()["assets"]} == {a["name"] for a in assets}


def test_init_into_empty_existing_dir(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    r = run_cli(None, "init", str(d))
    assert r.exit_code == 0, r.output
    assert (d / "assetflow.toml").is_file()
    assert (d / "assets").is_dir()


def test_init_into_non_empty_dir_is_refused(tmp_path):
    d = tmp_path / "busy"
    d.mkdir()
    (d / "keep.txt").write_text("mine\n")
    r = run_cli(None, "init", str(d))
    assert r.exit_code == 2, r.output
    assert "busy" in r.stderr
    assert "Traceback" not in r.output
    assert (d / "keep.txt").read_text() == "mine\n"
    assert not (d / "assetflow.toml").exists()
    assert sorted(p.name for p in d.iterdir()) == ["keep.txt"]
