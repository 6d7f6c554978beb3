"""Partition writes, per-partition staleness, blocked partitions, backfills and batch_size, through
the CLI on real DuckDB files (issue 3; SPEC sections 5, 6, 7).
"""
from __future__ import annotations

import math
import textwrap
from datetime import date

import duckdb
import pytest

from conftest import query
from partition_helpers import (TOML, assert_all_fresh, backfill, blocked_pairs, by_partition,
                               columns, day_header, days, duplicates, events_csv, header, keyed, mat, pairs,
                               source, status, user_checksum)

STAGE_SQL = """\
select id, ts, day, region, amount
from raw.events
where day >= $start and day < $end
"""

DAILY_SQL = """\
select day, count(*) as n, sum(amount) as amount
from staging.events_day
where day >= $start and day < $end
group by all
"""


def chain(end: str = "2024-03-30", extra: dict | None = None, stage_settings: dict | None = None) -> dict:
    """raw.events -> staging.events_day (day) -> marts.daily (day, identity)."""
    files = {
        "data/events.csv": events_csv(),
        "assets/staging/events_day.sql": day_header(end=end, **(stage_settings or {})) + STAGE_SQL,
        "assets/marts/daily.sql": day_header(end=end) + DAILY_SQL,
    }
    files.update(extra or {})
    return files


MONTHLY = {"assets/marts/monthly.sql": header(partition_by="month", time_column="month", start="2024-01",
                                              end="2024-03") + textwrap.dedent("""\
    select cast(date_trunc('month', day) as date) as month, count(*) as n, sum(amount) as amount
    from staging.events_day
    where day >= $start and day < $end
    group by all
    """)}

TOTAL = {"assets/marts/total.sql": "select sum(n) as n, sum(amount) as amount from marts.daily\n"}


def check_chain(p, last: str = "2024-03-30"):
    """Every built row equals the source; no key twice."""
    assert duplicates(p, "staging.events_day", "id") == []
    assert duplicates(p, "marts.daily", "day") == []
    assert query(p, "select id, ts, day, region, amount from staging.events_day order by id") == \
        source(p, f"select id, ts, day, region, amount from events where day <= date '{last}' order by id")
    assert query(p, "select day, n, amount from marts.daily order by day") == \
        source(p, f"select day, count(*), sum(amount) from events where day <= date '{last}' group by day order by day")


# ------------------------------------------------------------------------------------ writes

def test_repeated_and_overlapping_ranges_leave_no_duplicate_keys(af, project):
    p = project(chain(end="2024-01-31"), TOML)

    # the downstream alone, on an empty database: its upstream was never built and is not selected
    res = mat(af, p, "marts.daily", "--from", "2024-01-01", "--to", "2024-01-02", expect=1)
    assert res["results"] == []
    assert {(b["asset"], b["partition"]): b["reasons"] for b in res["blocked"]} == {
        ("marts.daily", k): [f"upstream never built: staging.events_day [{k}]"] for k in ("2024-01-01", "2024-01-02")}
    assert query(p, "select count(*) from duckdb_tables() where schema_name in ('staging', 'marts')") == [(0,)]

    # the first build of a range creates the tables with exactly that range
    res = mat(af, p, "--from", "2024-01-05", "--to", "2024-01-14")
    r1 = days("2024-01-05", "2024-01-14")
    assert pairs(res) == keyed("staging.events_day", r1) | keyed("marts.daily", r1)
    assert query(p, "select min(day), max(day), count(*) from staging.events_day") == \
        [(date(2024, 1, 5), date(2024, 1, 14), 500)]

    st = status(af, p)
    assert by_partition(st["staging.events_day"]) == \
        {k: ["never materialized"] for k in days("2024-01-01", "2024-01-31") if k not in r1}

    # an overlapping range builds only what is not fresh yet
    res = mat(af, p, "--from", "2024-01-10", "--to", "2024-01-20")
    r2 = days("2024-01-15", "2024-01-20")
    assert pairs(res) == keyed("staging.events_day", r2) | keyed("marts.daily", r2)

    # --full-refresh over the whole range rebuilds everything selected, replacing rows in place
    everything = days("2024-01-01", "2024-01-31")
    planned = mat(af, p, "--from", "2024-01-01", "--to", "2024-01-31", "--full-refresh", "--dry-run")
    assert pairs(planned) == keyed("staging.events_day", everything) | keyed("marts.daily", everything)
    assert all("full refresh" in x["reasons"] for x in planned["results"]), planned["results"][:3]
    res = mat(af, p, "--from", "2024-01-01", "--to", "2024-01-31", "--full-refresh")
    assert pairs(res, "success") == pairs(planned)

    # one partition again, then a backfill around it
    res = mat(af, p, "staging.events_day", "--partition", "2024-01-12", "--full-refresh")
    assert pairs(res) == {("staging.events_day", "2024-01-12")}
    res = backfill(af, p, "staging.events_day", "--from", "2024-01-08", "--to", "2024-01-16")
    r3 = days("2024-01-08", "2024-01-16")
    assert pairs(res, "success") == keyed("staging.events_day", r3) | keyed("marts.daily", r3)

    check_chain(p, last="2024-01-31")
    assert_all_fresh(status(af, p))


