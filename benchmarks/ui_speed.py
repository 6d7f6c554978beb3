"""How fast `assetflow serve` answers and Chromium draws the assets page and an asset page, on the
status workload: 1,000 daily assets x 365 partitions, fully built (issue 17 item 7).

    python benchmarks/ui_speed.py              # full size; writes benchmarks/ui_speed.md
    python benchmarks/ui_speed.py --assets 100 --days 30 --out -    # small, prints only

"Served" is the HTTP round trip of the page's HTML (urllib on this machine: request sent to last
byte): the very first request of a fresh process (`first`, right after it printed its address) and
later ones (`warm`, median of --repeat). Then a `materialize` in another process takes the database
and holds it (benchmarks/held.py's gate asset): the pages are asked for again at once (`held, first`:
the first request once the run's journal shows it started) and later (`held, warm`), answered from
the snapshot and the journal.
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

import held as H  # noqa: E402
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
    gate = wl.root / "assets" / "zz_bench" / "gate.py"       # the asset that holds the database, later
    gate.parent.mkdir(parents=True, exist_ok=True)
    gate.write_text(H.GATE)
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


# (no PYTHONDONTWRITEBYTECODE: a user's Python keeps its compiled modules, see run.py)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {
    "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def af(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "assetflow", "--project", str(project), *args]


def served(pages: dict[str, str], out: dict, repeat: int, prefix: str) -> None:
    for name, url in pages.items():
        out.setdefault(name, {})[prefix + "first"] = fetch(url)
    for name, url in pages.items():
        out[name][prefix + "warm"] = statistics.median(fetch(url) for _ in range(repeat))


def rendered(pages: dict[str, str], out: dict, repeat: int, key: str) -> None:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name, url in pages.items():
            render(page, url)           # the first visit also fetches the scripts and styles
            out[name][key] = statistics.median(render(page, url) for _ in range(repeat))
        browser.close()


def measure(wl: W.StatusWorkload, repeat: int, log) -> dict[str, dict[str, float]]:
    proc = subprocess.Popen(af(wl.root, "serve", "--port", "0", "--no-schedules"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        t0 = time.perf_counter()
        base = re.match(r"Serving on (\S+)", proc.stdout.readline()).group(1)
        log(f"serve printed its address {time.perf_counter() - t0:.2f}s after it started")
        middle = wl.assets[len(wl.assets) // 2]
        pages = {"assets page `/`": base + "/", f"asset page `/assets/{middle}`": f"{base}/assets/{middle}"}
        out: dict[str, dict[str, float]] = {}
        served(pages, out, repeat, "")
        for name, url in pages.items():
            out[name]["bytes"] = len(urllib.request.urlopen(url, timeout=120).read())
        rendered(pages, out, repeat, "rendered")
        holder = H.hold(wl.root, af, ENV)
        try:
            served(pages, out, repeat, "held ")
            with urllib.request.urlopen(pages["assets page `/`"], timeout=120) as response:
                assert b"database held by run" in response.read(), "the held pages do not say they are held"
            rendered(pages, out, repeat, "held rendered")
        finally:
            (wl.root / "gate.open").touch()
            holder.wait(timeout=600)
        for name, row in out.items():
            log(f"{name}: " + ", ".join(f"{k} {v:.3f}s" for k, v in row.items() if k != "bytes"))
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
        "| page | database | HTML size | served, first request (s) | served, warm (s) | target | "
        "rendered in Chromium (s) | target | met? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        for label, prefix in (("free", ""), ("held by a run", "held ")):
            first, warm, drawn = row[prefix + "first"], row[prefix + "warm"], row[prefix + "rendered"]
            met = max(first, warm) < 0.5 and drawn < 1.0
            lines.append(f"| {name} | {label} | {row['bytes'] / 1024:.0f} KiB | {first:.3f} | {warm:.3f} | < 0.5 s | "
                         f"{drawn:.3f} | < 1 s | {'yes' if met else '**NO**'} |")
    lines += ["", f"Warm and rendered figures are medians of {repeat}. serve reads the status of every partition "
              "(and the column types) before it prints its address; later requests reuse that read until the "
              "database's files, the project's files or the minute change, and a background check every 0.5 s "
              "reads it again when they do (see docs/ui.md). Held: a `materialize` in another process holds the "
              "database; the pages answer from its snapshot and journal.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(BENCH / "ui_speed.md"), help="'-' prints only")
    args = parser.parse_args()
    log = lambda text: print(text, file=sys.stderr, flush=True)   # noqa: E731
    log(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="assetflow-ui-bench-") as tmp:
        wl = build(Path(tmp), args.assets, args.days, log)
        text = report(measure(wl, args.repeat, log), args.assets, args.days, args.repeat)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
