"""The pure parts of issue 12's load rules: where a header stands and the lines its keys are on
(header), partition parameters and names (asset_rules, names), `$lookback_start` (compile)."""
from __future__ import annotations

import doctest
from datetime import date, datetime

import pytest

from assetflow import names
from assetflow.project import asset_rules
from assetflow.asset_settings import parse_settings
from assetflow.assets import AssetKey, AssetSettings, AssetSpec, Kind, PythonBody, SeedBody, SqlBody
from assetflow.run.compile import bound_parameters, lookback_start
from assetflow.errors import ProjectError
from assetflow.project.header import Parameter, split_header
from assetflow.partitions import Grain, StaticPartitions, TimePartitions

HEADER = '/* assetflow\nkind = "partitioned"\npartition_by = "day"\ntime_column = "d"\nstart = "2024-01-01"\n*/\n'
SETTINGS = {"kind": "partitioned", "partition_by": "day", "time_column": "d", "start": "2024-01-01"}


# ---------------------------------------------------------------------------- where the header stands

@pytest.mark.parametrize("before", [
    "-- owner: data team\n",
    "\n\n-- owner\n   \n-- more\n",
    "/* a note */\n",
    "/* a /* nested */ note */ -- and a line comment\n",
    "/* assetflow-ish: the first word is not assetflow */\n/*\nassetflow: nor here */\n",
])
def test_the_header_may_follow_comments_and_blank_lines(before):
    text = before + HEADER + "select d\nfrom t\n"
    parsed = split_header(text, "a.sql")
    assert parsed.settings == SETTINGS
    assert parsed.header_line == before.count("\n") + 1
    assert parsed.query.count("\n") == text.count("\n")           # line numbers still match the file
    assert parsed.query.startswith(before)                         # the comments stay in the query
    assert parsed.query.splitlines()[-2:] == ["select d", "from t"]
    assert "kind" not in parsed.query


@pytest.mark.parametrize("opening", ["/* AssetFlow", "/*ASSETFLOW", "/*\nassetflow", "/*  assetFlow"])
def test_the_first_word_is_matched_in_any_case(opening):
    parsed = split_header(opening + '\nkind = "view"\n*/\nselect 1', "a.sql")
    assert parsed.settings == {"kind": "view"}


def test_a_header_on_one_line_keeps_the_query_columns():
    parsed = split_header('/* assetflow kind = "view" */ select 1', "a.sql")
    assert parsed.settings == {"kind": "view"} and parsed.header_line == 1
    assert parsed.query == " " * len('/* assetflow kind = "view" */') + " select 1"


@pytest.mark.parametrize("text, line", [
    ("select 1\n/* assetflow\nkind = 'view'\n*/", 2),
    ("select 1 as a, /* AssetFlow */ 2 as b", 1),
    ("-- c\nwith x as (select 1)\n\n\n/*assetflow\n*/ select * from x", 5),
    ("select 'x' as s -- trailing\n, 2 as n /* assetflow */", 2),
])
def test_a_header_after_the_query_has_begun_is_an_error(text, line):
    with pytest.raises(ProjectError) as info:
        split_header(text, "a.sql")
    assert info.value.line == line and "after the query has begun" in info.value.message
    assert "top of the file" in info.value.hint


@pytest.mark.parametrize("text", [
    "select '/* assetflow */' as a",
    "select 'it''s /* assetflow' as a",
    "select E'\\' /* assetflow' as a",
    "select $$ /* assetflow $$ as a, $tag$ /* assetflow $tag$ as b",
    'select 1 as "/* assetflow"',
    "select 1 -- /* assetflow\n",
    "select 1 /* a comment: /* assetflow */ nested */",
    "select $start /* ok */ as a",
])
def test_header_words_in_strings_names_and_comments_are_not_headers(text):
    assert split_header(text, "a.sql").query == text


def test_a_second_header_and_an_unclosed_header_are_errors():
    with pytest.raises(ProjectError) as info:
        split_header(HEADER + "-- x\n/* assetflow\ntags = []\n*/ select 1", "a.sql")
    assert info.value.line == 8 and "second" in info.value.message
    with pytest.raises(ProjectError) as info:
        split_header("-- x\n/* assetflow\nkind = 'view'\nselect 1", "a.sql")
    assert info.value.line == 2 and "never closed" in info.value.message


