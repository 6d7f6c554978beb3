"""Partition kinds, mappings, keys and bad partition input, through the CLI on real DuckDB files.

Issue 3 / SPEC sections 3, 5, 6, 7. One "grid" project holds every partition kind (hour, day, ISO
week, month, static) and every mapping (identity day -> day, hours -> day, days -> month, days ->
week, day -> hours, unpartitioned -> partitioned, partitioned -> unpartitioned, lookback = 3); it is
built once per module and checked against direct queries over the source CSV. Tests that change a
project build their own copy.
"""
from __future__ import annotations

import re
import textwrap
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from conftest import query, run_cli, write_project
from partition_helpers import (TOML, by_partition, checksum, day_header, days, duplicates, events_csv,
                               header, hours, iso_week_key, keyed, mat, pairs, source, status)

# The last complete partition is otherwise "yesterday"; every asset here sets `end`.
ODD_KEYS = ["plain", "it's", "x'); drop table main.regions; --"]


def grid_files(weights=(2, 3, 5)) -> dict[str, str]:
    eu, us, apac = weights
    return {
        "data/events.csv": events_csv(),
        # day, identity from the source; $partition and the type of $start recorded per row
        "assets/staging/events_day.sql": day_header() + textwrap.dedent("""\
            select id, ts, day, region, amount, $partition as pkey, typeof($start) as start_type
            from raw.events
            where day >= $start and day < $end
            """),
        # hour: 72 partitions
        "assets/staging/events_hour.sql": header(partition_by="hour", time_column="ts", start="2024-01-01T00",
                                                 end="2024-01-03T23") + textwrap.dedent("""\
            select id, ts, region, amount, $partition as pkey, typeof($start) as start_type
            from raw.events
            where ts >= $start and ts < $end
            """),
        # static, keyed by region
        "assets/staging/by_region.sql": header(partition_by="static", partition_column="region",
                                               partitions=list(("eu", "us", "apac"))) + textwrap.dedent("""\
            select region, count(*) as n, sum(amount) as amount, $partition as pkey
            from raw.events
            where region = $partition
            group by all
            """),
        # static keys that contain quotes and SQL: they must be bound, never pasted
        "assets/staging/odd_keys.sql": header(partition_by="static", partition_column="k",
                                              partitions=ODD_KEYS) + textwrap.dedent("""\
            select k, v
            from (values ('plain', 1), ('it''s', 2), ('x''); drop table main.regions; --', 3), ('other', 4)) t(k, v)
            where k = $partition
            """),
        # day -> day (identity)
        "assets/marts/daily.sql": day_header() + textwrap.dedent("""\
            select day, region, count(*) as n, sum(amount) as amount
            from staging.events_day
            where day >= $start and day < $end
            group by all
            """),
        # days -> month
        "assets/marts/monthly.sql": header(partition_by="month", time_column="month", start="2024-01",
                                           end="2024-03") + textwrap.dedent("""\
            select cast(date_trunc('month', day) as date) as month, count(*) as n, sum(amount) as amount,
                   $partition as pkey, typeof($start) as start_type, '$end' as not_a_parameter
            from staging.events_day
            where day >= $start and day < $end
            group by all
            """),
        # days -> ISO week
        "assets/marts/weekly.sql": header(partition_by="week", time_column="week_start", start="2024-W01",
                                          end="2024-W13") + textwrap.dedent("""\
            select cast(date_trunc('week', day) as date) as week_start, count(*) as n, sum(amount) as amount,
                   $partition as pkey, typeof($start) as start_type
            from staging.events_day
            where day >= $start and day < $end
            group by all
            """),
        # day -> day with lookback = 3: a 4-day rolling sum
        "assets/marts/rolling.sql": day_header(lookback=3) + textwrap.dedent("""\
            select $start as day, sum(amount) as amount_4d, count(*) as n
            from staging.events_day
            where day >= $start - interval 3 day and day < $end
            """),
        # day -> hours: an hourly asset reading the daily upstream
        "assets/marts/hourly_from_day.sql": header(partition_by="hour", time_column="hour", start="2024-01-01T00",
                                                   end="2024-01-03T23") + textwrap.dedent("""\
            select $start as hour, count(*) as n, sum(amount) as amount
            from staging.events_day
            where ts >= $start and ts < $end
            """),
        # hours -> day
        "assets/marts/daily_from_hours.sql": day_header(end="2024-01-03") + textwrap.dedent("""\
            select cast(ts as date) as day, count(*) as n, sum(amount) as amount
            from staging.events_hour
            where ts >= $start and ts < $end
            group by all
            """),
        # unpartitioned -> partitioned
        "assets/regions.sql": f"select * from (values ('eu', {eu}), ('us', {us}), ('apac', {apac})) t(region, weight)\n",
        "assets/marts/weighted.sql": day_header(end="2024-01-10") + textwrap.dedent("""\
            select e.day, sum(e.amount * r.weight) as weighted
            from staging.events_day e
            join main.regions r on r.region = e.region
            where e.day >= $start and e.day < $end
            group by all
            """),
        # partitioned -> unpartitioned
        "assets/marts/total.sql": textwrap.dedent("""\
            select count(*) as n, sum(amount) as amount, count(distinct day) as days
            from staging.events_day
            """),
    }


