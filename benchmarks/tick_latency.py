"""Tick latency of the real foreground scheduler: from a tick's due time to its run starting.

    python benchmarks/tick_latency.py              # 3 ticks of a `* * * * *` schedule (about 3 minutes)
    python benchmarks/tick_latency.py --ticks 5 --json

What it does: writes a small project in a temporary folder (one Python asset, `max_age = "1m"`,
so every minute's tick has it to build) with `[schedules.minutely] cron = "* * * * *"`, starts
`python -m assetflow --project P schedule run` as a subprocess on the real clock, and waits for
TICKS ticks. The asset function appends `time.time()` to a file as its first statement: the
moment the tick's build really started (after the scheduler woke, loaded the project, decided
and recorded the tick, and materialize planned and recorded the run). Latency = that stamp minus
the tick's due time (the minute boundary). The scheduler is then stopped with SIGTERM.

The target (issue 14): under 1 s.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TOML = """
[project]
name = "ticks"

[targets.dev]
path = "warehouse.duckdb"
threads = 1

[schedules.minutely]
cron = "* * * * *"
"""

ASSET = """
import time
from pathlib import Path

import pyarrow as pa
from assetflow import asset

STAMPS = Path(__file__).resolve().parents[1] / "stamps.txt"


@asset(max_age="1m")
def heartbeat_table():
    with STAMPS.open("a") as f:
        f.write(f"{time.time()}\\n")
    return pa.table({"at": [time.time()]})
"""


def measure(ticks: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="tick-latency-") as tmp:
        root = Path(tmp) / "p"
        (root / "assets").mkdir(parents=True)
        (root / "assetflow.toml").write_text(textwrap.dedent(TOML))
        (root / "assets" / "beat.py").write_text(ASSET)
        stamps = root / "stamps.txt"
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        command = [sys.executable, "-m", "assetflow", "--project", str(root), "schedule", "run", "--json"]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            deadline = time.time() + 60 * (ticks + 2)
            while time.time() < deadline:
                if stamps.exists() and len(stamps.read_text().split()) >= ticks:
                    break
                if proc.poll() is not None:
                    raise SystemExit(f"the scheduler exited:\n{proc.stderr.read()}")
                time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
        started = [float(x) for x in stamps.read_text().split()][:ticks]
    latencies = [s - (s // 60) * 60 for s in started]        # seconds past the minute it was due
    return {"ticks": len(latencies), "latency_s": [round(x, 3) for x in latencies],
            "median_s": round(statistics.median(latencies), 3), "max_s": round(max(latencies), 3),
            "target_s": 1.0, "met": max(latencies) < 1.0, "exit_code": proc.returncode,
            "command": "python benchmarks/tick_latency.py --ticks %d" % ticks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.ticks)
    if args.json:
        print(json.dumps(result))
        return
    print(f"| tick latency (due -> build start), {result['ticks']} ticks | median {result['median_s']} s, "
          f"max {result['max_s']} s | target < 1 s: {'met' if result['met'] else 'MISSED'} | "
          f"`{result['command']}` |")


if __name__ == "__main__":
    main()
