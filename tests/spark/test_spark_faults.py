"""Bad input and faults on a Spark target, with real processes: an unreachable master or Connect
server, a warehouse that cannot be written, a timeout that cancels the Spark job, a killed
backfill that resumes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.spark.cluster import free_port
from tests.conftest import write_project
from tests.spark.conftest import SPARK_TOML, cli, spark_state

ROOT = Path(__file__).resolve().parents[2]
ONE = {"assets/main/a.sql": "select 1 as x\n"}


def _assetflow(project: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SPARK_CONF_DIR", None)          # the tests' own log4j file: a fresh process uses assetflow's
    return subprocess.run([sys.executable, "-m", "assetflow", "--project", str(project), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("key, scheme, what", [("master", "spark", "Spark master"),
                                              ("remote", "sc", "Spark Connect server")])
def test_an_unreachable_master_or_server_is_exit_2_within_seconds(tmp_path, key, scheme, what):
    port = free_port()                       # nothing listens there
    toml = SPARK_TOML.replace('master = "local[2]"', f'{key} = "{scheme}://127.0.0.1:{port}"')
    project = write_project(tmp_path / "p", ONE, toml)
    proc = _assetflow(project, "materialize", "--target", "spark", timeout=30)    # a hang fails here
    assert proc.returncode == 2, proc.stderr
    assert f"the {what} at 127.0.0.1:{port} does not answer" in proc.stderr
    assert f"[targets.spark]" in proc.stderr and "Traceback" not in proc.stderr


def test_a_warehouse_below_a_file_is_exit_2_naming_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    project = write_project(tmp_path / "p", ONE, SPARK_TOML.replace(
        'warehouse = "spark-warehouse"', f'warehouse = "{blocker}/wh"'))
    code, out, err = cli(project, "materialize", "--target", "spark")
    assert code == 2, out + err
    assert f"cannot create the warehouse {blocker}/wh" in err and "`warehouse` in [targets.spark]" in err


def test_a_read_only_warehouse_is_exit_2_naming_it(tmp_path):
    """Tests run as root, whom chmod does not stop: a read-only bind mount in a private mount
    namespace stops root too (skipped where mount namespaces are not allowed)."""
    frozen = tmp_path / "frozen"
    (frozen / "wh").mkdir(parents=True)
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{frozen}' '{frozen}'"],
                           capture_output=True) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("needs `unshare -m` and a bind mount (root in a container allows both)")
    project = write_project(tmp_path / "p", ONE, SPARK_TOML.replace(
        'warehouse = "spark-warehouse"', f'warehouse = "{frozen}/wh"'))
    command = f"{sys.executable} -m assetflow --project '{project}' materialize --target spark"
    proc = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{frozen}' '{frozen}' && exec {command}"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2, proc.stderr
    assert f"the warehouse {frozen}/wh is not writable" in proc.stderr and "Traceback" not in proc.stderr
    assert list((frozen / "wh").iterdir()) == []


# Day 3 joins 10^6 x 10^5 rows on a condition no join can index: minutes of work inside the write
# job itself (no shuffle before it), so the run is caught while its version directory is written.
SLOW = """/* assetflow
kind = "partitioned"
partition_by = "day"
time_column = "d"
start = "2024-01-01"
end = "2024-01-04"
*/
select cast($start as date) as d, a as n
from (select unnest(generate_series(1, 1000000)) as a) as x,
     (select unnest(generate_series(1, case when day(cast($start as date)) = 3 then 100000 else 1 end)) as b) as y
where a + b = 4
"""
FAST = SLOW.replace("= 3 then 100000", "= 3 then 2")
EXPECTED = [(1, 3), (2, 3), (3, 2), (3, 3), (4, 3)]           # (day, n) of FAST: a + b = 4


def _built_days(project):
    return spark_state(project, "SELECT partition, rows, location FROM _assetflow.spark_parts ORDER BY 1")


def test_a_timeout_cancels_the_spark_query(tmp_path, spark):
    """The step's timeout cancels its Spark job group (the query would run for minutes)."""
    slow = SLOW.replace('end = "2024-01-04"', 'end = "2024-01-04"\ntimeout = "2s"')
    project = write_project(tmp_path / "p", {"assets/main/slow.sql": slow}, SPARK_TOML.replace("threads = 2", "threads = 1"))
    code, out, err = cli(project, "materialize", "main.slow", "--partition", "2024-01-03", "--target", "spark")
    assert code == 1, out + err
    assert "timed out after" in out + err, out + err
    errors = spark_state(project, "SELECT status, error FROM _assetflow.attempts WHERE asset = 'main.slow'")
    assert [s for s, _ in errors] == ["failed"] and "timed out after" in errors[0][1], errors
    assert not [j for j in spark.sparkContext.statusTracker().getActiveJobsIds()]   # nothing still running


def test_a_killed_backfill_resumes_with_the_partitions_it_had_not_built(tmp_path, spark):
    project = write_project(tmp_path / "p", {"assets/main/slow.sql": FAST},
                            SPARK_TOML.replace("threads = 2", "threads = 1"))
    args = ("backfill", "main.slow", "--from", "2024-01-01", "--to", "2024-01-04", "--target", "spark")
    env = dict(os.environ, PYTHONPATH=str(ROOT), ASSETFLOW_FAULT="after_commit:2")
    env.pop("SPARK_CONF_DIR", None)
    killed = subprocess.run([sys.executable, "-m", "assetflow", "--project", str(project), *args],
                            capture_output=True, text=True, timeout=300, env=env)
    assert killed.returncode == -9, killed.stderr            # SIGKILL right after the 2nd partition's commit
    assert [p for p, _, _ in _built_days(project)] == ["2024-01-01", "2024-01-02"]
    code, out, err = cli(project, *args)
    assert code == 0, out + err
    last = spark_state(project, "SELECT partition, status FROM _assetflow.attempts WHERE run_id = "
                           "(SELECT max(run_id) FROM _assetflow.attempts) ORDER BY 1")
    assert last == [("2024-01-03", "success"), ("2024-01-04", "success")]   # resumed: only what it lacked
    assert [p for p, _, _ in _built_days(project)] == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    rows = sorted(tuple(r) for r in spark.sql("SELECT d, n FROM main.slow").collect())
    assert [(d.day, n) for d, n in rows] == EXPECTED
