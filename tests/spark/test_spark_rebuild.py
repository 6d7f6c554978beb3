"""A column type change rebuilds a partitioned table on Spark whole, or not at all (as on DuckDB,
docs/reliability.md section 2): while one partition of the rebuild fails, the old table, its rows,
its column types and its state are untouched; a partial run with changed columns fails with the
diff; the fixed rebuild swaps every partition in at once."""
from __future__ import annotations


from tests.conftest import write_project
from tests.spark.conftest import SPARK_TOML, cli, spark_state

HEADER = """/* assetflow
kind = "partitioned"
partition_by = "day"
time_column = "d"
start = "2024-01-01"
end = "2024-01-04"
*/
"""
DAYS = "from (select cast($start as date) as d)\n"
V1 = HEADER + "select d, cast(day(d) as bigint) as n\n" + DAYS
# n becomes a VARCHAR; while {fail} holds, 2024-01-02 raises (a cast that does not convert)
V2 = HEADER + ("select d, cast(day(d) as varchar) || '!' as n, "
               "cast(case when {fail} and day(d) = 2 then 'x' else '1' end as integer) as one\n") + DAYS
FILES = {"assets/main/daily.sql": V1, "assets/main/total.sql": "select count(*) as days from main.daily\n"}


def _snapshot(project):
    return {
        "columns": spark_state(project, "SELECT columns FROM _assetflow.spark_tables WHERE asset = 'main.daily'"),
        "parts": spark_state(project, "SELECT partition, location, rows FROM _assetflow.spark_parts "
                                 "WHERE asset = 'main.daily' ORDER BY 1"),
        "records": spark_state(project, "SELECT partition, status, code_version, data_version, rows "
                                   "FROM _assetflow.partitions WHERE asset = 'main.daily' ORDER BY 1"),
    }


def _rows(spark):
    frame = spark.sql("SELECT d, n FROM main.daily")
    return [f.dataType.simpleString() for f in frame.schema.fields], sorted(tuple(r) for r in frame.collect())


def test_a_failed_partition_keeps_the_old_table_then_the_fixed_rebuild_swaps_in(tmp_path, spark):
    project = write_project(tmp_path / "p", FILES, SPARK_TOML)
    code, out, err = cli(project, "materialize", "--target", "spark")
    assert code == 0, out + err
    before, old_rows = _snapshot(project), _rows(spark)
    assert old_rows[0] == ["date", "bigint"] and [n for _, n in old_rows[1]] == [1, 2, 3, 4]

    daily = project / "assets" / "main" / "daily.sql"
    daily.write_text(V2.format(fail="true"))
    code, out, err = cli(project, "materialize", "--target", "spark")
    assert code == 1 and "not swapped in" in out + err, out + err
    failed_day = [(p, "failed" if p == "2024-01-02" else s, *rest) for p, s, *rest in before["records"]]
    assert _snapshot(project) == {**before, "records": failed_day}   # as they were; only the day's status
    assert _rows(spark) == old_rows                       # the session's catalog: the old table
    attempts = spark_state(project, "SELECT partition, status FROM _assetflow.attempts WHERE asset = 'main.daily' "
                               "AND run_id = (SELECT max(run_id) FROM _assetflow.attempts "
                               "WHERE asset = 'main.daily' AND status = 'failed') ORDER BY 1")
    assert sorted(s for _, s in attempts) == ["discarded"] * 3 + ["failed"], attempts

    code, out, err = cli(project, "materialize", "main.daily", "--partition", "2024-01-01", "--target", "spark")
    assert code == 1 and "changed" in out + err and "+n string" in out + err, out + err   # a partial run
    assert _snapshot(project)["parts"] == before["parts"]

    daily.write_text(V2.format(fail="false"))
    code, out, err = cli(project, "materialize", "--target", "spark")
    assert code == 0, out + err
    after = _snapshot(project)
    assert '"string"' in after["columns"][0][0] and len(after["parts"]) == 4
    assert not {loc for _, loc, _ in after["parts"]} & {loc for _, loc, _ in before["parts"]}
    assert _rows(spark) == (["date", "string"], [(d, f"{d.day}!") for d, _ in old_rows[1]])
    assert [r[1] for r in after["records"]] == ["success"] * 4
    assert spark_state(project, "SELECT count(*) FROM _assetflow.meta WHERE key LIKE 'rebuild:%'") == [(0,)]