def test_90_partitions_of_one_table_at_4_threads_never_fail(af, project):
    p = project(chain(), TOML)
    everything = keyed("staging.events_day", days("2024-01-01", "2024-03-30")) | \
        keyed("marts.daily", days("2024-01-01", "2024-03-30"))
    for args in ((), ("--full-refresh",)):        # first creates the tables, then replaces every partition
        res = mat(af, p, "--threads", "4", *args)
        assert res["status"] == "success"
        assert pairs(res) == everything
        bad = [x for x in res["results"] if (x["status"], x["attempts"], x["error"]) != ("success", 1, None)]
        assert bad == []
        check_chain(p)


def test_backfill_of_10_of_90_days_touches_those_and_their_downstream_only(af, project):
    extra = dict(MONTHLY, **TOTAL)
    extra["assets/staging/other_day.sql"] = day_header(end="2024-01-10") + STAGE_SQL   # not downstream
    extra["assets/marts/rolling.sql"] = day_header(lookback=3) + textwrap.dedent("""\
        select $start as day, sum(amount) as amount_4d
        from staging.events_day
        where day >= $start - interval 3 day and day < $end
        """)
    p = project(chain(extra=extra), TOML)
    assert mat(af, p)["status"] == "success"
    before = query(p, "select * from marts.daily order by day")

    ten = days("2024-02-10", "2024-02-19")
    want = keyed("staging.events_day", ten) | keyed("marts.daily", ten) | \
        keyed("marts.monthly", ["2024-02"]) | keyed("marts.total", [None]) | \
        keyed("marts.rolling", days("2024-02-10", "2024-02-22"))         # lookback = 3 reaches 3 days on
    planned = backfill(af, p, "staging.events_day", "--from", "2024-02-10", "--to", "2024-02-19", "--dry-run")
    assert pairs(planned) == want
    reasons = {(x["asset"], x["partition"]): x["reasons"] for x in planned["results"]}
    assert all("full refresh" in reasons[("staging.events_day", k)] for k in ten), reasons

    res = backfill(af, p, "staging.events_day", "--from", "2024-02-10", "--to", "2024-02-19")
    assert res["status"] == "success"
    assert pairs(res) == want
    assert pairs(res, "success") == want

    # the run's own record lists exactly those attempts
    shown = af(p, "runs", "show", res["run_id"], "--json")
    assert shown.exit_code == 0, shown.output
    assert {(a["asset"], a["partition"] or None) for a in shown.json()["attempts"]} == want

    assert query(p, "select * from marts.daily order by day") == before
    check_chain(p)
    assert_all_fresh(status(af, p))


# ------------------------------------------------------------------------------------ staleness

