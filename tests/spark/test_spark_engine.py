"""The Spark engine on a real local[2] session: tables, views, partitions, state, no JVM for status."""
from __future__ import annotations

import json
import subprocess
import sys

import duckdb

from tests.conftest import write_project
import pytest

from tests.spark.conftest import SPARK_TOML, cli, spark_state, spark_toml

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _rows_at(location):
    return duckdb.sql(f"SELECT * FROM read_parquet('{location}/*.parquet') ORDER BY ALL").fetchall()


FILES = {
    "assets/main/a.sql": "select 1 as x, 'a' as s, cast(2.5 as int) as r\n",
    "assets/main/b.sql": "select x + 1 as y, r from main.a\n",
    "assets/main/v.sql": "/* assetflow\nkind = \"view\"\n*/\nselect y * 10 as z from main.b\n",
    "assets/main/daily.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "d"
        start = "2024-01-01"
        end = "2024-01-03"
        */
        select d, cast(day(d) as bigint) as n
        from (select cast($start as date) as d)
        """,
}


@pytest.mark.cluster
def test_sql_assets_build_on_spark_and_state_points_at_the_data(tmp_path, spark, spark_master):
    project = write_project(tmp_path / "p", FILES, spark_toml(spark_master))
    code, out, err = cli(project, "materialize", "--target", "spark")
    assert code == 0, out + err
    tables = dict(spark_state(project, "SELECT asset, location FROM _assetflow.spark_tables WHERE kind = 'table'"))
    assert _rows_at(tables["main.a"]) == [(1, "a", 3)]          # DuckDB's rounding cast, on Spark
    assert _rows_at(tables["main.b"]) == [(2, 3)]
    parts = spark_state(project, "SELECT partition, rows FROM _assetflow.spark_parts ORDER BY 1")
    assert parts == [("2024-01-01", 1), ("2024-01-02", 1), ("2024-01-03", 1)]
    recorded = spark_state(project, "SELECT asset, count(*) FROM _assetflow.partitions WHERE status = 'success' "
                               "GROUP BY ALL ORDER BY 1")
    assert recorded == [("main.a", 1), ("main.b", 1), ("main.daily", 3), ("main.v", 1)]
    assert [tuple(r) for r in spark.sql("SELECT * FROM main.v").collect()] == [(20,)]
    assert sorted(tuple(r) for r in spark.sql("SELECT n FROM main.daily").collect()) == [(1,), (2,), (3,)]
    # a second run has nothing to do; a rebuild of one partition points only it at a new directory
    code, out, err = cli(project, "materialize", "--target", "spark")
    assert code == 0 and "0 partition" in (out + err).lower() or "nothing" in (out + err).lower(), out + err
    before = dict(spark_state(project, "SELECT partition, location FROM _assetflow.spark_parts"))
    code, out, err = cli(project, "backfill", "main.daily", "--from", "2024-01-02", "--to", "2024-01-02",
                         "--target", "spark")
    assert code == 0, out + err
    after = dict(spark_state(project, "SELECT partition, location FROM _assetflow.spark_parts"))
    assert after["2024-01-01"] == before["2024-01-01"] and after["2024-01-03"] == before["2024-01-03"]
    assert after["2024-01-02"] != before["2024-01-02"]
    assert _rows_at(before["2024-01-02"]) == _rows_at(after["2024-01-02"])   # the old version stays (clean removes it)


def test_every_partition_of_a_new_asset_written_by_two_threads_is_recorded(tmp_path, spark):
    """Two partitions of an asset that is new committed at once: both inserted its `spark_tables`
    row in concurrent transactions, DuckDB refused one (a primary-key conflict) and that partition
    failed at random (the template parity test lacked a day of marts.daily_revenue under load)."""
    header = FILES["assets/main/daily.sql"].replace('end = "2024-01-03"', 'end = "2024-01-12"')
    project = write_project(tmp_path / "p", {"assets/main/daily.sql": header}, SPARK_TOML)
    code, out, err = cli(project, "materialize", "--target", "spark")
    assert code == 0, out + err
    parts = spark_state(project, "SELECT partition, rows FROM _assetflow.spark_parts ORDER BY 1")
    assert parts == [(f"2024-01-{d:02d}", 1) for d in range(1, 13)]
    assert sorted(tuple(r) for r in spark.sql("SELECT n FROM main.daily").collect()) == [(d,) for d in range(1, 13)]


def test_status_graph_and_runs_start_no_jvm(tmp_path, spark):
    project = write_project(tmp_path / "p", {"assets/main/a.sql": "select 1 as x\n"}, SPARK_TOML)
    assert cli(project, "materialize", "--target", "spark")[0] == 0
    code = ("import json, sys\nfrom assetflow.cli.app import main\n"
            "for command in (['status', '--target', 'spark'], ['graph'], ['runs', '--target', 'spark'],\n"
            "                ['materialize', '--dry-run', '--target', 'spark']):\n"
            "    try:\n        main(['--project', sys.argv[1], *command])\n"
            "    except SystemExit as exc:\n        assert not exc.code, (command, exc.code)\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert not any(m == "pyspark" or m.startswith("pyspark.") for m in modules)
    assert "main.a" in proc.stdout


def test_a_spark_target_without_pyspark_says_how_to_install_it(tmp_path):
    project = write_project(tmp_path / "p", {"assets/main/a.sql": "select 1 as x\n"}, SPARK_TOML)
    code = ("import sys\nsys.modules['pyspark'] = None\nfrom assetflow.cli.app import main\n"
            "main(['--project', sys.argv[1], 'materialize', '--target', 'spark'])")
    proc = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'assetflow[spark]'" in proc.stderr and "target 'spark'" in proc.stderr
    assert "Traceback" not in proc.stderr
