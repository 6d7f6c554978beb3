"""A full rebuild whose columns change is built beside the table and swapped in whole (issue 12
item 1, SPEC sections 5 and 8): a partition that fails leaves the old table, its rows, its types and
its state as they were, and nobody reads a half-built table.
"""
from __future__ import annotations

import textwrap

import duckdb

from conftest import query

TOML = """
[project]
name = "rebuild"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[sources]
"raw.events" = { path = "data/events.csv" }
"""

DAYS = [f"2024-01-0{d}" for d in range(1, 6)]
HEADER = """\
/* assetflow
kind = "partitioned"
partition_by = "day"
time_column = "day"
start = "2024-01-01"
end = "2024-01-05"
checks = ["not_null(amount)"]
*/
"""
DAILY_V1 = HEADER + """\
select day, sum(amount) as amount, count(*) as n
from raw.events
where day >= $start and day < $end
group by all
"""
# amount becomes a DOUBLE (a schema change); 2024-01-03 fails while `fail` is in the WHERE clause
DAILY_V2 = HEADER + """\
select day, sum(amount)::double / {divisor} as amount, count(*) as n
from raw.events
where day >= $start and day < $end
group by all
having {fail}
"""
FAIL_ON_JAN_3 = "case when day = date '2024-01-03' then error('no exchange rate for ' || day) else true end"


def events_csv() -> str:
    lines = ["id,day,amount"] + [f"{d * 100 + i},{day},{d * 10 + i}" for d, day in enumerate(DAYS) for i in range(3)]
    return "\n".join(lines) + "\n"


def make(project):
    return project({
        "data/events.csv": events_csv(),
        "assets/staging/daily.sql": DAILY_V1,
        "assets/marts/total.sql": "select sum(amount) as amount, sum(n) as n from staging.daily\n",
        "assets/lookup.sql": "select 1 as code\n",
    }, TOML)


def write_daily(p, fail: str, divisor: int = 1) -> None:
    (p / "assets/staging/daily.sql").write_text(DAILY_V2.format(fail=fail, divisor=divisor))


def mat(af, p, *args, expect=0) -> dict:
    r = af(p, "materialize", *args, "--json")
    assert r.exit_code == expect, r.output
    assert "Traceback" not in r.output, r.output
    return r.json()


def table_state(p) -> dict:
    """What a reader of staging.daily sees: rows, column types, partition records, relations."""
    return {
        "rows": query(p, "select day, amount, n from staging.daily order by day"),
        "types": query(p, "select column_name, data_type from duckdb_columns() "
                          "where schema_name = 'staging' and table_name = 'daily' order by column_index"),
        "records": query(p, "select partition, code_version, data_version, rows, built_at "
                            "from _assetflow.partitions where asset = 'staging.daily' order by partition"),
        "tables": query(p, "select schema_name, table_name from duckdb_tables() "
                           "where schema_name <> '_assetflow' order by all"),
    }


def test_a_failed_partition_keeps_the_old_table_then_the_fixed_rebuild_swaps_in(af, project):
    p = make(project)
    assert mat(af, p)["status"] == "success"
    before = table_state(p)
    assert [t for _, t in before["types"]] == ["DATE", "HUGEINT", "BIGINT"]
    assert len(before["rows"]) == 5

    write_daily(p, FAIL_ON_JAN_3)
    (p / "assets/lookup.sql").write_text("select 'one' as code\n")     # an unrelated table changes type too
    res = mat(af, p, expect=1)
    by_key = {(r["asset"], r["partition"]): r for r in res["results"]}
    failed = by_key[("staging.daily", "2024-01-03")]
    assert failed["status"] == "failed"
    assert "no exchange rate for 2024-01-03" in failed["error"] and "not swapped in" in failed["error"]
    for day in set(DAYS) - {"2024-01-03"}:
        r = by_key[("staging.daily", day)]
        assert r["status"] == "skipped" and "not swapped in" in r["error"] and "2024-01-03 failed" in r["error"], r
    assert by_key[("marts.total", None)]["status"] == "skipped"
    assert by_key[("main.lookup", None)]["status"] == "success"       # unrelated, unpartitioned: rebuilt as ever
    assert query(p, "select code from main.lookup") == [("one",)]

    # the old table, its rows, its types and its partition records are untouched; no staging table left
    after = table_state(p)
    assert after == {**before, "tables": after["tables"]}
    assert after["tables"] == before["tables"]
    assert query(p, "select partition, status from _assetflow.partitions where asset = 'staging.daily' "
                    "and status <> 'success'") == [("2024-01-03", "failed")]
    st = af(p, "status", "--verify", "--json")
    assert st.exit_code == 0, st.output
    daily = next(a for a in st.json()["assets"] if a["name"] == "staging.daily")
    assert [f["partition"] for f in daily["failed"]] == ["2024-01-03"]
    assert {s["partition"]: s["reasons"] for s in daily["stale"]} == {d: ["code changed"] for d in DAYS
                                                                       if d != "2024-01-03"}
    shown = af(p, "runs", "show", res["run_id"], "--json").json()
    assert sorted(a["status"] for a in shown["attempts"] if a["asset"] == "staging.daily") == \
        ["discarded"] * 4 + ["failed"]

    write_daily(p, "true", divisor=2)
    res = mat(af, p)
    assert {(r["asset"], r["partition"], r["status"]) for r in res["results"]} == \
        {("staging.daily", d, "success") for d in DAYS} | {("marts.total", None, "success")}
    now = table_state(p)
    assert [t for _, t in now["types"]] == ["DATE", "DOUBLE", "BIGINT"]
    assert now["rows"] == [(day, amount / 2, n) for day, amount, n in before["rows"]]
    assert now["tables"] == before["tables"]
    assert query(p, "select amount, n from marts.total") == [(sum(r[1] for r in before["rows"]) / 2, 15)]
    st = af(p, "status", "--verify", "--json")
    assert st.exit_code == 0 and all(a["partitions"]["fresh"] == a["partitions"]["total"]
                                     for a in st.json()["assets"]), st.output


