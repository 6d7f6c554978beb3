"""Helpers of the browser tests: Chromium's launch, a served project, the test projects."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

CHROMIUM = os.environ.get("ASSETFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("ASSETFLOW_SCREENSHOTS", ROOT / "browser-failures"))
TIMEOUT_MS = 30_000


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


class Served:
    """A running `assetflow serve --port 0` on a project; stopped with SIGTERM."""

    def __init__(self, root: Path, *extra: str):
        self.root = root
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "assetflow", "--project", str(root), "serve", "--port", "0",
                                      *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        match = re.match(r"Serving on (http://\S+)", line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"serve did not start: {line!r} {self.proc.stderr.read()}")
        self.url = match.group(1)

    def stop(self, timeout: float = 60) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


def run_cli(project: Path, *args: str, timeout: float = 120):
    """The real CLI in a subprocess: (exit code, stdout, stderr)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "assetflow", "--project", str(project), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    return proc


def write_project(root: Path, files: dict[str, str], toml: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "assetflow.toml").write_text(textwrap.dedent(toml).lstrip())
    (root / "assets").mkdir(exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root



TOML = """
[project]
name = "ui"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[sources]
"raw.events" = { path = "data/events.csv" }
"""

DAYS = 10


def events_csv() -> str:
    lines = ["id,day,amount"]
    for d in range(DAYS):
        for i in range(5):
            lines.append(f"{d * 100 + i},2024-01-{d + 1:02d},{d + i}")
    return "\n".join(lines) + "\n"


def day_header(**more: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in more.items())
    return ('/* assetflow\nkind = "partitioned"\npartition_by = "day"\ntime_column = "day"\n'
            f'start = "2024-01-01"\nend = "2024-01-{DAYS:02d}"\n{extra}*/\n')


def daily_project(root: Path, extra: dict[str, str] | None = None, toml: str = TOML) -> Path:
    """raw.events (CSV) -> staging.events_day (daily) -> marts.daily (daily); nothing built yet."""
    files = {
        "data/events.csv": events_csv(),
        "assets/staging/events_day.sql": day_header(description='"Events of one day."', owner='"data-eng"')
        + "select id, day, amount from raw.events where day >= $start and day < $end\n",
        "assets/marts/daily.sql": day_header()
        + "select day, count(*) as n, sum(amount) as amount from staging.events_day\n"
          "where day >= $start and day < $end group by all\n",
    }
    files.update(extra or {})
    return write_project(root, files, toml)