def test_changed_source_row_is_picked_up_after_its_partition_is_rebuilt(af, project):
    p = project(chain(extra=MONTHLY), TOML)
    assert mat(af, p)["status"] == "success"
    target_id, target_day = 40_007, "2024-02-10"        # day index 40
    other_id = 50_007                                    # on 2024-02-20
    old_other = query(p, f"select amount from staging.events_day where id = {other_id}")
    (p / "data/events.csv").write_text(events_csv(override={target_id: 999, other_id: 555}))

    # a file source's fingerprint covers the whole file: every partition that reads it is stale
    st = status(af, p)
    stage = st["staging.events_day"]
    assert stage["partitions"]["stale"] == 90
    assert all("source changed" in r for r in by_partition(stage).values())
    assert by_partition(st["marts.daily"]) == {k: ["upstream stale"] for k in days("2024-01-01", "2024-03-30")}
    assert set(by_partition(st["marts.monthly"])) == {"2024-01", "2024-02", "2024-03"}

    res = mat(af, p, "staging.events_day+", "--partition", target_day)
    assert pairs(res, "success") == {("staging.events_day", target_day), ("marts.daily", target_day),
                                     ("marts.monthly", "2024-02")}
    assert query(p, f"select amount from staging.events_day where id = {target_id}") == [(999,)]
    # exactly that partition's rows were replaced: another changed day still holds its old rows
    assert query(p, f"select amount from staging.events_day where id = {other_id}") == old_other != [(555,)]
    assert query(p, f"select n, amount from marts.daily where day = date '{target_day}'") == \
        source(p, f"select count(*), sum(amount) from events where day = date '{target_day}'")
    assert duplicates(p, "staging.events_day", "id") == []

    st = status(af, p)
    assert target_day not in by_partition(st["staging.events_day"])
    assert st["staging.events_day"]["partitions"]["stale"] == 89

    res = mat(af, p)
    others = [k for k in days("2024-01-01", "2024-03-30") if k != target_day]
    assert pairs(res, "success") == keyed("staging.events_day", others) | keyed("marts.daily", others) | \
        keyed("marts.monthly", ["2024-01", "2024-02", "2024-03"])
    check_chain(p)
    assert query(p, f"select amount from staging.events_day where id = {other_id}") == [(555,)]
    assert query(p, "select month, n, amount from marts.monthly order by month") == source(
        p, "select cast(date_trunc('month', day) as date), count(*), sum(amount) from events group by 1 order by 1")


TABLE_TOML = TOML.replace('"raw.events" = { path = "data/events.csv" }',
                          '"raw.t" = { table = "raw.t", freshness = "FRESHNESS" }')

TABLE_SQL = day_header(end="2024-01-05") + textwrap.dedent("""\
    select day, id, v
    from raw.t
    where day >= $start and day < $end
    """)


def make_table_source(p):
    con = duckdb.connect(str(p / "warehouse.duckdb"))
    try:
        con.execute("create schema raw")
        con.execute("create table raw.t as select date '2024-01-01' + cast(i % 5 as integer) as day, i as id, "
                    "i * 10 as v, timestamp '2024-06-01' as loaded_at from range(50) t(i)")
    finally:
        con.close()


def update_table_source(p, sql: str):
    con = duckdb.connect(str(p / "warehouse.duckdb"))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_table_source_freshness_query_marks_partitions_stale(af, project):
    toml = TABLE_TOML.replace("FRESHNESS", "select max(loaded_at), count(*) from raw.t")
    p = project({"assets/staging/t_day.sql": TABLE_SQL}, toml)
    make_table_source(p)
    assert len(pairs(mat(af, p), "success")) == 5
    assert_all_fresh(status(af, p))

    update_table_source(p, "update raw.t set v = -1, loaded_at = timestamp '2024-06-02' where id = 7")  # 2024-01-03
    st = status(af, p)
    assert by_partition(st["staging.t_day"]) == {k: ["source changed"] for k in days("2024-01-01", "2024-01-05")}

    res = mat(af, p, "--partition", "2024-01-03")
    assert pairs(res, "success") == {("staging.t_day", "2024-01-03")}
    assert query(p, "select v from staging.t_day where id = 7") == [(-1,)]
    assert query(p, "select count(*), count(distinct id) from staging.t_day") == [(50, 50)]
    assert set(by_partition(status(af, p)["staging.t_day"])) == {"2024-01-01", "2024-01-02", "2024-01-04",
                                                                 "2024-01-05"}


