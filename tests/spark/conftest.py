"""Real Spark for tests/spark: ONE local[2] SparkSession per pytest process (one SparkContext per
JVM), shared by every test; the engine reuses it (engines/spark_session.start_session). CLI tests
run the command in this process (click's runner) so they share the JVM too.

All tests here are marked `spark` (select with -m spark, skip with -m "not spark") and grouped
on one xdist worker, so a parallel run still starts one JVM.

The standalone pass (`make test` runs it second): `SPARK_TEST_MASTER=standalone pytest -p no:xdist
-m cluster tests/spark` runs the tests marked `cluster` against a master and a worker started from
the pyspark package (tests/spark/cluster.py) on 127.0.0.1; the session's executor is a JVM of
that worker. Projects take their master from `spark_master` (the cluster's URL in that pass).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("java is not on PATH", allow_module_level=True)

from assetflow.engines.spark_session import _QUIET_LOG4J  # noqa: E402


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/spark/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def spark_tmp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spark")
    (tmp / "conf").mkdir()
    (tmp / "conf" / "log4j2.properties").write_text(_QUIET_LOG4J.format(level="warn"))
    os.environ["SPARK_CONF_DIR"] = str(tmp / "conf")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return tmp


@pytest.fixture(scope="session")
def spark_cluster(spark_tmp):
    if os.environ.get("SPARK_TEST_MASTER") != "standalone":
        yield None
        return
    from tests.spark import cluster
    c = cluster.start(spark_tmp / "cluster")
    try:
        yield c
    finally:
        cluster.stop(c)


@pytest.fixture(scope="session")
def spark_master(spark_cluster) -> str:
    return spark_cluster.url if spark_cluster else "local[2]"


@pytest.fixture(scope="session")
def spark(spark_tmp, spark_cluster):
    from pyspark.sql import SparkSession
    master = spark_cluster.url if spark_cluster else "local[2]"
    builder = (SparkSession.builder.master(master).appName("assetflow-tests")
               .config("spark.driver.memory", "1g").config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2").config("spark.default.parallelism", "2")
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.sql.warehouse.dir", str(spark_tmp / "warehouse"))
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.extraJavaOptions",
                       f"-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dderby.system.home={spark_tmp}"))
    if spark_cluster:
        builder = builder.config("spark.executor.memory", "1g").config("spark.cores.max", "1")
    session = builder.getOrCreate()
    yield session
    session.stop()


SPARK_TOML = """
[project]
name = "t"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[targets.spark]
engine = "spark"
master = "local[2]"
warehouse = "spark-warehouse"
threads = 2
"""


def cli(project: Path, *args: str):
    """Run the CLI in this process (sharing the test JVM); returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from assetflow.cli.app import main
    result = CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def spark_toml(master: str = "local[2]") -> str:
    """SPARK_TOML with the Spark target on `master` (the cluster's URL in the standalone pass)."""
    return SPARK_TOML.replace('master = "local[2]"', f'master = "{master}"')


@pytest.fixture
def af_spark(spark):
    """af_spark(project, *args) -> (code, stdout, stderr), in process, on the shared session."""
    return cli


def spark_state(project: Path, sql: str) -> list[tuple]:
    """Rows of `sql` over a Spark target's state store (a DuckDB file), read-only."""
    con = duckdb.connect(str(project / ".assetflow" / "spark.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
