"""The standalone-cluster pass: what only a real master and worker can show. The session runs
its tasks in an executor JVM of the worker, and the daemons never outlive the process that
started them. (The parity and backfill tests marked `cluster` run in this pass too.)"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import write_project
from tests.spark.conftest import cli, spark_toml

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]

FILES = {
    "assets/main/daily.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "d"
        start = "2024-01-01"
        end = "2024-01-06"
        batch_size = 5
        */
        select cast(t as date) as d, cast(day(t) as bigint) as n
        from (select unnest(generate_series(cast($start as timestamp), cast($end as timestamp) - interval 1 day,
                                            interval 1 day)) as t)
        """,
}


@pytest.fixture
def cluster(spark_cluster):
    if spark_cluster is None:
        pytest.skip("the standalone pass only: SPARK_TEST_MASTER=standalone pytest -p no:xdist -m cluster tests/spark")
    return spark_cluster


def _master_json(cluster) -> dict:
    with urllib.request.urlopen(cluster.ui.rstrip("/") + "/json/", timeout=10) as response:
        return json.load(response)


def test_a_backfill_runs_its_tasks_on_the_workers_executor(tmp_path, spark, cluster):
    assert spark.sparkContext.master == cluster.url
    apps = _master_json(cluster)["activeapps"]
    assert [a["name"] for a in apps] == ["assetflow-tests"] and apps[0]["cores"] == 1
    project = write_project(tmp_path / "p", FILES, spark_toml(cluster.url))
    code, out, err = cli(project, "backfill", "main.daily", "--from", "2024-01-01", "--to", "2024-01-05",
                         "--target", "spark")
    assert code == 0, out + err
    rows = sorted(tuple(r) for r in spark.sql("SELECT d, n FROM main.daily").collect())
    assert [n for _, n in rows] == [1, 2, 3, 4, 5]       # one job for the 5 days (batch_size)
    # the executor that ran the tasks is the worker's child: its log folder is under the worker's dir
    app_id = spark.sparkContext.applicationId
    executor_logs = list((cluster.folder / "work" / app_id).glob("*/stderr"))
    assert executor_logs, f"no executor of {app_id} under {cluster.folder / 'work'}"
    assert "Successfully registered with driver" in executor_logs[0].read_text(errors="replace")


_STARTER = """
import sys, time
from pathlib import Path
from tests.spark import cluster
c = cluster.start(Path(sys.argv[1]), worker=sys.argv[2] == "worker")
print(" ".join(str(p.pid) for p in c.processes), flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    """Exited (a zombie counts: this container's pid 1 does not reap orphans)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_the_daemons_die_with_the_process_that_started_them(tmp_path, cluster):
    """A master alone (the worker is started the same way and costs 6 s more to register)."""
    starter = subprocess.Popen([sys.executable, "-c", _STARTER, str(tmp_path / "c"), "master"],
                               stdout=subprocess.PIPE,
                               text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        pids = [int(p) for p in starter.stdout.readline().split()]
        assert len(pids) == 1 and not any(_gone(p) for p in pids)
        os.kill(starter.pid, signal.SIGKILL)          # no finally, no atexit: only PR_SET_PDEATHSIG
        starter.wait(10)
        deadline = time.monotonic() + 30
        while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(_gone(p) for p in pids), pids
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