# ---------------------------------------------------------------------------- the line of each key

def test_key_lines_count_from_the_file_including_leading_comments():
    text = '-- one\n-- two\n/* assetflow\nkind = "partitioned"\n\n  "partition_by" = "day"\ntags = []\n*/\nselect 1'
    parsed = split_header(text, "a.sql")
    assert [parsed.key_line(k) for k in ("kind", "partition_by", "tags")] == [4, 6, 7]
    assert parsed.key_line("start") == 3                         # not written: the header's line
    assert split_header("select 1", "a.sql").key_line("kind") is None


@pytest.mark.parametrize("settings, key", [
    ({"retires": 2}, "retires"),
    ({"retries": "2"}, "retries"),
    ({"tags": [1]}, "tags"),
    ({"kind": "tabel"}, "kind"),
    ({"time_column": "d"}, "time_column"),
    ({**SETTINGS, "start": "2024-13-01"}, "start"),
    ({**SETTINGS, "end": "2023-01-01"}, "end"),
    ({**SETTINGS, "partition_by": "fortnight"}, "partition_by"),
    ({**SETTINGS, "lookback": -1}, "lookback"),
    ({**SETTINGS, "batch_size": 0}, "batch_size"),
    ({"retry_delay": -1}, "retry_delay"),
    ({"checks": ["not_nul(x)"]}, "checks"),
    ({"partition_by": "static", "partition_column": "r", "partitions": []}, "partitions"),
    ({"partition_by": "static", "partition_column": "r", "partitions": ["a"], "batch_size": 2}, "batch_size"),
])
def test_setting_errors_point_at_their_key(settings, key):
    lines = {k: n for n, k in enumerate(settings, start=10)}
    with pytest.raises(ProjectError) as info:
        parse_settings(settings, path="a.sql", line=1, key_line=lambda k: lines.get(k, 99))
    assert info.value.line == lines[key], (info.value.message, info.value.line)
    with pytest.raises(ProjectError) as info:                       # a decorator: the function's line
        parse_settings(settings, path="a.py", line=7)
    assert info.value.line == 7


# ---------------------------------------------------------------------------- partition parameters

