"""The same project on DuckDB and on Spark gives the same rows: the template project (a week of its
partitions), a backfill, a failing partition; and a write killed with SIGKILL loses and doubles
nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

from assetflow import api
from tests.conftest import write_project
import pytest

from tests.spark.conftest import SPARK_TOML, cli, spark_toml

ROOT = Path(__file__).resolve().parents[2]
SPARK_TARGET = '\n[targets.spark]\nengine = "spark"\nmaster = "local[2]"\nwarehouse = "spark-warehouse"\nthreads = 2\n'


def _normal(rows):
    def value(v):
        return round(float(v), 6) if isinstance(v, (float, Decimal)) else v
    return sorted((tuple(value(v) for v in r) for r in rows), key=repr)


def assert_same_rows(project: Path) -> None:
    from assetflow.errors import UsageError
    loaded = api.load_project(project)
    compared = 0
    for name in sorted(api.graph_of(loaded).assets):
        try:
            duck = api.show(loaded, name, None, 1_000_000, "dev")
        except UsageError:             # not built on DuckDB (blocked): not on Spark either
            try:
                api.show(loaded, name, None, 1_000_000, "spark")
            except UsageError:
                continue
            raise AssertionError(f"{name} is built on Spark only")
        spark = api.show(loaded, name, None, 1_000_000, "spark")
        compared += 1
        assert [c for c, _ in duck.columns] == [c for c, _ in spark.columns], name
        assert _normal(spark.rows) == _normal(duck.rows), name
    assert compared


def test_the_template_project_gives_the_same_rows_on_duckdb_and_spark(tmp_path, spark):
    from assetflow.project.scaffold import create_project
    project = create_project(tmp_path / "shop")
    with open(project / "assetflow.toml", "a") as toml:
        toml.write(SPARK_TARGET)
    codes = []
    for target in ("dev", "spark"):   # the unpartitioned marts wait for every day: blocked on both
        code, out, err = cli(project, "materialize", "--from", "2024-01-01", "--to", "2024-01-04", "--target", target)
        codes.append(code)
        assert "Traceback" not in out + err
    assert codes == [1, 1]
    assert_same_rows(project)


FILES = {
    "assets/main/events.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "d"
        start = "2024-01-01"
        end = "2024-01-04"
        batch_size = 4
        */
        select cast(t as date) as d, cast(day(t) * 1.5 as integer) as n, dayname(t) as name
        from (select unnest(generate_series(cast($start as timestamp), cast($end as timestamp) - interval 1 day,
                                            interval 1 day)) as t)
        """,
    "assets/main/ratio.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "d"
        start = "2024-01-01"
        end = "2024-01-04"
        */
        select d, cast(case when day(d) = 3 then 'x' else '1' end as integer) as one, n
        from main.events where d >= $start and d < $end
        """,
    "assets/main/total.py": """
        import pyarrow as pa
        from assetflow import asset

        @asset
        def total(events: pa.Table) -> pa.Table:
            return pa.table({"n": [sum(events["n"].to_pylist())], "rows": [events.num_rows]})
        """,
}


@pytest.mark.cluster
def test_backfill_and_a_failing_partition_give_the_same_rows_and_states(tmp_path, spark, spark_master):
    project = write_project(tmp_path / "p", FILES, spark_toml(spark_master))
    outcomes = {}
    for target in ("dev", "spark"):
        code, out, err = cli(project, "materialize", "--target", target)
        assert code == 1, out + err                 # ratio fails for 2024-01-03 (a cast that does not convert)
        code, out, err = cli(project, "backfill", "main.events", "--from", "2024-01-02", "--to", "2024-01-03",
                             "--target", target)
        outcomes[target] = api.status(api.load_project(project), target_name=target).plan
    failed = {t: sorted((n, i) for n, a in p.assets.items() for i in a.failed) for t, p in outcomes.items()} \
        if hasattr(next(iter(outcomes.values())).assets["main.ratio"], "failed") else None
    if failed is not None:
        assert failed["dev"] == failed["spark"]
    assert_same_rows(project)


def test_a_write_killed_before_its_state_commit_loses_and_doubles_nothing(tmp_path, spark):
    project = write_project(tmp_path / "p", {k: v for k, v in FILES.items() if "ratio" not in k}, SPARK_TOML)
    env = dict(os.environ, ASSETFLOW_FAULT="before_commit:2", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "assetflow", "--project", str(project), "materialize",
                           "--target", "spark"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == -9, proc.stderr          # SIGKILL after the second verified write
    state = project / ".assetflow" / "spark.duckdb"
    con = duckdb.connect(str(state), read_only=True)
    written = con.execute("SELECT count(*) FROM _assetflow.spark_tables").fetchone()[0]
    con.close()
    assert written == 1                                # the killed write is not recorded ...
    versions = list((project / "spark-warehouse").glob("main/*/_v/*"))
    assert len(versions) == 2                          # ... its directory is garbage
    code, out, err = cli(project, "materialize", "--target", "spark")
    assert code == 0, out + err
    assert cli(project, "materialize", "--target", "dev")[0] == 0
    assert_same_rows(project)
    code, out, err = cli(project, "clean", "--target", "spark", "--yes")
    assert code == 0, out + err
    from assetflow.engines.spark_clean import garbage
    from assetflow.engines import open_engine
    target = api.load_project(project).config.target("spark")
    with open_engine(target, read_only=True) as engine:
        assert garbage(engine) == [] and len(list((project / "spark-warehouse").glob("main/*/_v/*"))) == 2
    assert_same_rows(project)
