"""The UI's pages while another process's run holds the database (issue 17 item 4), over real HTTP:
they answer from the snapshot and the run's journal and say so, follow the run's progress, and
the moment the run has ended they show what it built (no report kept from while it ran)."""
from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_project
from test_serve import ROOT, TOML, get, start

DAYS = """
/* assetflow
kind = "partitioned"
partition_by = "day"
time_column = "day"
start = "2024-01-01"
end = "2024-01-06"
*/
select d::date as day, 1 as n from range(date '2024-01-01', date '2024-01-07', interval 1 day) t(d)
where d >= $start and d < $end
"""
GATED_PY = """\
import fcntl

import pyarrow as pa

from assetflow import AssetContext, asset


@asset(partition_by="day", start="2024-01-01", end="2024-01-03", time_column="day")
def gated(context: AssetContext, days: pa.Table) -> pa.Table:
    with open({gate!r}, "a") as gate:
        fcntl.flock(gate, fcntl.LOCK_SH)        # waits while the test holds the gate
    return pa.table({{"day": [context.start], "n": [len(days)]}})
"""


def page_until(url: str, text: str, timeout: float = 60) -> str:
    """The page once it contains `text` (pages follow a running run's progress a little behind)."""
    deadline = time.monotonic() + timeout
    while True:
        body = get(url)
        if text in body or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def wait_for_journal(root: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    journal = root / "warehouse.duckdb.journal"
    deadline = time.monotonic() + timeout
    while not (journal.exists() and text in journal.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"the run never journaled {text}"
        time.sleep(0.05)


def test_pages_while_another_process_holds_the_database(tmp_path):
    gate = tmp_path / "gate"
    root = write_project(tmp_path / "p", {"assets/days.sql": DAYS, "assets/gated.py": GATED_PY.format(gate=str(gate))},
                         TOML)
    serve, url = start(root, "--no-schedules")
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    try:
        assert "database held" not in get(url + "/")           # read before the run: nothing built
        with open(gate, "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            run = subprocess.Popen([sys.executable, "-m", "assetflow", "--project", str(root), "materialize"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            wait_for_journal(root, '"asset":"main.gated","partition":"2024-01-01"', run)
            # (a page may show the progress read up to 5 s before: wait for the read after the start)
            assets = page_until(url + "/", "6 of 9 partitions done, 1 running")
            banner = re.search(r"database held[^<]*", assets)
            assert banner and f"(pid {run.pid})" in banner.group(0), assets
            assert "6 of 9 partitions done, 1 running" in banner.group(0), banner.group(0)
            days = get(url + "/assets/main.days")
            assert "Every partition is fresh." in days and "database held by run" in days
            assert "Every partition is fresh." not in get(url + "/assets/main.gated")
            fcntl.flock(held, fcntl.LOCK_UN)
        assert run.wait(timeout=120) == 0, run.communicate()
        # at once: the snapshot the run published at its end replaced the one the pages were read from
        gated = get(url + "/assets/main.gated")
        assert "Every partition is fresh." in gated and "database held" not in gated, gated
    finally:
        serve.terminate()
        serve.communicate(timeout=60)