def test_table_source_freshness_per_partition(af, project):
    toml = TABLE_TOML.replace("FRESHNESS", "select max(loaded_at), count(*), sum(v) from raw.t "
                                           "where day >= $start and day < $end")
    p = project({"assets/staging/t_day.sql": TABLE_SQL}, toml)
    make_table_source(p)
    assert len(pairs(mat(af, p), "success")) == 5
    update_table_source(p, "update raw.t set v = -1, loaded_at = timestamp '2024-06-02' where id = 7")  # 2024-01-03
    st = status(af, p)
    assert by_partition(st["staging.t_day"]) == {"2024-01-03": ["source changed"]}
    res = mat(af, p)
    assert pairs(res, "success") == {("staging.t_day", "2024-01-03")}
    assert query(p, "select v from staging.t_day where id = 7") == [(-1,)]


def test_rows_outside_the_partition_window_fail_it_and_write_nothing(af, project):
    off_by_one = day_header(end="2024-01-03") + textwrap.dedent("""\
        select id, day, amount
        from raw.events
        where day >= $start and day <= $end
        """)
    p = project({"data/events.csv": events_csv(days=4), "assets/staging/events_day.sql": off_by_one}, TOML)
    res = mat(af, p, expect=1)
    assert pairs(res, "failed") == keyed("staging.events_day", days("2024-01-01", "2024-01-03"))
    assert all("outside the partition" in x["error"] for x in res["results"]), res["results"]
    assert query(p, "select count(*) from duckdb_tables() where schema_name = 'staging'") == [(0,)]
    st = status(af, p)["staging.events_day"]
    assert st["partitions"]["failed"] == 3


def test_missing_time_column_is_a_clear_error(af, project):
    sql = day_header(end="2024-01-03") + textwrap.dedent("""\
        select id, amount
        from raw.events
        where day >= $start and day < $end
        """)
    p = project({"data/events.csv": events_csv(days=3), "assets/staging/events_day.sql": sql}, TOML)
    r = af(p, "materialize", "--json")
    assert r.exit_code in (1, 2), r.output
    assert "Traceback" not in r.output
    assert "time_column" in r.output and "__af_stage" not in r.output, r.output
    assert query(p, "select count(*) from duckdb_tables() where schema_name = 'staging'") == [(0,)]


# ------------------------------------------------------------------------------------ schema change

def add_column(p, rel: str = "assets/staging/events_day.sql"):
    path = p / rel
    text = path.read_text()
    assert "select id, ts, day, region, amount\n" in text
    path.write_text(text.replace("select id, ts, day, region, amount\n",
                                 "select id, ts, day, region, amount, amount * 2 as amount2\n"))


def test_schema_change_on_a_partial_run_fails_with_the_column_diff(af, project):
    p = project(chain(end="2024-01-10"), TOML)
    assert mat(af, p)["status"] == "success"
    add_column(p)

    st = status(af, p)
    ten = days("2024-01-01", "2024-01-10")
    assert by_partition(st["staging.events_day"]) == {k: ["code changed"] for k in ten}
    assert by_partition(st["marts.daily"]) == {k: ["upstream stale"] for k in ten}

    before = user_checksum(p)
    res = mat(af, p, "staging.events_day", "--partition", "2024-01-05", expect=1)
    assert res["status"] == "failed"
    [only] = res["results"]
    assert (only["asset"], only["partition"], only["status"]) == ("staging.events_day", "2024-01-05", "failed")
    assert "amount2" in only["error"] and "column" in only["error"], only["error"]
    # never silently mixed: the table keeps its old columns and rows
    assert columns(p, "staging", "events_day") == ["id", "ts", "day", "region", "amount"]
    assert user_checksum(p) == before