DAY = AssetSettings(kind=Kind.PARTITIONED, partitioning=TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d"))
STATIC = AssetSettings(kind=Kind.PARTITIONED, partitioning=StaticPartitions(("eu", "us"), "region"))


def check(settings, *parameters):
    asset_rules.check_parameters(settings, [Parameter(n, line) for n, line in parameters], "a.sql",
                                 lambda key: {"partition_by": 3}.get(key))


@pytest.mark.parametrize("settings, parameters", [
    (DAY, [("start", 5), ("end", 5)]),
    (DAY, [("lookback_start", 5), ("end", 6)]),
    (DAY, [("partition", 5)]),
    (STATIC, [("partition", 9)]),
    (AssetSettings(), []),
])
def test_parameters_that_the_partitioning_binds_are_fine(settings, parameters):
    check(settings, *parameters)


@pytest.mark.parametrize("settings, parameters, line, words", [
    (AssetSettings(), [("end", 7), ("start", 4)], 4, ["$start", "not partitioned", 'kind = "partitioned"']),
    (AssetSettings(kind=Kind.VIEW), [("partition", 2)], 2, ["$partition", "not partitioned"]),
    (STATIC, [("partition", 2), ("lookback_start", 3)], 3, ["$lookback_start needs time partitions", "region"]),
    (DAY, [], 3, ["never uses", "where d >= $start and d < $end"]),
    (STATIC, [], 3, ["never uses", "where region = $partition"]),
    (DAY, [("start", 2), ("stat", 4)], 4, ["unknown parameter $stat", "did you mean $start?"]),
    (DAY, [("?", None), ("start", 1)], None, ["unknown parameter $?"]),
])
def test_misused_parameters_are_errors_at_their_line(settings, parameters, line, words):
    with pytest.raises(ProjectError) as info:
        check(settings, *parameters)
    assert info.value.line == line
    text = info.value.message + " " + (info.value.hint or "")
    assert all(w in text for w in words), text


# ---------------------------------------------------------------------------- names

def test_name_helpers_doctests():
    assert doctest.testmod(names).failed == 0


@pytest.mark.parametrize("name, plain", [
    ("orders", True), ("_private", True), ("stg_orders_2", True), ("übersicht", True), ("顧客", True),
    ("my table", False), ("daily-revenue", False), ("2024_report", False), ("a.b", False), ("", False),
    ("tab\tname", False), ("x$", False), ("cafe\u0301", True), ("\u0301x", False), ("a__b", True),
])
def test_plain_identifiers(name, plain):
    assert names.is_plain_identifier(name) is plain
    assert names.is_plain_identifier(names.plain_identifier(name))


def spec(schema: str, name: str, body, path: str, line: int = 1) -> AssetSpec:
    return AssetSpec(AssetKey(schema, name), AssetSettings(), body, path, line, "v1")


@pytest.mark.parametrize("asset, line, hint", [
    (spec("main", "my table", SqlBody("select 1"), "assets/my table.sql"), None, "rename the file to my_table.sql"),
    (spec("my schema", "x", SqlBody("select 1"), "assets/my schema/sub/x.sql"), None,
     "rename the folder assets/my schema/ to my_schema"),
    (spec("seeds", "country codes", SeedBody("seeds/country codes.csv"), "seeds/country codes.csv"), None,
     "rename the file to country_codes.csv"),
    (spec("marts", "odd-name", PythonBody("m", "f", ()), "assets/marts/f.py", 12), 12, 'write name="odd_name"'),
    (spec("odd schema", "f", PythonBody("m", "f", ()), "assets/marts/f.py", 3), 3, 'write schema="odd_schema"'),
    (spec("odd schema", "f", PythonBody("m", "f", ()), "assets/odd schema/f.py", 3), 3,
     "rename the folder assets/odd schema/ to odd_schema"),
])
def test_names_that_need_quoting_are_refused_with_where_they_come_from(asset, line, hint):
    with pytest.raises(ProjectError) as info:
        asset_rules.check_names([spec("main", "fine", SqlBody("select 1"), "assets/fine.sql"), asset])
    assert info.value.path == asset.path and info.value.line == line
    assert hint in info.value.hint and "letters, digits and underscores" in info.value.hint


# ---------------------------------------------------------------------------- $lookback_start

def timed(grain: Grain, start: datetime, lookback: int) -> AssetSpec:
    settings = AssetSettings(kind=Kind.PARTITIONED, partitioning=TimePartitions(grain, start, "t"), lookback=lookback)
    return AssetSpec(AssetKey("main", "a"), settings, SqlBody("select 1"), "a.sql", 1, "v1")


@pytest.mark.parametrize("grain, start, lookback, index, want", [
    (Grain.DAY, datetime(2024, 1, 1), 7, 10, date(2024, 1, 4)),
    (Grain.DAY, datetime(2024, 1, 1), 7, 0, date(2023, 12, 25)),        # not clipped at the first partition
    (Grain.DAY, datetime(2024, 1, 1), 0, 3, date(2024, 1, 4)),          # no lookback: $start
    (Grain.HOUR, datetime(2024, 1, 1), 3, 1, datetime(2023, 12, 31, 22)),
    (Grain.WEEK, datetime(2024, 1, 1), 2, 2, date(2024, 1, 1)),
    (Grain.MONTH, datetime(2024, 1, 1), 3, 1, date(2023, 11, 1)),
])
def test_lookback_start_is_the_start_of_the_earliest_partition_read(grain, start, lookback, index, want):
    asset = timed(grain, start, lookback)
    assert lookback_start(asset, index) == want and type(lookback_start(asset, index)) is type(want)
    values = bound_parameters(asset, index, frozenset({"start", "end", "lookback_start"}))
    assert values["lookback_start"] == want
    assert values["start"] == (want if lookback == 0 else values["start"])


def test_a_batch_widens_from_its_first_partition():
    values = bound_parameters(timed(Grain.DAY, datetime(2024, 1, 1), 2), 5, frozenset({"start", "end",
                                                                                      "lookback_start"}), count=3)
    assert values == {"start": date(2024, 1, 6), "end": date(2024, 1, 9), "lookback_start": date(2024, 1, 4)}
