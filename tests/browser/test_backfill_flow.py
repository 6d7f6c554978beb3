"""Issue 17 item 6: click through the UI as a person would - open the graph, open an asset,
Backfill three days (Preview, Launch), wait for success, and find the rows in the DuckDB file."""
from __future__ import annotations

import re

import duckdb
import pytest
from playwright.sync_api import expect

from ui_helpers import daily_project, run_cli

pytestmark = pytest.mark.xdist_group("browser")


def test_backfill_three_days_from_the_asset_page(tmp_path, serve, page):
    root = daily_project(tmp_path / "p")
    served = serve(root)
    page.goto(served.url + "/")
    expect(page.locator("h1")).to_have_text("Assets")
    node = page.locator('#graph a.node[data-asset="staging.events_day"]')
    expect(node).to_be_visible()
    expect(page.locator('#graph a.node[data-asset="marts.daily"]')).to_have_class(re.compile(r"\bs-stale\b"))
    row = page.locator('tr[data-asset="staging.events_day"]')
    expect(row.locator("td").nth(3)).to_have_text("10")        # partitions

    node.click()
    expect(page).to_have_url(served.url + "/assets/staging.events_day")
    expect(page.locator(".description")).to_have_text("Events of one day.")
    expect(page.locator(".strip .seg")).to_have_count(1)        # ten stale partitions: one range
    page.get_by_role("button", name="Backfill").click()
    dialog = page.locator("#backfill-dialog")
    dialog.get_by_label("From").fill("2024-01-02")
    dialog.get_by_label("To").fill("2024-01-04")
    dialog.get_by_label("include downstream").uncheck()
    dialog.get_by_role("button", name="Preview").click()
    expect(dialog.locator(".preview")).to_have_text("Will build 3 partitions of 1 asset.")
    dialog.get_by_label("include downstream").check()
    dialog.get_by_role("button", name="Preview").click()
    # marts.daily's other seven days read staging days that were never built: blocked, not built
    expect(dialog.locator(".preview")).to_have_text(
        "Will build 6 partitions of 2 assets; 7 blocked partitions will not be built.")
    dialog.get_by_label("include downstream").uncheck()

    dialog.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/runs/"))
    expect(page.locator("#run-status")).to_have_text("success", timeout=60_000)
    expect(page.locator("tr.attempt")).to_have_count(3)

    served.stop()          # the serve process holds no connection once stopped; read the file directly
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        days = con.sql("select day::varchar, count(*) from staging.events_day group by 1 order by 1").fetchall()
        tables = con.sql("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
    finally:
        con.close()
    assert days == [("2024-01-02", 5), ("2024-01-03", 5), ("2024-01-04", 5)]
    assert tables == []          # downstream was left out


def test_a_bad_range_is_refused_in_the_dialog_with_the_cli_message(tmp_path, serve, page):
    root = daily_project(tmp_path / "p")
    cli = run_cli(root, "backfill", "staging.events_day", "--from", "2024-01-05", "--to", "2024-01-02")
    assert cli.returncode == 2, cli.stderr
    served = serve(root)
    page.goto(served.url + "/assets/staging.events_day")
    page.get_by_role("button", name="Backfill").click()
    dialog = page.locator("#backfill-dialog")
    dialog.get_by_label("From").fill("2024-01-05")
    dialog.get_by_label("To").fill("2024-01-02")
    dialog.get_by_role("button", name="Preview").click()
    expect(dialog.locator(".form-error")).to_have_text(cli.stderr.strip())
    dialog.get_by_label("From").fill("2024-13-01")
    dialog.get_by_role("button", name="Launch").click()
    bad = run_cli(root, "backfill", "staging.events_day", "--from", "2024-13-01", "--to", "2024-01-02")
    expect(dialog.locator(".form-error")).to_have_text(bad.stderr.strip())
    expect(page).to_have_url(served.url + "/assets/staging.events_day")     # nothing launched


def test_an_unknown_asset_or_run_is_a_404_page_with_a_way_back(tmp_path, serve, page):
    served = serve(daily_project(tmp_path / "p"))
    response = page.goto(served.url + "/assets/marts.nope")
    assert response.status == 404
    expect(page.locator(".notfound")).to_contain_text("marts.nope")
    page.get_by_role("link", name="Back to the assets").click()
    expect(page.locator("h1")).to_have_text("Assets")
    response = page.goto(served.url + "/runs/20990101T000000-abcdef")
    assert response.status == 404
    expect(page.get_by_role("link", name="Back to the assets")).to_be_visible()
