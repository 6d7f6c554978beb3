"""Docs in the project: `description`, `owner` and `columns` (header keys, decorator arguments or
a docstring), shown by `graph --format json` and `lineage`; editing them rebuilds nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli, write_project

import assetflow

FILES = {
    "assets/staging/orders.sql": """
        /* assetflow
        description = "One row per order, cleaned."
        owner = "data-platform"
        columns = { order_id = "the shop's order id", amount = "in USD" }
        */
        select 1 as order_id, 10.5 as amount
        """,
    "assets/marts/revenue.sql": "select sum(amount) as revenue from staging.orders\n",
    "assets/marts/scores.py": '''
        import pyarrow as pa
        from assetflow import asset

        @asset(owner="ml", columns={"score": "0 to 1"})
        def scores(orders):
            """A score per order.

            Higher is better."""
            return pa.table({"order_id": [1], "score": [0.5]})
        ''',
    "assets/marts/labelled.py": '''
        import pyarrow as pa
        from assetflow import asset

        @asset(description="Set by the decorator.")
        def labelled(orders):
            """The docstring loses to description=."""
            return pa.table({"x": [1]})
        ''',
}


def graph_assets(p: Path) -> dict:
    r = run_cli(p, "graph", "--format", "json")
    assert r.exit_code == 0, r.output
    return {a["name"]: a for a in r.json()["assets"]}


def test_graph_json_shows_description_owner_and_columns(tmp_path):
    p = write_project(tmp_path / "p", FILES)
    assets = graph_assets(p)
    orders = assets["staging.orders"]
    assert orders["description"] == "One row per order, cleaned."
    assert orders["owner"] == "data-platform"
    assert orders["columns"] == {"order_id": "the shop's order id", "amount": "in USD"}
    assert list(orders["columns"]) == ["order_id", "amount"]          # the order written
    assert (assets["marts.revenue"]["description"], assets["marts.revenue"]["owner"],
            assets["marts.revenue"]["columns"]) == (None, None, {})
    assert assets["marts.scores"]["description"] == "A score per order.\n\nHigher is better."
    assert assets["marts.scores"]["owner"] == "ml" and assets["marts.scores"]["columns"] == {"score": "0 to 1"}
    assert assets["marts.labelled"]["description"] == "Set by the decorator."


def test_lineage_shows_the_docs(tmp_path):
    p = write_project(tmp_path / "p", FILES)
    r = run_cli(p, "lineage", "staging.orders")
    assert r.exit_code == 0, r.output
    assert "One row per order, cleaned." in r.stdout and "owner:          data-platform" in r.stdout
    assert "order_id  the shop's order id" in r.stdout
    r = run_cli(p, "lineage", "staging.orders", "--json")
    assert r.json()["description"] == "One row per order, cleaned." and r.json()["columns"]["amount"] == "in USD"
    r = run_cli(p, "lineage", "marts.revenue.revenue", "--json")
    assert r.exit_code == 0, r.output
    (child,) = r.json()["upstream"]
    assert (child["asset"], child["column"], child["description"]) == ("staging.orders", "amount", "in USD")
    assert "<- staging.orders.amount  -- in USD" in run_cli(p, "lineage", "marts.revenue.revenue").stdout


def test_editing_docs_rebuilds_nothing(tmp_path):
    p = write_project(tmp_path / "p", FILES)
    assert run_cli(p, "materialize").exit_code == 0
    path = p / "assets/staging/orders.sql"
    path.write_text(path.read_text().replace("cleaned.", "cleaned and deduplicated.")
                    .replace('"in USD"', '"in US dollars"').replace("data-platform", "analytics"))
    r = run_cli(p, "materialize", "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    assert r.json()["results"] == []
    assert graph_assets(p)["staging.orders"]["owner"] == "analytics"


@pytest.mark.parametrize("header,message", [
    ('columns = { amount = 3 }', "columns.amount must be a description string, not int"),
    ('columns = { amount = { description = "x" } }', "columns.amount must be a description string, not dict"),
    ('columns = ["amount"]', "setting 'columns' must be dict"),
    ('description = 3', "setting 'description' must be str"),
    ('owner = ["a"]', "setting 'owner' must be str"),
])
def test_bad_docs_are_exit_2_naming_the_file(tmp_path, header, message):
    p = write_project(tmp_path / "p", {"assets/a.sql": f"/* assetflow\n{header}\n*/\nselect 1 as amount\n"})
    r = run_cli(p, "graph")
    assert r.exit_code == 2
    assert "assets/a.sql" in r.stderr and message in r.stderr


def test_every_template_asset_has_a_description(tmp_path):
    """`assetflow init` is the first thing a user sees: its assets document themselves."""
    p = tmp_path / "shop"
    assert run_cli(None, "init", str(p)).exit_code == 0
    assets = graph_assets(p)
    template = Path(assetflow.__file__).parent / "project" / "template" / "assets"
    defined = {f.stem for f in template.rglob("*") if f.suffix in (".sql", ".py")}
    documented = {n.rpartition(".")[2] for n, a in assets.items() if a["kind"] != "seed"}
    assert documented == defined                       # every file under assets/ is covered
    for name, a in assets.items():
        if a["kind"] == "seed":
            continue                                   # seeds have no header (docs/project-format.md)
        assert a["description"] and len(a["description"]) >= 30, name
        assert a["owner"], name
