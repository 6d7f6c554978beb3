"""Browser tests: the real `assetflow serve` in a subprocess, driven by Playwright through Debian's
Chromium (no browser download: `executable_path`). A failed test leaves a screenshot of its page
in browser-failures/ (or $ASSETFLOW_SCREENSHOTS)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_helpers import CHROMIUM, SHOTS, TIMEOUT_MS, Served, launch_chromium  # noqa: E402


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    tab = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.failed and report.when == "call" and tab is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid) + ".png")
        try:
            tab.screenshot(path=str(path), full_page=True)
            report.sections.append(("screenshot", str(path)))
        except Exception as exc:      # noqa: BLE001 - a broken page must not hide the failure
            report.sections.append(("screenshot", f"none: {exc}"))


@pytest.fixture
def serve():
    started: list[Served] = []

    def start(root: Path, *extra: str) -> Served:
        served = Served(root, *extra)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
