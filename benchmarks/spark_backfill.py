"""The 90-day backfill on Spark local[2]: assetflow against raw PySpark doing the same work, in one
process and one JVM (start-up excluded from every figure).

    python benchmarks/spark_backfill.py [--rows-per-day 20000] [--days 90] [--per-day] [--standalone]

Raw per-day loop: one static `INSERT OVERWRITE ... PARTITION (day = ...)` per day (what a hand
script does; SPARK-FACTS: a kill loses the partition). Raw single statement: one dynamic
`INSERT OVERWRITE` for all days. assetflow: `backfill` of the same query, `batch_size = days`
(one Spark job, then verify, record, swap per partition); `--per-day` adds a batch_size = 1 run.
Each target is 1.25x the per-day loop. Prints a markdown table.

`--standalone` runs the same on a standalone cluster on 127.0.0.1 instead of local[2]: a master
and one worker with 2 cores started from the pyspark package (tests/spark/cluster.py, stopped by
pid at the end), the driver in this process and the tasks in the worker's executor JVM.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUERY = ("SELECT user_id, date_trunc('HOUR', ts) AS hour, count(*) AS n, sum(amount) AS s, day FROM events_raw "
         "WHERE day >= DATE'{start}' AND day < DATE'{end}' GROUP BY user_id, date_trunc('HOUR', ts), day")


def make_events(folder: Path, days: int, per_day: int) -> None:
    import duckdb
    folder.mkdir(parents=True)
    duckdb.sql(f"""COPY (SELECT (i % 5000)::BIGINT AS user_id,
                   TIMESTAMP '2024-01-01' + to_seconds((i // {per_day}) * 86400 + (i % 86400)) AS ts,
                   ((i * 7) % 10000 / 100.0)::DECIMAL(10, 2) AS amount,
                   (DATE '2024-01-01' + (i // {per_day})::INTEGER) AS day
                   FROM range({days * per_day}) r(i))
                   TO '{folder}/events.parquet' (FORMAT parquet)""")


def session(tmp: Path, master: str = "local[2]"):
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = tmp / "conf"
    conf.mkdir()
    from assetflow.engines.spark_session import _QUIET_LOG4J
    (conf / "log4j2.properties").write_text(_QUIET_LOG4J.format(level="warn"))
    os.environ["SPARK_CONF_DIR"] = str(conf)
    from pyspark.sql import SparkSession
    return (SparkSession.builder.master(master).appName("bench").config("spark.ui.enabled", "false")
            .config("spark.executor.memory", "1g").config("spark.cores.max", "2")
            .config("spark.ui.showConsoleProgress", "false").config("spark.driver.memory", "1g")
            .config("spark.sql.shuffle.partitions", "2").config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.warehouse.dir", str(tmp / "spark-wh")).getOrCreate())


def raw_loop(spark, tmp: Path, days: int) -> float:
    spark.sql(f"CREATE TABLE raw_loop (user_id BIGINT, hour TIMESTAMP_NTZ, n BIGINT, s DECIMAL(20, 2), day DATE) "
              f"USING parquet PARTITIONED BY (day) LOCATION '{tmp}/raw_loop'")
    started = time.perf_counter()
    for d in range(days):
        day = date(2024, 1, 1) + timedelta(days=d)
        q = QUERY.format(start=day, end=day + timedelta(days=1)).replace(", day FROM", " FROM").replace(", day", "")
        spark.sql(f"INSERT OVERWRITE TABLE raw_loop PARTITION (day = DATE'{day}') {q}")
    return time.perf_counter() - started


def raw_single(spark, tmp: Path, days: int) -> float:
    spark.sql(f"CREATE TABLE raw_one (user_id BIGINT, hour TIMESTAMP_NTZ, n BIGINT, s DECIMAL(20, 2), day DATE) "
              f"USING parquet PARTITIONED BY (day) LOCATION '{tmp}/raw_one'")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    started = time.perf_counter()
    end = date(2024, 1, 1) + timedelta(days=days)
    spark.sql(f"INSERT OVERWRITE TABLE raw_one PARTITION (day) {QUERY.format(start='2024-01-01', end=end)}")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
    return time.perf_counter() - started


def assetflow_backfill(tmp: Path, data: Path, days: int, batch: int, name: str,
                       master: str = "local[2]") -> tuple[float, int]:
    from assetflow import api
    project = tmp / name
    (project / "assets").mkdir(parents=True)
    last = date(2024, 1, 1) + timedelta(days=days - 1)
    (project / "assetflow.toml").write_text(textwrap.dedent(f"""
        [project]
        name = "bench"
        [targets.spark]
        engine = "spark"
        master = "{master}"
        warehouse = "wh"
        threads = 2
        [sources]
        "raw.events" = {{ path = "{data}/*.parquet" }}
        """))
    (project / "assets" / "hourly.sql").write_text(textwrap.dedent(f"""
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "2024-01-01"
        end = "{last}"
        batch_size = {batch}
        */
        select user_id, date_trunc('hour', ts) as hour, count(*) as n, sum(amount) as s, day
        from raw.events where day >= $start and day < $end group by all
        """))
    loaded = api.load_project(project)
    started = time.perf_counter()
    outcome = api.backfill(loaded, "main.hourly", "2024-01-01", str(last), target="spark")
    elapsed = time.perf_counter() - started
    assert outcome.status == "success", outcome
    return elapsed, sum(r.rows or 0 for r in outcome.results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-day", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", action="store_true", help="also assetflow with batch_size = 1")
    parser.add_argument("--standalone", action="store_true",
                        help="a standalone master + 1 worker (2 cores) on 127.0.0.1 instead of local[2]")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="af-spark-bench-"))
    make_events(tmp / "events", args.days, args.rows_per_day)
    cluster = None
    if args.standalone:
        from tests.spark import cluster as standalone
        cluster = standalone.start(tmp / "cluster", cores=2)
    try:
        run(args, tmp, cluster.url if cluster else "local[2]")
    finally:
        if cluster is not None:
            from pyspark.sql import SparkSession
            active = SparkSession.getActiveSession()
            if active is not None:
                active.stop()
            standalone.stop(cluster)


def run(args, tmp: Path, master: str) -> None:
    spark = session(tmp, master)
    spark.read.parquet(str(tmp / "events")).createOrReplaceTempView("events_raw")
    spark.sql("SELECT count(*) FROM events_raw").collect()                  # warm-up
    rows = {}
    rows["raw per-day INSERT OVERWRITE loop"] = raw_loop(spark, tmp, args.days)
    rows["raw single INSERT OVERWRITE (dynamic)"] = raw_single(spark, tmp, args.days)
    rows[f"assetflow backfill, batch_size = {args.days} (one job)"], written = \
        assetflow_backfill(tmp, tmp / "events", args.days, args.days, "af_batch", master)
    if args.per_day:
        rows["assetflow backfill, batch_size = 1 (one job per day)"], _ = \
            assetflow_backfill(tmp, tmp / "events", args.days, 1, "af_daily", master)
    raw_rows = spark.sql("SELECT count(*) FROM raw_one").collect()[0][0]
    assert raw_rows == written, (raw_rows, written)
    loop = rows["raw per-day INSERT OVERWRITE loop"]
    single = rows["raw single INSERT OVERWRITE (dynamic)"]
    where = "standalone (1 worker, 2 cores)" if master.startswith("spark://") else master
    print(f"{args.days} days x {args.rows_per_day} rows/day, {written} output rows, {where}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| run | seconds | / per-day loop | / single statement |\n|---|---:|---:|---:|")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.1f} | {seconds / loop:.2f} | {seconds / single:.2f} |")


if __name__ == "__main__":
    main()