ALL_DAYS = days("2024-01-01", "2024-03-30")
HOURS_72 = hours("2024-01-01T00", "2024-01-03T23")
WEEKS = [f"2024-W{w:02d}" for w in range(1, 14)]
GRID_ALL = (keyed("staging.events_day", ALL_DAYS) | keyed("staging.events_hour", HOURS_72)
            | keyed("staging.by_region", ["eu", "us", "apac"]) | keyed("staging.odd_keys", ODD_KEYS)
            | keyed("marts.daily", ALL_DAYS) | keyed("marts.monthly", ["2024-01", "2024-02", "2024-03"])
            | keyed("marts.weekly", WEEKS) | keyed("marts.rolling", ALL_DAYS)
            | keyed("marts.hourly_from_day", HOURS_72) | keyed("marts.daily_from_hours", days("2024-01-01", "2024-01-03"))
            | keyed("main.regions", [None]) | keyed("marts.weighted", days("2024-01-01", "2024-01-10"))
            | keyed("marts.total", [None]))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """The grid project, planned on an empty database and then built once at --threads 4."""
    p = write_project(tmp_path_factory.mktemp("grid") / "p", grid_files(), TOML)
    dry = run_cli(p, "materialize", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    built = run_cli(p, "materialize", "--threads", "4", "--json")
    assert built.exit_code == 0, built.output
    return SimpleNamespace(p=p, dry=dry.json(), first=built.json())


# ------------------------------------------------------------------------------------ checks shared
# by the grid test and the propagation test: each asset equals a direct query over the source

def check_day_identity(p):
    assert query(p, "select id, ts, day, region, amount from staging.events_day order by id") == \
        source(p, "select id, ts, day, region, amount from events order by id")
    assert query(p, "select day, region, n, amount from marts.daily order by all") == \
        source(p, "select day, region, count(*), sum(amount) from events group by all order by all")


def check_hours(p):
    assert query(p, "select id, ts, region, amount from staging.events_hour order by id") == \
        source(p, "select id, ts, region, amount from events where ts < '2024-01-04' order by id")
    assert query(p, "select day, n, amount from marts.daily_from_hours order by day") == \
        source(p, "select cast(ts as date), count(*), sum(amount) from events where ts < '2024-01-04' "
                  "group by all order by 1")


def check_day_to_hours(p):
    expected = source(p, """
        select h.hour, count(e.id), sum(e.amount)
        from (select unnest(generate_series(timestamp '2024-01-01 00:00', timestamp '2024-01-03 23:00',
                                            interval 1 hour)) as hour) h
        left join events e on e.ts >= h.hour and e.ts < h.hour + interval 1 hour
        group by 1 order by 1""")
    assert len(expected) == 72
    assert query(p, "select hour, n, amount from marts.hourly_from_day order by hour") == expected


def check_month_and_week(p):
    assert query(p, "select month, n, amount from marts.monthly order by month") == \
        source(p, "select cast(date_trunc('month', day) as date), count(*), sum(amount) from events "
                  "group by 1 order by 1")
    assert query(p, "select week_start, n, amount from marts.weekly order by week_start") == \
        source(p, "select cast(date_trunc('week', day) as date), count(*), sum(amount) from events "
                  "group by 1 order by 1")


def check_rolling(p):
    expected = source(p, """
        with d as (select day, sum(amount) as a, count(*) as n from events group by day)
        select day, sum(a) over w, sum(n) over w from d
        window w as (order by day range between interval 3 day preceding and current row)
        order by day""")
    assert len(expected) == 90
    assert query(p, "select day, amount_4d, n from marts.rolling order by day") == expected


def check_unpartitioned_mappings(p, weights=(2, 3, 5)):
    eu, us, apac = weights
    assert query(p, "select day, weighted from marts.weighted order by day") == source(p, f"""
        select day, sum(amount * case region when 'eu' then {eu} when 'us' then {us} else {apac} end)
        from events where day <= date '2024-01-10' group by day order by day""")
    assert query(p, "select n, amount, days from marts.total") == \
        source(p, "select count(*), sum(amount), count(distinct day) from events")


def check_static(p):
    assert query(p, "select region, n, amount, pkey from staging.by_region order by region") == \
        source(p, "select region, count(*), sum(amount), region from events group by region order by region")
    assert query(p, "select k, v from staging.odd_keys order by v") == [(k, i + 1) for i, k in enumerate(ODD_KEYS)]
    assert query(p, "select count(*) from main.regions") == [(3,)]


def check_everything(p, weights=(2, 3, 5)):
    check_day_identity(p)
    check_hours(p)
    check_day_to_hours(p)
    check_month_and_week(p)
    check_rolling(p)
    check_unpartitioned_mappings(p, weights)
    check_static(p)


# ------------------------------------------------------------------------------------ the grid

def test_empty_database_plans_exactly_every_partition_of_every_kind(grid):
    assert pairs(grid.dry) == GRID_ALL
    assert {x["status"] for x in grid.dry["results"]} == {"planned"}
    for x in grid.dry["results"]:
        assert x["reasons"] == ["never materialized"], x
    assert grid.dry["blocked"] == []
    # nothing was built by the dry run: the first real run planned the very same set
    assert grid.first["status"] == "success"
    assert pairs(grid.first) == GRID_ALL
    for x in grid.first["results"]:
        assert (x["status"], x["attempts"], x["error"]) == ("success", 1, None), x


def test_result_rows_are_per_partition(grid):
    rows = {(x["asset"], x["partition"]): x["rows"] for x in grid.first["results"]}
    per_day = dict(source(grid.p, "select strftime(day, '%Y-%m-%d'), count(*) from events group by all"))
    assert {k: rows[("staging.events_day", k)] for k in ALL_DAYS} == per_day
    per_hour = dict(source(grid.p, "select strftime(ts, '%Y-%m-%dT%H'), count(*) from events "
                                   "where ts < '2024-01-04' group by all"))
    assert {k: rows[("staging.events_hour", k)] for k in HOURS_72} == {k: per_hour.get(k, 0) for k in HOURS_72}
    assert rows[("marts.monthly", "2024-02")] == 1
    assert rows[("marts.rolling", "2024-03-30")] == 1
    assert rows[("marts.total", None)] == 1


def test_keys_and_bound_parameter_types(grid):
    p = grid.p
    # $partition is the key as SPEC section 5 writes it; $start is DATE for day/week/month, TIMESTAMP for hour
    assert query(p, "select count(*) from staging.events_day where pkey <> strftime(day, '%Y-%m-%d')") == [(0,)]
    assert query(p, "select distinct start_type from staging.events_day") == [("DATE",)]
    assert query(p, "select count(*) from staging.events_hour where pkey <> strftime(ts, '%Y-%m-%dT%H')") == [(0,)]
    assert query(p, "select distinct start_type from staging.events_hour") == [("TIMESTAMP",)]
    assert query(p, "select distinct not_a_parameter from marts.monthly") == [("$end",)]   # AST, not text
    assert query(p, "select pkey, start_type from marts.monthly order by pkey") == \
        [("2024-01", "DATE"), ("2024-02", "DATE"), ("2024-03", "DATE")]
    weekly = query(p, "select week_start, pkey, start_type from marts.weekly order by week_start")
    assert [k for _, k, _ in weekly] == WEEKS
    assert all(k == iso_week_key(ws) and t == "DATE" for ws, k, t in weekly), weekly
    assert query(p, "select typeof(hour) from marts.hourly_from_day limit 1") == [("TIMESTAMP",)]


def test_day_identity_equals_the_source(grid):
    check_day_identity(grid.p)
    assert duplicates(grid.p, "staging.events_day", "id") == []


def test_hour_partitions_and_hours_to_day_rollup(grid):
    check_hours(grid.p)


def test_daily_upstream_of_hourly_asset(grid):
    check_day_to_hours(grid.p)


def test_days_to_month_and_week_rollups(grid):
    check_month_and_week(grid.p)


def test_lookback_rolling_sum_equals_a_window_function(grid):
    check_rolling(grid.p)


def test_unpartitioned_upstream_and_downstream(grid):
    check_unpartitioned_mappings(grid.p)


def test_static_partitions_including_keys_with_quotes(grid):
    check_static(grid.p)


def test_second_run_plans_nothing_and_status_is_fresh(af, grid):
    again = mat(af, grid.p, "--dry-run")
    assert again["results"] == [] and again["blocked"] == []
    st = status(af, grid.p)
    assert set(st) == {a for a, _ in GRID_ALL}
    totals = {}
    for a, _ in GRID_ALL:
        totals[a] = totals.get(a, 0) + 1
    for name, entry in st.items():
        assert entry["partitions"] == {"total": totals[name], "fresh": totals[name], "stale": 0, "blocked": 0,
                                       "failed": 0}, (name, entry)
        assert entry["stale"] == []


@pytest.mark.parametrize("asset, key, literal", [
    ("staging.events_day", "2024-01-31", r"(CAST\('2024-01-31' AS DATE\)|DATE '2024-01-31')"),
    ("staging.events_hour", "2024-01-02T05",
     r"(CAST\('2024-01-02 05:00:00' AS TIMESTAMP\)|TIMESTAMP '2024-01-02 05:00:00')"),
    ("staging.odd_keys", "it's", r"'it''s'"),
], ids=["day", "hour", "static-quote"])
def test_compile_shows_partition_values_as_typed_literals(af, grid, asset, key, literal):
    r = af(grid.p, "compile", asset, "--partition", key)
    assert r.exit_code == 0, r.output
    assert re.search(literal, r.stdout), r.stdout
    assert "$start" not in r.stdout and "$partition" not in r.stdout, r.stdout


# ------------------------------------------------------------------------------------ bad input

INJECTION = "2024-01-01'; drop table staging.events_day; --"

BAD = [
    ("malformed-day", ("materialize", "staging.events_day", "--partition", "2024/01/01"), ["2024/01/01"]),
    ("impossible-day", ("materialize", "staging.events_day", "--partition", "2024-02-30"), ["2024-02-30"]),
    ("malformed-month", ("materialize", "marts.monthly", "--partition", "2024-1"), ["2024-1"]),
    ("impossible-week", ("materialize", "marts.weekly", "--partition", "2024-W54"), ["2024-W54"]),
    ("impossible-hour", ("materialize", "staging.events_hour", "--partition", "2024-01-01T24"), ["2024-01-01T24"]),
    ("before-start", ("materialize", "staging.events_day", "--partition", "2023-12-31"), ["2023-12-31", "range"]),
    ("after-end", ("materialize", "staging.events_day", "--from", "2024-03-25", "--to", "2024-03-31"),
     ["2024-03-31", "range"]),
    ("hour-after-end", ("materialize", "staging.events_hour", "--partition", "2024-01-04T00"),
     ["2024-01-04T00", "range"]),
    ("unknown-static-key", ("materialize", "staging.by_region", "--partition", "mars"), ["mars"]),
    ("from-after-to", ("materialize", "staging.events_day", "--from", "2024-02-01", "--to", "2024-01-01"),
     ["2024-02-01", "2024-01-01"]),
    ("backfill-from-after-to", ("backfill", "staging.events_day", "--from", "2024-02-01", "--to", "2024-01-01"),
     ["2024-02-01", "2024-01-01"]),
    ("partition-on-unpartitioned", ("materialize", "main.regions", "--partition", "2024-01-01"),
     ["partition"]),
    ("backfill-unpartitioned", ("backfill", "main.regions", "--from", "2024-01-01", "--to", "2024-01-02"),
     ["main.regions", "partition"]),
    ("partition-and-range", ("materialize", "staging.events_day", "--partition", "2024-01-01",
                             "--from", "2024-01-01", "--to", "2024-01-02"), ["--partition"]),
    ("from-without-to", ("materialize", "staging.events_day", "--from", "2024-01-01"), ["--to"]),
    ("injection-day", ("materialize", "staging.events_day", "--partition", INJECTION), ["2024-01-01'"]),
    ("injection-static", ("materialize", "staging.by_region", "--partition", "eu' or '1'='1"), ["eu' or"]),
    ("injection-compile", ("compile", "staging.events_day", "--partition", INJECTION), ["2024-01-01'"]),
]


@pytest.mark.parametrize("args, needles", [(a, n) for _, a, n in BAD], ids=[i for i, _, _ in BAD])
def test_bad_partition_input_exits_2_and_touches_nothing(af, grid, args, needles):
    before = checksum(grid.p)
    r = af(grid.p, *args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output, r.output
    message = r.stderr.strip()
    assert message.startswith("error:"), r.output
    assert len(message.splitlines()) <= 4, message
    for needle in needles:
        assert needle.lower() in message.lower(), (needle, message)
    assert checksum(grid.p) == before


# ------------------------------------------------------------------------------------ propagation

def test_rebuilt_upstream_partition_makes_exactly_its_mapped_partitions_stale(af, project):
    """Every mapping, as staleness: one day (and its 24 hours) rebuilt upstream, then an
    unpartitioned upstream changed; `status` and the plan name exactly the mapped partitions."""
    p = project(grid_files(), TOML)
    assert mat(af, p)["status"] == "success"

    # --partition with a day key selects the overlapping 24 hours of an hourly asset too
    res = mat(af, p, "staging.events_day", "staging.events_hour", "--partition", "2024-01-02", "--full-refresh")
    assert pairs(res) == keyed("staging.events_day", ["2024-01-02"]) | \
        keyed("staging.events_hour", hours("2024-01-02T00", "2024-01-02T23"))

    expected_stale = {
        "marts.daily": ["2024-01-02"],                                   # identity
        "marts.monthly": ["2024-01"],                                    # days -> month
        "marts.weekly": ["2024-W01"],                                    # days -> week
        "marts.rolling": days("2024-01-02", "2024-01-05"),               # lookback = 3
        "marts.hourly_from_day": hours("2024-01-02T00", "2024-01-02T23"),  # day -> hours
        "marts.daily_from_hours": ["2024-01-02"],                        # hours -> day
        "marts.weighted": ["2024-01-02"],                                # identity, beside a table upstream
        "marts.total": [None],                                           # partitioned -> unpartitioned
    }
    st = status(af, p)
    for name, entry in st.items():
        want = expected_stale.get(name, [])
        assert by_partition(entry) == {k: ["upstream changed"] for k in want}, name
        assert entry["partitions"]["stale"] == len(want), (name, entry["partitions"])
        assert entry["partitions"]["blocked"] == entry["partitions"]["failed"] == 0, name

    # an unpartitioned upstream changes: every partition of the partitioned reader depends on it
    (p / "assets/regions.sql").write_text(grid_files(weights=(7, 3, 5))["assets/regions.sql"])
    planned = mat(af, p, "--dry-run")
    want = {(a, k) for a, ks in expected_stale.items() for k in ks}
    want |= keyed("main.regions", [None]) | keyed("marts.weighted", days("2024-01-01", "2024-01-10"))
    assert pairs(planned) == want
    reasons = {(x["asset"], x["partition"]): x["reasons"] for x in planned["results"]}
    assert reasons[("main.regions", None)] == ["code changed"]
    assert reasons[("marts.weighted", "2024-01-05")] == ["upstream stale"]
    assert "upstream changed" in reasons[("marts.weighted", "2024-01-02")]

    res = mat(af, p)
    assert pairs(res) == want
    assert pairs(res, "success") == want
    check_everything(p, weights=(7, 3, 5))


# ------------------------------------------------------------------------------------ DST

DST_TOML = TOML.replace('"raw.events" = { path = "data/events.csv" }', '"raw.dst" = { path = "data/dst.csv" }')


def dst_csv() -> str:
    """Every 10 minutes from 2024-11-02 00:00 UTC to 2024-11-05 00:00 UTC, written as New York local
    time with its UTC offset: 01:00-01:59 local happens twice on 2024-11-03 (-04:00, then -05:00)."""
    ny = ZoneInfo("America/New_York")
    first = datetime(2024, 11, 2, tzinfo=timezone.utc)
    lines = ["id,ts,v"]
    for i in range(3 * 24 * 6):
        local = (first + timedelta(minutes=10 * i)).astimezone(ny)
        offset = local.strftime("%z")
        lines.append(f"{i},{local:%Y-%m-%d %H:%M:%S}{offset[:3]}:{offset[3:]},{i % 7}")
    return "\n".join(lines) + "\n"


def test_hour_partitions_across_a_dst_change_are_24_utc_hours_a_day(af, project):
    files = {
        "data/dst.csv": dst_csv(),
        "assets/staging/dst_hour.sql": header(partition_by="hour", time_column="ts", start="2024-11-02T00",
                                              end="2024-11-04T23") + textwrap.dedent("""\
            select id, ts, v, $partition as pkey
            from raw.dst
            where ts >= $start and ts < $end
            """),
        "assets/marts/dst_day.sql": day_header(start="2024-11-02", end="2024-11-04") + textwrap.dedent("""\
            select cast(ts as date) as day, count(*) as n, sum(v) as v
            from staging.dst_hour
            where ts >= $start and ts < $end
            group by all
            """),
    }
    p = project(files, DST_TOML)
    assert source(p, "select typeof(ts) from events limit 1", csv="data/dst.csv") == [("TIMESTAMP WITH TIME ZONE",)]
    local = {"TZ": "America/New_York"}       # the machine's clock must not matter
    planned = mat(af, p, "--dry-run", env=local)
    keys = sorted(k for a, k in pairs(planned) if a == "staging.dst_hour")
    assert keys == hours("2024-11-02T00", "2024-11-04T23")
    for day in ("2024-11-02", "2024-11-03", "2024-11-04"):
        assert sum(k.startswith(day) for k in keys) == 24, day
    assert sorted(k for a, k in pairs(planned) if a == "marts.dst_day") == days("2024-11-02", "2024-11-04")

    res = mat(af, p, env=local)
    assert pairs(res, "success") == pairs(planned)
    rows = {x["partition"]: x["rows"] for x in res["results"] if x["asset"] == "staging.dst_hour"}
    assert set(rows.values()) == {6}, rows
    # every row sits in the UTC hour its key names, including both local 01:30s of 2024-11-03
    assert query(p, "select count(*) from staging.dst_hour "
                    "where pkey <> strftime(ts at time zone 'UTC', '%Y-%m-%dT%H')") == [(0,)]
    assert query(p, "select count(*), count(distinct id) from staging.dst_hour") == [(432, 432)]
    assert query(p, "select pkey from staging.dst_hour where id in (177, 183) order by id") == \
        [("2024-11-03T05",), ("2024-11-03T06",)]
    assert query(p, "select day, n, v from marts.dst_day order by day") == source(p, """
        select cast(ts at time zone 'UTC' as date), count(*), sum(v) from events group by 1 order by 1""",
        csv="data/dst.csv")
    assert [n for _, n, _ in query(p, "select * from marts.dst_day order by day")] == [144, 144, 144]


# ------------------------------------------------------------------------------------ calendar edges

def _open_ended_expectations():
    """Keys of the assets without `end`: up to the last complete period in UTC (today is not complete)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    today = now.date()
    hour = now.replace(minute=0, second=0, microsecond=0)
    first_month = date(today.year - (today.month <= 2), (today.month - 3) % 12 + 1, 1)
    months, m = [], first_month
    while (m.year, m.month) < (today.year, today.month):
        months.append(f"{m:%Y-%m}")
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return {
        "main.open_day": [str(today - timedelta(days=n)) for n in (3, 2, 1)],
        "main.open_hour": [f"{hour - timedelta(hours=n):%Y-%m-%dT%H}" for n in (3, 2, 1)],
        "main.open_month": months,
    }, {"open_day": str(today - timedelta(days=3)), "open_hour": f"{hour - timedelta(hours=3):%Y-%m-%dT%H}",
        "open_month": f"{first_month:%Y-%m}"}


def test_calendar_edges_and_open_ended_ranges(af, project):
    """ISO weeks across a year end, months across a year end, a leap day, hours across midnight of a
    new year, and assets without `end` whose last partition is the last complete period."""
    before, starts = _open_ended_expectations()

    def asset(grain, start, end=None):
        settings = dict(partition_by=grain, time_column="t", start=start)
        if end is not None:
            settings["end"] = end
        return header(**settings) + "select $start as t, $partition as k\n"

    p = project({
        "assets/w.sql": asset("week", "2024-W51", "2025-W02"),
        "assets/m.sql": asset("month", "2024-11", "2025-02"),
        "assets/leap.sql": asset("day", "2024-02-27", "2024-03-01"),
        "assets/h.sql": asset("hour", "2024-12-31T22", "2025-01-01T01"),
        "assets/open_day.sql": asset("day", starts["open_day"]),
        "assets/open_hour.sql": asset("hour", starts["open_hour"]),
        "assets/open_month.sql": asset("month", starts["open_month"]),
    })
    edges = {
        "main.w": ["2024-W51", "2024-W52", "2025-W01", "2025-W02"],
        "main.m": ["2024-11", "2024-12", "2025-01", "2025-02"],
        "main.leap": ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"],
        "main.h": ["2024-12-31T22", "2024-12-31T23", "2025-01-01T00", "2025-01-01T01"],
    }
    # a month range selects the overlapping partitions of every selected time asset, whatever its grain
    ranged = mat(af, p, "main.w", "main.m", "main.leap", "main.h", "--from", "2024-12", "--to", "2025-01",
                 "--dry-run")
    assert pairs(ranged) == keyed("main.m", ["2024-12", "2025-01"]) | keyed("main.w", edges["main.w"]) | \
        keyed("main.h", edges["main.h"])

    planned = mat(af, p, "--dry-run")
    after, _ = _open_ended_expectations()
    got = {}
    for a, k in pairs(planned):
        got.setdefault(a, []).append(k)
    got = {a: sorted(ks) for a, ks in got.items()}
    for name, keys in edges.items():
        assert got[name] == keys, name
    for name in before:            # a period boundary may pass during the call: accept either side
        assert got[name] in (before[name], after[name]), (name, got[name], before[name], after[name])

    res = mat(af, p, "main.w", "main.m", "main.leap", "main.h")
    assert pairs(res, "success") == {(a, k) for a, ks in edges.items() for k in ks}
    assert query(p, "select k, t from main.w order by t") == [
        ("2024-W51", date(2024, 12, 16)), ("2024-W52", date(2024, 12, 23)),
        ("2025-W01", date(2024, 12, 30)), ("2025-W02", date(2025, 1, 6))]
    assert query(p, "select k from main.m order by t") == [(k,) for k in edges["main.m"]]
    assert query(p, "select k from main.leap order by t") == [(k,) for k in edges["main.leap"]]
    assert query(p, "select k, t from main.h order by t") == [
        (k, datetime.strptime(k, "%Y-%m-%dT%H")) for k in edges["main.h"]]
