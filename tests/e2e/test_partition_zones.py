"""Time-zoned partitions through the CLI on real DuckDB files (SPEC section 11): keys are local
calendar periods, `$start`/`$end` the local midnights (TIMESTAMPTZ), and rows land in the local
day, week or month they belong to, across both DST changes."""
from __future__ import annotations

import pytest

from conftest import query

TOML = """
[project]
name = "t"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[sources."raw.events"]
path = "data/events.csv"
"""

# naive UTC times around New York's midnights on its DST days (10 March: 23 h, 3 November: 25 h)
EVENTS = """id,ts
1,2024-03-10 04:59:00
2,2024-03-10 05:00:00
3,2024-03-11 03:59:00
4,2024-03-11 04:00:00
5,2024-11-03 03:59:00
6,2024-11-03 04:00:00
7,2024-11-04 04:59:00
8,2024-11-04 05:00:00
"""


def zoned(grain: str, zone: str, column: str, start: str, end: str) -> str:
    return (f'/* assetflow\npartition_by = "{grain}"\ntimezone = "{zone}"\ntime_column = "{column}"\n'
            f'start = "{start}"\nend = "{end}"\n*/\n')


FILES = {
    "data/events.csv": EVENTS,
    # a DATE time column: the local day of each event
    "assets/marts/daily.sql": zoned("day", "America/New_York", "day", "2024-03-09", "2024-11-04") + """
        select cast(timezone('America/New_York', ts::timestamptz) as date) as day, list(id order by id) as ids,
               typeof($start) as start_type
        from raw.events where ts >= $start and ts < $end group by all
        """,
    # a timestamp time column: the events themselves, as instants
    "assets/staging/events_ny.sql": zoned("day", "America/New_York", "ts", "2024-03-09", "2024-11-04") + """
        select id, ts::timestamptz as ts from raw.events where ts >= $start and ts < $end
        """,
    # every UTC hour of the year, and local weeks and months over it
    "assets/raw/hours.sql": """
        select ts from range(timestamp '2024-02-20', timestamp '2024-11-20', interval 1 hour) t(ts)
        """,
    "assets/marts/weekly_ny.sql": zoned("week", "America/New_York", "week", "2024-W10", "2024-W11") + """
        select $start as week, count(*) as hours from raw.hours where ts >= $start and ts < $end
        """,
    "assets/marts/monthly_berlin.sql": zoned("month", "Europe/Berlin", "month", "2024-03", "2024-10") + """
        select $start as month, count(*) as hours from raw.hours where ts >= $start and ts < $end
        """,
    # a Python asset gets the local midnights as aware datetimes
    "assets/marts/py_days.py": """
        import pyarrow as pa
        from assetflow import asset


        @asset(partition_by="day", timezone="Asia/Tokyo", time_column="day", start="2024-03-10", end="2024-03-11")
        def py_days(context):
            return pa.table({"day": [context.start], "key": [context.partition],
                             "start": [context.start.isoformat()], "end": [context.end.isoformat()]})
        """,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from conftest import run_cli, write_project
    p = write_project(tmp_path_factory.mktemp("zones") / "p", FILES, TOML)
    r = run_cli(p, "materialize", "--json")
    assert r.exit_code == 0, r.output
    return p, r.json()


def test_rows_land_in_their_local_day(built):
    p, _ = built
    rows = dict(query(p, "select strftime(day, '%Y-%m-%d'), ids from marts.daily"))
    assert rows == {"2024-03-09": [1], "2024-03-10": [2, 3], "2024-03-11": [4], "2024-11-02": [5],
                    "2024-11-03": [6, 7], "2024-11-04": [8]}
    assert query(p, "select distinct start_type from marts.daily") == [("TIMESTAMP WITH TIME ZONE",)]
    by_key = dict(query(p, "select id, strftime(timezone('America/New_York', ts), '%Y-%m-%d') from staging.events_ny"))
    assert by_key == {1: "2024-03-09", 2: "2024-03-10", 3: "2024-03-10", 4: "2024-03-11", 5: "2024-11-02",
                      6: "2024-11-03", 7: "2024-11-03", 8: "2024-11-04"}


def test_local_weeks_and_months_are_as_long_as_the_local_calendar_says(built):
    p, _ = built
    weeks = query(p, "select strftime(timezone('America/New_York', week), '%Y-%m-%d %H:%M'), hours "
                     "from marts.weekly_ny order by 1")
    assert weeks == [("2024-03-04 00:00", 167), ("2024-03-11 00:00", 168)]      # DST began on Sunday 10th
    months = dict(query(p, "select strftime(timezone('Europe/Berlin', month), '%Y-%m'), hours from marts.monthly_berlin"))
    assert months["2024-03"] == 31 * 24 - 1 and months["2024-10"] == 31 * 24 + 1 and months["2024-04"] == 30 * 24


def test_python_assets_get_aware_local_midnights(built):
    p, _ = built
    assert query(p, "select key, start, \"end\" from marts.py_days order by 1") == [
        ("2024-03-10", "2024-03-10T00:00:00+09:00", "2024-03-11T00:00:00+09:00"),
        ("2024-03-11", "2024-03-11T00:00:00+09:00", "2024-03-12T00:00:00+09:00")]


def test_status_and_verify_agree_with_the_local_keys(built):
    from conftest import run_cli
    p, res = built
    keys = {x["partition"] for x in res["results"] if x["asset"] == "marts.daily"}
    assert {"2024-03-10", "2024-11-03"} <= keys and len(keys) == 241      # 9 March .. 4 November
    r = run_cli(p, "status", "--verify", "--json")
    assert r.exit_code == 0, r.output
    assert r.json()["drift"] == []
    shown = run_cli(p, "compile", "marts.daily", "--partition", "2024-11-03")
    assert shown.exit_code == 0, shown.output
    assert ("ts >= CAST('2024-11-03 00:00:00-04:00' AS TIMESTAMPTZ) and ts < CAST('2024-11-04 00:00:00-05:00' "
            "AS TIMESTAMPTZ)") in shown.stdout


def test_a_new_time_zone_rebuilds_the_partitions(af, project):
    files = {"data/events.csv": EVENTS,
             "assets/d.sql": '/* assetflow\npartition_by = "day"\ntime_column = "day"\nstart = "2024-03-09"\n'
                             'end = "2024-03-11"\n*/\nselect $start as day\n'}
    p = project(files, TOML)
    assert af(p, "materialize").exit_code == 0
    text = (p / "assets/d.sql").read_text().replace('end = "2024-03-11"', 'end = "2024-03-11"\ntimezone = "UTC"')
    (p / "assets/d.sql").write_text(text)
    assert af(p, "status", "--json").json()["assets"][0]["stale"] == []        # UTC is no time zone
    (p / "assets/d.sql").write_text(text.replace('"UTC"', '"America/New_York"'))
    stale = af(p, "status", "--json").json()["assets"][0]["stale"]
    assert len(stale) == 3


@pytest.mark.parametrize("settings, message", [
    ('partition_by = "hour"\ntime_column = "ts"\nstart = "2024-01-01T00"\ntimezone = "Europe/Berlin"',
     "assets/x.sql:5: hour partitions are always UTC"),
    ('partition_by = "day"\ntime_column = "ts"\nstart = "2024-01-01"\ntimezone = "Europe/Berln"',
     "assets/x.sql:5: unknown time zone 'Europe/Berln'"),
])
def test_bad_time_zones_exit_2_naming_file_and_line(af, project, settings, message):
    p = project({"assets/x.sql": f"/* assetflow\n{settings}\n*/\nselect $start as ts\n"}, TOML.split("[sources")[0])
    r = af(p, "status")
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output
