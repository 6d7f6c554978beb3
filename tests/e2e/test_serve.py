"""`assetflow serve` as a process (issue 17 items 1 and 5): its address line, SIGTERM during a run
launched from the UI (the running partition finishes, nothing new starts, exit 0), the warning for
a public address, and a project that does not load."""
from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import run_cli, write_project

ROOT = Path(__file__).resolve().parents[2]
GATED_PY = """\
import fcntl

import pyarrow as pa

from assetflow import AssetContext, asset


@asset(partition_by="day", start="2024-01-01", end="2024-01-04", time_column="day")
def gated(context: AssetContext) -> pa.Table:
    context.log.info("building %s", context.partition)
    with open({gate!r}, "a") as gate:
        fcntl.flock(gate, fcntl.LOCK_SH)
    return pa.table({{"day": [context.start], "n": [1]}})
"""
TOML = """
[project]
name = "t"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 1
"""


def start(root: Path, *args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "assetflow", "--project", str(root), "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    match = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+)\n", line)
    assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, match.group(1)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Assetflow-Token": token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_sigterm_lets_the_running_partition_finish_and_starts_nothing_new(tmp_path):
    gate = tmp_path / "gate"
    root = write_project(tmp_path / "p", {"assets/gated.py": GATED_PY.format(gate=str(gate))}, TOML)
    proc, url = start(root)
    with open(gate, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        token = re.search(r'name="assetflow-token" content="([^"]+)"', get(url + "/")).group(1)
        launched = post(url + "/api/materialize", token, {"selection": "main.gated"})
        while True:          # the partition is running once the run's progress says so
            live = json.loads(get(url + "/api/runs/" + launched["launch_id"]))
            if live["running"]:
                break
        proc.send_signal(signal.SIGTERM)
        assert "stopping" in proc.stderr.readline()
        fcntl.flock(held, fcntl.LOCK_UN)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    runs = json.loads(run_cli(root, "runs", "--json").stdout)["runs"]
    assert [r["status"] for r in runs] == ["interrupted"]
    shown = json.loads(run_cli(root, "runs", "show", runs[0]["run_id"], "--json").stdout)
    assert [(a["partition"], a["status"]) for a in shown["attempts"]] == [("2024-01-01", "success")]


def test_a_public_address_prints_a_warning(tmp_path):
    root = write_project(tmp_path / "p", {"assets/a.sql": "select 1 as x\n"}, TOML)
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "assetflow", "--project", str(root), "serve", "--host", "0.0.0.0",
                             "--port", "0", "--no-schedules"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert re.fullmatch(r"Serving on http://0\.0\.0\.0:\d+\n", proc.stdout.readline())
        assert proc.stderr.readline().startswith("warning: listening on 0.0.0.0: anyone who can reach")
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_a_project_that_does_not_load_is_exit_2_before_listening(tmp_path):
    root = write_project(tmp_path / "p", {"assets/a.sql": "select x from main.nope\n"}, TOML)
    r = run_cli(root, "serve", "--port", "0", timeout=60)
    assert r.exit_code == 2, r.output
    assert "Serving on" not in r.stdout
    assert r.stderr.startswith("error: assets/a.sql") and "main.nope" in r.stderr
    assert "Traceback" not in r.stderr