@pytest.mark.parametrize("args", [(), ("--full-refresh",)], ids=["stale-run", "full-refresh"])
def test_schema_change_rebuilds_every_partition_with_the_new_column(af, project, args):
    p = project(chain(end="2024-01-10"), TOML)
    assert mat(af, p)["status"] == "success"
    add_column(p)
    ten = days("2024-01-01", "2024-01-10")
    res = mat(af, p, *args)
    assert pairs(res, "success") == keyed("staging.events_day", ten) | keyed("marts.daily", ten)
    assert columns(p, "staging", "events_day") == ["id", "ts", "day", "region", "amount", "amount2"]
    assert query(p, "select count(*), count(amount2), count(*) filter (where amount2 = amount * 2) "
                    "from staging.events_day") == [(500, 500, 500)]
    check_chain(p, last="2024-01-10")
    assert_all_fresh(status(af, p))


def test_source_column_type_change_is_reported_not_mixed(af, project):
    """The code did not change but the source's column type did: a partial run reports the diff."""
    p = project(chain(end="2024-01-10"), TOML)
    assert mat(af, p)["status"] == "success"
    csv = events_csv().splitlines()
    csv[1] = csv[1].rsplit(",", 1)[0] + ",12.5"        # amount becomes DOUBLE
    (p / "data/events.csv").write_text("\n".join(csv) + "\n")
    assert source(p, "select typeof(amount) from events limit 1") == [("DOUBLE",)]

    before = user_checksum(p)
    res = mat(af, p, "staging.events_day", "--partition", "2024-01-05", expect=1)
    [only] = res["results"]
    assert only["status"] == "failed" and "amount" in only["error"], only
    assert user_checksum(p) == before

    res = mat(af, p)          # every partition is stale (source changed): the table is rebuilt whole
    assert res["status"] == "success"
    assert query(p, "select typeof(amount) from staging.events_day limit 1") == [("DOUBLE",)]
    check_chain(p, last="2024-01-10")


# ------------------------------------------------------------------------------------ blocked

UP_FAILING = day_header(end="2024-01-10") + textwrap.dedent("""\
    select id, day,
           cast(case when day = date '2024-01-05' then 'boom' else cast(amount as varchar) end as integer) as amount
    from raw.events
    where day >= $start and day < $end
    """)
UP_FIXED = day_header(end="2024-01-10") + textwrap.dedent("""\
    select id, day, amount
    from raw.events
    where day >= $start and day < $end
    """)


def blocked_project() -> dict:
    return {
        "data/events.csv": events_csv(days=15),
        "assets/staging/up.sql": UP_FAILING,
        "assets/marts/down.sql": day_header(end="2024-01-10") + textwrap.dedent("""\
            select day, count(*) as n, sum(amount) as amount
            from staging.up
            where day >= $start and day < $end
            group by all
            """),
        "assets/marts/wk.sql": header(partition_by="week", time_column="week_start", start="2024-W01",
                                      end="2024-W02") + textwrap.dedent("""\
            select cast(date_trunc('week', day) as date) as week_start, count(*) as n
            from staging.up
            where day >= $start and day < $end
            group by all
            """),
        "assets/marts/down_total.sql": "select sum(n) as n from marts.down\n",
        "assets/staging/side.sql": UP_FIXED,       # (it held two headers: the second was ignored)
    }


