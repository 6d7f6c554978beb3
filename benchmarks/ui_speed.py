"""How fast `assetflow serve` answers and Chromium draws the assets page and an asset page, on the
status workload: 1,000 daily assets x 365 partitions, fully built (issue 17 item 7).

    python benchmarks/ui_speed.py              # full size; writes benchmarks/ui_speed.md
    python benchmarks/ui_speed.py --assets 100 --days 30 --out -    # small, prints only

"Served" is the HTTP round trip of the page's HTML (urllib on this machine: request sent to last
byte), with the server's status read already made (`warm`, median of --repeat) and the very first
request of a fresh process (`cold`: it loads the project and reads the status of 365,000 partitions).
"Rendered" is measured in Chromium (Debian's /usr/bin/chromium, headless, through Playwright): from
the navigation's start to the page being drawn, i.e. the load event for an asset page and, for the
assets page, the moment graph.js has laid out and drawn the graph (dagre); median of --repeat.
Targets: served < 0.5 s, rendered < 1 s.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "tests" / "browser"))

import workloads as W  # noqa: E402
from ui_helpers import launch_chromium  # noqa: E402

RENDERED = """() => new Promise((done) => {
  const nav = performance.getEntriesByType("navigation")[0];
  const finish = () => done({loaded: nav.loadEventEnd, drawn: performance.now()});
  const canvas = document.getElementById("graph");
  if (!canvas || canvas.dataset.ready) { finish(); return; }
  new MutationObserver(() => canvas.dataset.ready && finish()).observe(canvas, {attributes: true});
})"""


def build(work: Path, assets: int, days: int, log) -> W.StatusWorkload:
    wl = W.status_scale(work / "status", assets, days)
    t0 = time.perf_counter()
    records = W.seed_status_state(wl.root, wl.first_day, days)     # as run.py's status rows: every partition fresh
    log(f"seeded {records} partition records in {time.perf_counter() - t0:.1f}s")
    return wl


def fetch(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
    return time.perf_counter() - t0


def render(page, url: str) -> float:
    page.goto(url, wait_until="load")
    timing = page.evaluate(RENDERED)
    return max(timing["loaded"], timing["drawn"]) / 1000


def measure(wl: W.StatusWorkload, repeat: int, log) -> dict[str, dict[str, float]]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "assetflow", "--project", str(wl.root), "serve", "--port", "0",
                             "--no-schedules"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        base = re.match(r"Serving on (\S+)", proc.stdout.readline()).group(1)
        middle = wl.assets[len(wl.assets) // 2]
        pages = {"assets page `/`": base + "/", f"asset page `/assets/{middle}`": f"{base}/assets/{middle}"}
        out = {name: {"cold": fetch(url)} for name, url in pages.items()}
        for name, url in pages.items():
            out[name]["warm"] = statistics.median(fetch(url) for _ in range(repeat))
            out[name]["bytes"] = len(urllib.request.urlopen(url, timeout=120).read())
        from playwright.sync_api import sync_playwright
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for name, url in pages.items():
                render(page, url)           # the first visit also fetches the scripts and styles
                out[name]["rendered"] = statistics.median(render(page, url) for _ in range(repeat))
            browser.close()
        for name, row in out.items():
            log(f"{name}: served cold {row['cold']:.3f}s warm {row['warm']:.3f}s, rendered {row['rendered']:.3f}s")
        return out
    finally:
        proc.terminate()
        proc.communicate(timeout=120)


def report(results: dict, assets: int, days: int, repeat: int) -> str:
    lines = [
        "## Web UI (`assetflow serve`)", "",
        f"{assets} daily assets x {days} partitions ({assets * days:,} partition records), fully built "
        "(the status workload, its state seeded by `workloads.seed_status_state`). Reproduce: `python benchmarks/ui_speed.py` (writes benchmarks/ui_speed.md; "
        "see its docstring for what is measured).", "",
        "| page | HTML size | served, first request (s) | served, warm (s) | target | rendered in Chromium (s) | target | met? |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        met = row["warm"] < 0.5 and row["rendered"] < 1.0
        lines.append(f"| {name} | {row['bytes'] / 1024:.0f} KiB | {row['cold']:.3f} | {row['warm']:.3f} | < 0.5 s | "
                     f"{row['rendered']:.3f} | < 1 s | {'yes' if met else '**NO**'} |")
    lines += ["", f"Warm and rendered figures are medians of {repeat}. The first request of a fresh process "
              "loads the project and reads the status of every partition; later requests reuse that read "
              "until the database file, the project's files or the minute change.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(BENCH / "ui_speed.md"), help="'-' prints only")
    args = parser.parse_args()
    log = lambda text: print(text, file=sys.stderr, flush=True)   # noqa: E731
    with tempfile.TemporaryDirectory(prefix="assetflow-ui-bench-") as tmp:
        wl = build(Path(tmp), args.assets, args.days, log)
        text = report(measure(wl, args.repeat, log), args.assets, args.days, args.repeat)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