def test_a_rebuild_that_only_partly_runs_is_dropped(af, project):
    """`--from/--to` over part of the range cannot change the columns (the diff is reported, as
    before); a full rebuild with every partition failing leaves no staging table behind."""
    p = make(project)
    mat(af, p)
    before = table_state(p)
    write_daily(p, "error('down')")
    res = mat(af, p, "staging.daily", "--from", "2024-01-02", "--to", "2024-01-03", expect=1)
    assert all("changed" in r["error"] and "+amount DOUBLE" in r["error"] for r in res["results"]), res
    res = mat(af, p, expect=1)
    assert {r["status"] for r in res["results"] if r["asset"] == "staging.daily"} == {"failed"}
    assert table_state(p) == before


def test_readers_see_the_old_table_until_the_swap(project, monkeypatch):
    """In one process (another process cannot open the file while the run writes it), a reader
    connected to the same database looks at the table each time a partition finishes: it sees
    exactly the old table (types and rows) until the rebuild's last partition, then the new one."""
    from assetflow.api import MaterializeOptions, RunEvents, materialize
    from assetflow.project.loader import load_project

    p = make(project)
    monkeypatch.chdir(p)
    outcome = materialize(load_project(p), MaterializeOptions(threads=2))
    assert outcome.status == "success"
    old = table_state(p)
    write_daily(p, "true", divisor=2)

    seen: list[tuple] = []
    reader: list = []

    def look(result) -> None:
        if not reader:
            reader.append(duckdb.connect(str(p / "warehouse.duckdb")))      # the run's own database instance
        con = reader[0]
        types = con.execute("select data_type from duckdb_columns() where schema_name = 'staging' "
                            "and table_name = 'daily' order by column_index").fetchall()
        rows = con.execute("select day, amount, n from staging.daily order by day").fetchall()
        seen.append((result.asset, result.partition, tuple(t for (t,) in types), rows))

    try:
        outcome = materialize(load_project(p), MaterializeOptions(threads=2), RunEvents(on_done=look))
    finally:
        for con in reader:
            con.close()
    assert outcome.status == "success"
    daily = [s for s in seen if s[0] == "staging.daily"]
    assert len(daily) == 5
    for _, _, types, rows in daily:          # each partition is reported as it finishes, before the swap
        assert types == ("DATE", "HUGEINT", "BIGINT") and rows == old["rows"]
    # marts.total runs once the rebuild is swapped in
    [(_, _, types, rows)] = [s for s in seen if s[0] == "marts.total"]
    assert types == ("DATE", "DOUBLE", "BIGINT")
    assert rows == [(day, amount / 2, n) for day, amount, n in old["rows"]]


def test_a_python_asset_rebuild_is_swapped_in_whole(af, project):
    """The same for a Python asset's partitions: a failing one keeps the old table."""
    body = textwrap.dedent('''
        import os
        import pyarrow as pa
        from assetflow import asset

        @asset(partition_by="day", start="2024-01-01", end="2024-01-03", time_column="day")
        def scores(context):
            kind = os.environ.get("SCORE_KIND", "int")
            if kind == "broken" and str(context.partition) == "2024-01-02":
                raise RuntimeError("scoring service down")
            value = 1 if kind == "int" else 1.5
            return pa.table({"day": [context.start], "score": [value]})
        ''')
    p = project({"assets/scores.py": body}, TOML.replace('"raw.events" = { path = "data/events.csv" }', ""))
    mat(af, p)
    before = query(p, "select day, score, typeof(score) from main.scores order by day")
    assert {t for _, _, t in before} == {"BIGINT"}
    (p / "assets/scores.py").write_text(body.replace('"int")', '"float")'))
    r = af(p, "materialize", "--json", env={"SCORE_KIND": "broken"})
    assert r.exit_code == 1, r.output
    assert {x["partition"]: x["status"] for x in r.json()["results"]} == \
        {"2024-01-01": "skipped", "2024-01-02": "failed", "2024-01-03": "skipped"}
    assert query(p, "select day, score, typeof(score) from main.scores order by day") == before
    mat(af, p)
    assert query(p, "select distinct score, typeof(score) from main.scores") == [(1.5, "DOUBLE")]