def test_failed_upstream_partition_blocks_only_its_mapped_downstream(af, project):
    p = project(blocked_project(), TOML)
    ten = days("2024-01-01", "2024-01-10")
    nine = [k for k in ten if k != "2024-01-05"]

    res = mat(af, p, expect=1)
    assert res["status"] == "failed"
    assert pairs(res, "failed") == {("staging.up", "2024-01-05")}
    [failed] = [x for x in res["results"] if x["status"] == "failed"]
    assert "boom" in failed["error"], failed
    assert pairs(res, "skipped") == {("marts.down", "2024-01-05"), ("marts.wk", "2024-W01"),
                                     ("marts.down_total", None)}
    assert pairs(res, "success") == keyed("staging.up", nine) | keyed("marts.down", nine) | \
        keyed("marts.wk", ["2024-W02"]) | keyed("staging.side", ten)
    assert query(p, "select count(*) from marts.down where day = date '2024-01-05'") == [(0,)]
    assert query(p, "select week_start from marts.wk") == [(date(2024, 1, 8),)]

    st = status(af, p)
    reason = "upstream failed: staging.up [2024-01-05]"
    failed_up = by_partition(st["staging.up"], "failed")
    assert list(failed_up) == ["2024-01-05"] and "previous attempt failed" in failed_up["2024-01-05"]
    assert st["staging.up"]["partitions"] == {"total": 10, "fresh": 9, "stale": 0, "blocked": 0, "failed": 1}
    assert by_partition(st["marts.down"], "blocked") == {"2024-01-05": [reason]}
    assert st["marts.down"]["partitions"] == {"total": 10, "fresh": 9, "stale": 0, "blocked": 1, "failed": 0}
    assert by_partition(st["marts.wk"], "blocked") == {"2024-W01": [reason]}
    assert by_partition(st["marts.wk"]) == {}
    [total_reason] = by_partition(st["marts.down_total"], "blocked")[None]
    assert total_reason.startswith("upstream") and "2024-01-05" in total_reason, total_reason
    assert st["staging.side"]["partitions"]["fresh"] == 10

    text = af(p, "status")
    assert text.exit_code == 0 and reason in text.stdout, text.output

    # the failed upstream is not selected: its reader is blocked, shown why, and nothing is touched
    before = user_checksum(p)
    res = mat(af, p, "marts.down", expect=1)
    assert res["results"] == []
    assert res["blocked"] == [{"asset": "marts.down", "partition": "2024-01-05", "reasons": [reason]}]
    assert user_checksum(p) == before

    (p / "assets/staging/up.sql").write_text(UP_FIXED)
    res = mat(af, p)
    assert pairs(res, "success") == keyed("staging.up", ten) | keyed("marts.down", ten) | \
        keyed("marts.wk", ["2024-W01", "2024-W02"]) | keyed("marts.down_total", [None])
    assert query(p, "select day, n, amount from marts.down order by day") == source(
        p, "select day, count(*), sum(amount) from events where day <= date '2024-01-10' group by 1 order by 1")
    assert_all_fresh(status(af, p))


def missing_source_project(source_line: str) -> tuple[dict, str]:
    toml = TOML.replace('"raw.events" = { path = "data/events.csv" }',
                        '"raw.events" = { path = "data/events.csv" }\n' + source_line)
    files = {
        "data/events.csv": events_csv(days=3),
        "assets/staging/ok.sql": day_header(end="2024-01-03") + STAGE_SQL,
        "assets/staging/needs_x.sql": day_header(end="2024-01-03") + textwrap.dedent("""\
            select day, v from raw.x where day >= $start and day < $end
            """),
        "assets/marts/after_x.sql": day_header(end="2024-01-03") + textwrap.dedent("""\
            select day, v from staging.needs_x where day >= $start and day < $end
            """),
    }
    return files, toml


def check_missing_source_blocks(af, p):
    three = days("2024-01-01", "2024-01-03")
    st = status(af, p)
    assert by_partition(st["staging.needs_x"], "blocked") == {k: ["source missing: raw.x"] for k in three}
    assert st["marts.after_x"]["partitions"]["blocked"] == 3
    assert by_partition(st["staging.ok"]) == {k: ["never materialized"] for k in three}

    res = mat(af, p, expect=1)
    assert res["status"] == "failed"
    assert pairs(res) == keyed("staging.ok", three)
    assert pairs(res, "success") == keyed("staging.ok", three)
    assert blocked_pairs(res) == keyed("staging.needs_x", three) | keyed("marts.after_x", three)
    assert all(b["reasons"] == ["source missing: raw.x"] for b in res["blocked"] if b["asset"] == "staging.needs_x")
    assert query(p, "select count(*) from duckdb_tables() where table_name in ('needs_x', 'after_x')") == [(0,)]


def test_missing_table_source_blocks_its_partitions(af, project):
    files, toml = missing_source_project('"raw.x" = { table = "raw.x" }')
    check_missing_source_blocks(af, project(files, toml))


def test_missing_file_source_blocks_its_partitions(af, project):
    files, toml = missing_source_project('"raw.x" = { path = "data/x/*.csv" }')
    check_missing_source_blocks(af, project(files, toml))


