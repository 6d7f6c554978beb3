"""Load-time rules of issue 12 through the CLI: where a header may stand (item 3), partition
parameters used where they mean something (items 3, 21), header errors at the key's own line
(item 9), names that need quoting (item 11), and `$lookback_start` (item 21).

Every refusal: exit 2, one message on stderr naming the file and line with a fix, no traceback,
nothing built.
"""
from __future__ import annotations

import textwrap

import pytest

from conftest import query
from partition_helpers import TOML, day_header, events_csv, header, status

EVENTS = {"data/events.csv": events_csv(days=10)}
WINDOW = "where day >= $start and day < $end\n"


def refused(af, p, *needles: str, args=("materialize",)) -> str:
    r = af(p, *args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output, r.output
    for needle in needles:
        assert needle in r.stderr, f"{needle!r} not in:\n{r.stderr}"
    assert not (p / "warehouse.duckdb").exists() or not query(
        p, "select * from duckdb_tables() where schema_name not in ('_assetflow')"), "something was built"
    return r.stderr


# ------------------------------------------------------------------------------------ item 3: where the header stands

HEADER_AFTER_COMMENTS = {
    "line comment first": "-- owner: data team\n",
    "comments and blank lines": "-- owner: data team\n\n-- built nightly\n\n",
    "a block comment first": "/* owner: data team\n   (the finance mart) */\n",
    "a nested block comment first": "/* outer /* inner */ still outer */\n",
}


@pytest.mark.parametrize("before", list(HEADER_AFTER_COMMENTS.values()), ids=list(HEADER_AFTER_COMMENTS))
@pytest.mark.parametrize("word", ["assetflow", "AssetFlow", "ASSETFLOW"])
def test_a_header_after_leading_comments_in_any_case_is_the_header(af, project, before, word):
    text = before + day_header(end="2024-01-03").replace("/* assetflow", f"/* {word}") + \
        "select id, day, amount from raw.events\n" + WINDOW
    p = project({**EVENTS, "assets/staging/ev.sql": text}, TOML)
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    assert status(af, p)["staging.ev"]["partitions"]["total"] == 3
    assert query(p, "select count(*), count(distinct day) from staging.ev") == [(150, 3)]


@pytest.mark.parametrize("text, line", [
    ("select id, day from raw.events\n/* assetflow\nkind = \"view\"\n*/\n", 2),
    ("select id,\n  day /* AssetFlow kind = \"view\" */\nfrom raw.events\n", 2),
    ("with x as (\n  select 1 as id\n)\n/*assetflow*/ select * from x\n", 4),
], ids=["after-the-query", "inside-the-query", "no-space-before-the-word"])
def test_a_header_after_the_query_has_begun_is_an_error(af, project, text, line):
    p = project({**EVENTS, "assets/staging/ev.sql": text}, TOML)
    stderr = refused(af, p, f"assets/staging/ev.sql:{line}", "after the query has begun", "top of the file")
    assert len(stderr.strip().splitlines()) == 2, stderr


def test_header_words_inside_strings_and_comments_of_the_query_are_not_headers(af, project):
    text = ("select 'see /* assetflow */' as a, $$ /* assetflow $$ as b, \"/* assetflow\" as c\n"
            "-- /* assetflow kind = \"view\" */\n"
            "from (select 1 as \"/* assetflow\") t\n")
    p = project({"assets/q.sql": text}, TOML)
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    assert query(p, "select a, b, c from main.q") == [("see /* assetflow */", " /* assetflow ", 1)]


def test_a_second_header_is_an_error(af, project):
    text = day_header(end="2024-01-03") + "-- note\n" + day_header(end="2024-01-05") + \
        "select id, day from raw.events\n" + WINDOW
    p = project({**EVENTS, "assets/staging/ev.sql": text}, TOML)
    refused(af, p, "assets/staging/ev.sql:9", "second assetflow header")


# ------------------------------------------------------------------------------------ items 3, 21: parameters

UNPARTITIONED_USES = {
    "start": ("select id from raw.events\nwhere day >= $start\n", "$start", 2),
    "end, after a header": ('/* assetflow\nkind = "view"\n*/\nselect id from raw.events\nwhere day < $END\n',
                            "$end", 5),
    "partition": ("select id from raw.events where region = $partition\n", "$partition", 1),
    "lookback_start": ("select id from raw.events\n\nwhere day >= $lookback_start\n", "$lookback_start", 3),
}


@pytest.mark.parametrize("text, name, line", list(UNPARTITIONED_USES.values()), ids=list(UNPARTITIONED_USES))
def test_partition_parameters_in_an_unpartitioned_asset_are_an_error(af, project, text, name, line):
    p = project({**EVENTS, "assets/staging/ev.sql": text}, TOML)
    refused(af, p, f"assets/staging/ev.sql:{line}", name, "not partitioned", 'kind = "partitioned"')


@pytest.mark.parametrize("settings, needles", [
    (dict(partition_by="day", time_column="day", start="2024-01-01", end="2024-01-03"),
     ["assets/staging/ev.sql:3", "never uses", "$start", "where day >= $start and day < $end"]),
    (dict(partition_by="static", partition_column="region", partitions=["eu", "us"]),
     ["assets/staging/ev.sql:3", "never uses", "where region = $partition"]),
], ids=["time", "static"])
def test_a_partitioned_query_that_never_uses_its_partition_is_an_error(af, project, settings, needles):
    p = project({**EVENTS, "assets/staging/ev.sql": header(**settings) + "select id, day, region from raw.events\n"},
                TOML)
    refused(af, p, *needles)


def test_time_parameters_in_a_static_asset_and_unknown_parameters_are_errors(af, project):
    static = header(partition_by="static", partition_column="region", partitions=["eu"])
    p = project({**EVENTS, "assets/staging/ev.sql": static + "select region from raw.events\nwhere day >= $start\n"},
                TOML)
    refused(af, p, "assets/staging/ev.sql:8", "$start needs time partitions", "$partition")
    p = project({**EVENTS, "assets/staging/ev.sql": day_header() + "select day from raw.events\nwhere day >= $strat\n"},
                TOML)
    refused(af, p, "assets/staging/ev.sql:9", "unknown parameter $strat", "did you mean $start?")


# ------------------------------------------------------------------------------------ item 21: $lookback_start

ROLLING = day_header(end="2024-01-10", lookback=2) + textwrap.dedent("""\
    -- a 3-day rolling sum: this day and the two before it
    select $start as day, sum(amount) as amount_3d, count(distinct day) as days
    from staging.events
    where day >= $lookback_start and day < $end
    """)


def test_lookback_start_is_the_widened_window_bound_as_a_typed_parameter(af, project):
    p = project({**EVENTS, "assets/staging/events.sql": day_header(end="2024-01-10") +
                 "select id, day, amount from raw.events\n" + WINDOW,
                 "assets/marts/rolling.sql": ROLLING}, TOML)
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    got = query(p, "select day, amount_3d, days from marts.rolling order by day")
    want = query(p, """select day, sum(total) over (order by day rows between 2 preceding and current row),
                              count(*) over (order by day rows between 2 preceding and current row)
                       from (select day, sum(amount) as total from staging.events group by day) order by day""")
    assert got == want and len(got) == 10
    assert got[0][2] == 1 and got[5][2] == 3          # the first day has nothing before it; later ones do

    shown = af(p, "compile", "marts.rolling", "--partition", "2024-01-05")
    assert shown.exit_code == 0, shown.output
    assert "day >= CAST('2024-01-03' AS DATE) and day < CAST('2024-01-06' AS DATE)" in shown.stdout, shown.stdout
    assert "-- a 3-day rolling sum" in shown.stdout        # compile shows the query as written
    assert query(p, shown.stdout) == query(p, "select * from marts.rolling where day = date '2024-01-05'")


def test_python_assets_get_lookback_start_in_their_context(af, project):
    code = textwrap.dedent("""\
        import pyarrow as pa
        from assetflow import asset, AssetContext

        @asset(partition_by="hour", time_column="hour", start="2024-01-01T00", end="2024-01-01T05", lookback=3)
        def windows(context: AssetContext) -> pa.Table:
            return pa.table({"hour": [context.start], "lookback_start": [context.lookback_start]})
        """)
    p = project({"assets/marts/windows.py": code}, TOML)
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    rows = query(p, "select hour, lookback_start from marts.windows order by hour")
    assert [(h.hour, (h - lb).total_seconds() / 3600) for h, lb in rows] == [(h, 3.0) for h in range(6)]


# ------------------------------------------------------------------------------------ item 9: header error lines

KEY_LINE_CASES = {
    # (header body lines, the offending line in the file); two comment lines and `/* assetflow`
    # come first, so the body starts on line 4
    "unknown key": (['kind = "partitioned"', 'partition_by = "day"', 'time_column = "day"',
                     'start = "2024-01-01"', 'retires = 2'], 8),
    "wrong type": (['tags = ["x"]', 'retries = "two"'], 5),
    "bad start": (['kind = "partitioned"', 'partition_by = "day"', 'time_column = "day"', 'start = "2024-13-01"'], 7),
    "end before start": (['partition_by = "day"', 'time_column = "day"', 'start = "2024-02-01"',
                          'end = "2024-01-01"'], 7),
    "bad check": (['tags = ["x"]', '', 'checks = ["not_nul(id)"]'], 6),
    "static without keys": (['tags = ["x"]', 'partition_by = "static"', 'partition_column = "region"'], 5),
    "unknown deps": (['tags = ["x"]', 'deps = ["main.nowhere"]'], 5),
    "bad kind": (['tags = ["x"]', 'kind = "tabel"'], 5),
}


@pytest.mark.parametrize("lines, line", list(KEY_LINE_CASES.values()), ids=list(KEY_LINE_CASES))
def test_header_errors_point_at_the_key_line(af, project, lines, line):
    text = "-- owner: data team\n-- notes\n/* assetflow\n" + "\n".join(lines) + "\n*/\nselect id, day from raw.events\n"
    if "partition_by" in text:
        text += WINDOW
    p = project({**EVENTS, "assets/staging/ev.sql": text}, TOML)
    refused(af, p, f"assets/staging/ev.sql:{line}:")


# ------------------------------------------------------------------------------------ item 11: names

@pytest.mark.parametrize("path, needles", [
    ("assets/staging/my table.sql", ["assets/staging/my table.sql", "'my table'", "rename the file to my_table.sql"]),
    ("assets/staging/daily-revenue.sql", ["'daily-revenue'", "daily_revenue.sql"]),
    ("assets/staging/2024_report.sql", ["'2024_report'", "_2024_report.sql", "not starting with a digit"]),
    ("assets/my schema/orders.sql", ["'my schema'", "rename the folder assets/my schema/ to my_schema"]),
], ids=["space", "hyphen", "leading-digit", "schema-folder"])
def test_names_that_need_quoting_are_refused_with_a_suggestion(af, project, path, needles):
    p = project({path: "select 1 as id\n"}, TOML)
    refused(af, p, *needles, "letters, digits and underscores")


def test_a_python_schema_that_needs_quoting_is_refused(af, project):
    code = textwrap.dedent("""\
        import pyarrow as pa
        from assetflow import asset

        @asset(schema="odd schema!")
        def scores() -> pa.Table:
            return pa.table({"x": [1]})
        """)
    p = project({"assets/marts/scores.py": code}, TOML)
    refused(af, p, "assets/marts/scores.py:4", "'odd schema!'", 'schema="odd_schema"')


def test_a_seed_name_that_needs_quoting_is_refused(af, project):
    p = project({"seeds/country codes.csv": "code\nDE\n"}, TOML)
    refused(af, p, "seeds/country codes.csv", "country_codes.csv")


def test_unicode_letters_are_plain_names(af, project):
    p = project({"assets/ventes/übersicht.sql": "select 1 as id\n"}, TOML)
    r = af(p, "materialize", "ventes.übersicht")
    assert r.exit_code == 0, r.output
    assert query(p, "select id from ventes.übersicht") == [(1,)]
