"""Take the screenshots of docs/ui.md: the built-in template project served by the real
`assetflow serve`, clicked through in Debian's Chromium with the browser tests' set-up.

    python tests/browser/screenshots.py            # writes docs/img/ui-*.png
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_helpers import ROOT, Served, launch_chromium, run_cli  # noqa: E402

OUT = ROOT / "docs" / "img"
SCHEDULE = '\n[schedules.nightly]\ncron = "0 2 * * *"\ntimezone = "Europe/Berlin"\nselect = "+marts.daily_revenue"\n'
FAILING_PY = '''\
import pyarrow as pa

from assetflow import asset


@asset(deps=["marts.daily_revenue"], owner="growth")
def forecast() -> pa.Table:
    """Next week's revenue per region (a model that is not finished yet)."""
    raise RuntimeError("the forecast model file models/revenue.pkl is missing")
'''


def project(tmp: Path) -> Path:
    root = tmp / "shop"
    assert run_cli(ROOT, "init", str(root)).returncode == 0
    with open(root / "assetflow.toml", "a") as toml:
        toml.write(SCHEDULE)
    assert run_cli(root, "materialize").returncode == 0
    (root / "assets" / "marts" / "forecast.py").write_text(FAILING_PY)
    return root


def shoot(page, name: str, full: bool = True) -> None:
    page.screenshot(path=str(OUT / f"ui-{name}.png"), full_page=full)
    print(OUT / f"ui-{name}.png")


def main() -> None:
    from playwright.sync_api import expect, sync_playwright
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="assetflow-shots-") as tmp, sync_playwright() as playwright:
        served = Served(project(Path(tmp)), "--no-schedules")
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        try:
            page.goto(served.url + "/assets/marts.forecast")
            page.get_by_role("button", name="Materialize").click()
            expect(page.locator("#run-status")).to_have_text("failed", timeout=60_000)
            page.locator("tr.attempt summary").first.click()
            shoot(page, "run-failed")

            page.goto(served.url + "/assets/marts.daily_revenue")
            page.get_by_role("button", name="Backfill").click()
            dialog = page.locator("#backfill-dialog")
            dialog.get_by_label("From").fill("2024-02-01")
            dialog.get_by_label("To").fill("2024-02-07")
            dialog.get_by_role("button", name="Preview").click()
            expect(dialog.locator(".preview")).to_have_text(re.compile("^Will build"))
            shoot(page, "backfill", full=False)
            dialog.get_by_label("include downstream").uncheck()
            dialog.get_by_role("button", name="Launch").click()
            expect(page.locator("#run-status")).to_have_text(re.compile("success|failed"), timeout=60_000)
            shoot(page, "run")

            page.goto(served.url + "/")
            expect(page.locator("#graph svg")).to_be_visible()
            shoot(page, "assets")
            page.goto(served.url + "/assets/marts.daily_revenue")
            shoot(page, "asset")
            page.goto(served.url + "/runs")
            shoot(page, "runs")
            page.goto(served.url + "/schedules")
            shoot(page, "schedules")
        finally:
            browser.close()
            served.stop()


if __name__ == "__main__":
    main()