# ------------------------------------------------------------------------------------ batch_size

BATCH_SQL = textwrap.dedent("""\
    select id, day, amount, $start as batch_start, $end as batch_end
    from raw.events
    where day >= $start and day < $end
    """)


def test_batch_size_builds_consecutive_partitions_in_one_statement(af, project):
    p = project({"data/events.csv": events_csv(days=30),
                 "assets/staging/b.sql": day_header(end="2024-01-30", batch_size=7) + BATCH_SQL,
                 "assets/marts/b_daily.sql": day_header(end="2024-01-30") + textwrap.dedent("""\
                     select day, count(*) as n from staging.b where day >= $start and day < $end group by all
                     """)}, TOML)
    thirty = days("2024-01-01", "2024-01-30")
    planned = mat(af, p, "--dry-run")
    assert pairs(planned) == keyed("staging.b", thirty) | keyed("marts.b_daily", thirty)

    res = mat(af, p)
    # still recorded and reported per partition
    assert pairs(res, "success") == keyed("staging.b", thirty) | keyed("marts.b_daily", thirty)
    assert {x["rows"] for x in res["results"] if x["asset"] == "staging.b"} == {50}
    # ... but built by ceil(30 / 7) statements, each over its joint window of <= 7 days
    assert query(p, "select count(distinct batch_start) from staging.b") == [(math.ceil(30 / 7),)]
    assert query(p, "select count(*) from staging.b where not (day >= batch_start and day < batch_end "
                    "and batch_end - batch_start <= 7)") == [(0,)]
    assert query(p, "select count(*), count(distinct id) from staging.b") == [(1500, 1500)]
    assert_all_fresh(status(af, p))

    # a partial rebuild replaces exactly its partitions
    res = mat(af, p, "staging.b", "--from", "2024-01-09", "--to", "2024-01-11", "--full-refresh")
    assert pairs(res, "success") == keyed("staging.b", days("2024-01-09", "2024-01-11"))
    assert query(p, "select distinct batch_start from staging.b where day between date '2024-01-09' "
                    "and date '2024-01-11'") == [(date(2024, 1, 9),)]
    assert query(p, "select count(*), count(distinct id) from staging.b") == [(1500, 1500)]
    assert query(p, "select day, n from marts.b_daily order by day") == \
        source(p, "select day, count(*) from events group by 1 order by 1")


def test_batch_size_with_a_schema_change_rebuilds_every_partition(af, project):
    p = project({"data/events.csv": events_csv(days=30),
                 "assets/staging/events_day.sql": day_header(end="2024-01-30", batch_size=7) + STAGE_SQL}, TOML)
    assert mat(af, p)["status"] == "success"
    add_column(p)
    res = mat(af, p)
    assert pairs(res, "success") == keyed("staging.events_day", days("2024-01-01", "2024-01-30"))
    assert query(p, "select count(*), count(amount2) from staging.events_day") == [(1500, 1500)]


def test_batch_size_failure_fails_each_partition_of_the_batch(af, project):
    """One bad row fails its batch; the partitions of other batches are built and recorded."""
    sql = day_header(end="2024-01-14", batch_size=7) + textwrap.dedent("""\
        select id, day, cast(case when id = 9003 then 'boom' else cast(amount as varchar) end as integer) as amount
        from raw.events
        where day >= $start and day < $end
        """)                                            # id 9003 is on 2024-01-10: the second batch
    p = project({"data/events.csv": events_csv(days=14), "assets/staging/b.sql": sql}, TOML)
    res = mat(af, p, expect=1)
    assert pairs(res, "success") == keyed("staging.b", days("2024-01-01", "2024-01-07"))
    assert pairs(res, "failed") == keyed("staging.b", days("2024-01-08", "2024-01-14"))
    assert query(p, "select min(day), max(day), count(*) from staging.b") == \
        [(date(2024, 1, 1), date(2024, 1, 7), 350)]
    st = status(af, p)["staging.b"]
    assert st["partitions"]["failed"] == 7 and st["partitions"]["fresh"] == 7
