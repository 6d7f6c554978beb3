"""The machine's time zone changes nothing: partition keys, windows, the last complete period and the
data are the same under TZ=UTC, TZ=America/New_York and TZ=Pacific/Kiritimati (UTC+14, where the
local date is usually a day ahead of UTC).
"""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

from conftest import query
from helpers import materialize, ok

# Half-hourly timestamps across the US spring-forward night 2024-03-10, as naive UTC text.
ROWS = [(i, datetime(2024, 3, 9) + timedelta(minutes=30 * i)) for i in range(3 * 48)]
CSV = "id,ts\n" + "".join(f"{i},{ts:%Y-%m-%d %H:%M:%S}\n" for i, ts in ROWS)

FILES = {
    "data/ts.csv": CSV,
    "assets/staging/by_hour.sql": textwrap.dedent("""\
        /* assetflow
        kind = "partitioned"
        partition_by = "hour"
        time_column = "ts"
        start = "2024-03-09T00"
        end = "2024-03-11T23"
        */
        select id, ts, $partition as pkey from raw.ts where ts >= $start and ts < $end
        """),
    "assets/marts/by_day.sql": textwrap.dedent("""\
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "2024-03-09"
        end = "2024-03-11"
        */
        select cast(ts as date) as day, count(*) as n from staging.by_hour
        where ts >= $start and ts < $end group by all
        """),
    "assets/marts/open_day.sql": textwrap.dedent("""\
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "2024-01-01"
        */
        select $start as day
        """),
}

TOML = """
[project]
name = "utc"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[sources]
"raw.ts" = { path = "data/ts.csv" }
"""


def test_time_zone_of_the_machine_changes_nothing(af, project):
    outcomes = {}
    for tz in ("UTC", "America/New_York", "Pacific/Kiritimati"):
        p = project(FILES, TOML)
        today = datetime.now(timezone.utc).date()
        res = materialize(af, p, env={"TZ": tz})
        keys = sorted((x["asset"], x["partition"]) for x in res["results"] if x["status"] == "success")
        data = (query(p, "select id, ts, pkey from staging.by_hour order by id"),
                query(p, "select day, n from marts.by_day order by day"))
        open_days = [k for a, k in keys if a == "marts.open_day"]
        # the last partition of an open-ended asset is yesterday in UTC (a UTC midnight may pass meanwhile)
        after = datetime.now(timezone.utc).date()
        assert open_days[-1] in (str(today - timedelta(days=1)), str(after - timedelta(days=1))), (tz, open_days)
        assert ok(af(p, "status", "--verify", env={"TZ": tz})).exit_code == 0
        outcomes[tz] = (keys, data)
        hours = [k for a, k in keys if a == "staging.by_hour"]
        assert len(hours) == 72 and hours[0] == "2024-03-09T00" and hours[-1] == "2024-03-11T23", tz
        assert data[1] and [n for _, n in data[1]] == [48, 48, 48], (tz, data[1])
        assert query(p, "select count(*) from staging.by_hour where pkey <> strftime(ts, '%Y-%m-%dT%H')") == [(0,)]
    first = outcomes["UTC"]
    for tz, got in outcomes.items():
        assert got == first, tz
