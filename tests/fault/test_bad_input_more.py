"""More bad input (SPEC section 8), beyond tests/e2e/test_bad_input.py: name clashes across kinds of
asset and across Unicode normal forms, partition and check settings, sources, alerts, hostile
partition keys; and the mistakes that only show at run time (rows outside a partition, a source
file that vanished), which must fail or block just the partitions concerned and keep the last good data.

Up-front mistakes: exit 2, one message on stderr naming the file (and line), no Python traceback,
nothing built, nothing already built changed.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import duckdb
import pytest

from conftest import query
from helpers import PY_TRACEBACK, assert_verified, materialize, ok

GOOD_TOML = textwrap.dedent("""
    [project]
    name = "t"
    dialect = "duckdb"

    [targets.dev]
    engine = "duckdb"
    path = "warehouse.duckdb"
    threads = 2
    """).lstrip()

BASE = {"assets/base.sql": "select 1 as id\n"}


def header(*lines: str, query: str = "select $start as day, 1 as v\n") -> str:
    return "/* assetflow\n" + "\n".join(lines) + "\n*/\n" + query


def day_partitioned(*more: str) -> str:
    return header('kind = "partitioned"', 'partition_by = "day"', 'time_column = "day"', *more)


STATIC = ('kind = "partitioned"', 'partition_by = "static"', 'partition_column = "r"')

PY_ORDERS = """
    import pyarrow as pa
    from assetflow import asset


    @asset{args}
    def {name}():
        return pa.table({{"id": [1]}})
    """


def py(name: str, args: str = "") -> str:
    return textwrap.dedent(PY_ORDERS.format(name=name, args=args)).lstrip()


NFC, NFD = "caf\u00e9", "cafe\u0301"          # the same-looking name in two Unicode normal forms

MONTHLY = header('kind = "partitioned"', 'partition_by = "month"', 'time_column = "m"', 'start = "2024-01"',
                 'end = "2024-03"', query="select $start as m, 1 as v\n")
WEEKLY = header('kind = "partitioned"', 'partition_by = "week"', 'time_column = "w"', 'start = "2024-W01"',
                'end = "2024-W10"', query="select $start as w, 1 as v\n")


def toml_line(toml: str, needle: str) -> int:
    return next(n for n, line in enumerate(toml.splitlines(), 1) if needle in line)


SOURCE_BOTH = GOOD_TOML + '\n[sources]\n"raw.x" = { table = "raw.x", path = "data/x.csv" }\n'
ALERT_BAD = GOOD_TOML + '\n[alerts]\non_failure = [ { email = "ops@example.com" } ]\n'
SOURCE_CLASH = GOOD_TOML + '\n[sources]\n"raw.x" = { path = "data/x.csv" }\n'


@dataclass
class Case:
    id: str
    files: dict = field(default_factory=dict)
    toml: str | None = None
    expect: list = field(default_factory=list)      # each must appear in stderr
    args: tuple = ("materialize",)
    build_first: bool = False                       # build the project first, then make the mistake


CASES = [
    # ---- names -------------------------------------------------------------------------------
    Case("sql_and_python_asset_differ_only_in_case",
         files={"assets/staging/Orders.sql": "select 1 as id\n", "assets/staging/models.py": py("orders")},
         expect=["assets/staging/Orders.sql", "assets/staging/models.py", "staging.orders"]),
    Case("python_schema_and_name_override_clash_in_other_case",
         files={"assets/staging/orders.sql": "select 1 as id\n",
                "assets/other/models.py": py("o", '(schema="STAGING", name="ORDERS")')},
         expect=["assets/staging/orders.sql", "assets/other/models.py"]),
    Case("sql_names_clash_across_nfc_and_nfd",
         files={f"assets/{NFC}.sql": "select 1 as a\n", f"assets/{NFD}.sql": "select 2 as a\n"},
         expect=[f"assets/{NFC}.sql", f"assets/{NFD}.sql", "defined twice"]),
    Case("python_nfc_name_clashes_with_nfd_sql_file",
         files={"assets/fns.py": py(NFC), f"assets/{NFD}.sql": "select 2 as id\n"},
         expect=["assets/fns.py", f"assets/{NFD}.sql"]),
    Case("seed_and_sql_asset_differ_only_in_case",
         files={"seeds/Countries.csv": "code\nDE\n", "assets/seeds/countries.sql": "select 'DE' as code\n"},
         expect=["seeds/Countries.csv", "assets/seeds/countries.sql"]),
    Case("asset_named_like_a_declared_source", toml=SOURCE_CLASH,
         files={"data/x.csv": "id\n1\n", "assets/raw/x.sql": "select 1 as id\n"},
         expect=["assets/raw/x.sql", "assetflow.toml", "raw.x"]),
    # ---- partition settings --------------------------------------------------------------------
    Case("partition_start_is_not_a_date", files={"assets/a.sql": day_partitioned('start = "2024-13-01"')},
         expect=["assets/a.sql:5", "2024-13-01"]),          # the `start` line (issue 12 item 9)
    Case("hour_partition_start_is_not_an_hour",
         files={"assets/a.sql": header('kind = "partitioned"', 'partition_by = "hour"', 'time_column = "day"',
                                       'start = "2024-01-01T25"')},
         expect=["assets/a.sql:5", "2024-01-01T25"]),
    Case("partition_end_before_start",
         files={"assets/a.sql": day_partitioned('start = "2024-02-01"', 'end = "2024-01-01"')},
         expect=["assets/a.sql:6", "2024-01-01", "2024-02-01"]),
    Case("batch_size_on_static_partitions",
         files={"assets/a.sql": header(*STATIC, 'partitions = ["eu", "us"]', "batch_size = 2",
                                       query="select $partition as r\n")},
         expect=["assets/a.sql:6", "batch_size"]),
    Case("static_partition_keys_repeat",
         files={"assets/a.sql": header(*STATIC, 'partitions = ["eu", "eu"]', query="select $partition as r\n")},
         expect=["assets/a.sql:5", "partitions"]),
    Case("static_partition_keys_are_not_strings",
         files={"assets/a.sql": header(*STATIC, "partitions = [1, 2]", query="select $partition as r\n")},
         expect=["assets/a.sql:5", "partitions"]),
    Case("negative_lookback",
         files={"assets/a.sql": day_partitioned('start = "2024-01-01"', "lookback = -1")},
         expect=["assets/a.sql:6", "lookback"]),
    Case("partition_setting_on_a_table", files={"assets/a.sql": header('kind = "table"', 'partition_by = "day"', query="select 1 as x\n")},
         expect=["assets/a.sql:3", "partition_by"]),
    Case("python_asset_declared_as_view", files={"assets/v.py": py("v", '(kind="view")')},
         expect=["assets/v.py:5", "view"]),          # the @asset line
    # ---- checks and headers --------------------------------------------------------------------
    Case("unknown_check_kind", files={"assets/a.sql": header('checks = ["not_nul(id)"]', query="select 1 as id\n")},
         expect=["assets/a.sql:2", "not_nul(id)"]),
    Case("bad_check_severity",
         files={"assets/a.sql": header('checks = [{ check = "unique(id)", severity = "fatal" }]',
                                       query="select 1 as id\n")},
         expect=["assets/a.sql:2", "fatal"]),
    Case("relationships_check_to_unknown_asset",
         files={"assets/a.sql": header('checks = ["relationships(id, main.nope.id)"]', query="select 1 as id\n")},
         expect=["assets/a.sql", "main.nope"]),
    Case("header_key_given_twice",
         files={"assets/a.sql": header("retries = 1", "retries = 2", query="select 1 as id\n")},
         expect=["assets/a.sql:3"]),
    # ---- assetflow.toml ------------------------------------------------------------------------
    Case("source_with_both_table_and_path", toml=SOURCE_BOTH,
         expect=[f"assetflow.toml:{toml_line(SOURCE_BOTH, 'raw.x')}", "raw.x", "table", "path"]),
    Case("alert_entry_of_unknown_kind", toml=ALERT_BAD,
         expect=[f"assetflow.toml:{toml_line(ALERT_BAD, 'on_failure')}", "email"]),
    # ---- hostile or inconsistent partition arguments, on a project already built ----------------
    Case("partition_key_injection_month",
         files={"assets/m.sql": MONTHLY}, build_first=True,
         args=("materialize", "--partition", "2024-01'; drop table main.m; --"), expect=["2024-01'; drop"]),
    Case("backfill_from_key_injection",
         files={"assets/d.sql": day_partitioned('start = "2024-01-01"', 'end = "2024-01-05"')}, build_first=True,
         args=("backfill", "main.d", "--from", "2024-01-01'; drop table main.d; --", "--to", "2024-01-02"),
         expect=["2024-01-01'; drop"]),
    Case("week_from_after_to", files={"assets/w.sql": WEEKLY}, build_first=True,
         args=("materialize", "--from", "2024-W05", "--to", "2024-W02", "--full-refresh"),
         expect=["2024-W05", "2024-W02"]),
    Case("month_backfill_from_after_to", files={"assets/m.sql": MONTHLY}, build_first=True,
         args=("backfill", "main.m", "--from", "2024-03", "--to", "2024-01"), expect=["2024-03", "2024-01"]),
]


def user_tables(p) -> dict[str, tuple]:
    """Every user table with its row count and a content hash (assetflow's own schema left out)."""
    if not (p / "warehouse.duckdb").exists():
        return {}
    con = duckdb.connect(str(p / "warehouse.duckdb"), read_only=True)
    try:
        names = con.execute("select schema_name, table_name from duckdb_tables() where schema_name <> "
                            "'_assetflow' order by all").fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*), bit_xor(hash(x)) from "{s}"."{t}" as x').fetchone()
                for s, t in names}
    finally:
        con.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_rejected_up_front(project, af, case: Case):
    p = project({**BASE, **case.files}, case.toml)
    before = {}
    if case.build_first:
        ok(af(p, "materialize"))
        before = user_tables(p)
        assert len(before) >= 2

    r = af(p, *case.args)

    assert r.exit_code == 2, r.output
    assert PY_TRACEBACK not in r.output, r.output
    assert r.stderr.strip().startswith("error:"), r.output
    for needle in case.expect:
        assert needle in r.stderr, f"{needle!r} not in stderr:\n{r.stderr}"
    assert user_tables(p) == before             # nothing built, nothing already built touched


# ------------------------------------------------------------------------------------ bugs (up front)

BUGS = [
    pytest.param(GOOD_TOML.replace('dialect = "duckdb"', 'dialect = "duckdb"\nretries = -1'), "retries",
                 id="negative_project_retries"),
    pytest.param(GOOD_TOML.replace('dialect = "duckdb"', 'dialect = "duckdb"\nretries = 1\nretry_delay = -1'),
                 "retry_delay", id="negative_project_retry_delay"),
]


@pytest.mark.parametrize("toml, key", BUGS)
def test_bad_project_wide_retry_settings_are_rejected(project, af, toml, key):
    p = project({"assets/flaky.py": textwrap.dedent("""
        from assetflow import asset


        @asset
        def flaky():
            raise RuntimeError("always")
        """).lstrip()}, toml)
    r = af(p, "materialize")
    assert PY_TRACEBACK not in r.output, r.output
    assert r.exit_code == 2, r.output
    assert f"assetflow.toml:{toml_line(toml, key)}" in r.stderr and key in r.stderr, r.stderr


def test_sql_duckdb_cannot_parse_is_rejected_up_front(project, af):
    p = project({**BASE, "assets/q.sql": 'select 1 as ""\n'})
    r = af(p, "materialize")
    assert r.exit_code == 2, r.output
    assert "assets/q.sql:1" in r.stderr, r.output
    assert user_tables(p) == {}


# ------------------------------------------------------------------------------------ names that work

def test_reserved_words_and_odd_names_are_usable_tables(project, af):
    p = project({
        "assets/main/select.sql": 'select 1 as "from", \'x\' as "order"\n',
        "assets/order.sql": 'select "from" + 1 as "group" from main."select"\n',
        "assets/group/table.sql": 'select "group" * 10 as v from "order"\n',
    })
    res = materialize(af, p)
    assert {x["asset"] for x in res["results"] if x["status"] == "success"} == \
        {"main.select", "main.order", "group.table"}
    assert query(p, 'select "from", "order" from main."select"') == [(1, "x")]
    assert query(p, 'select "group" from main."order"') == [(2,)]
    assert query(p, 'select v from "group"."table"') == [(20,)]
    r = ok(af(p, "graph", "--format", "json"))
    ups = {a["name"]: a["upstream"] for a in r.json()["assets"]}
    assert ups["main.order"] == ["main.select"] and ups["group.table"] == ["main.order"]
    assert_verified(af, p)
    assert materialize(af, p)["results"] == []


# ------------------------------------------------------------------------------------ found at run time

def test_python_rows_outside_a_static_partition_fail_only_that_partition(project, af):
    p = project({"assets/regions.py": """
        import pyarrow as pa
        from assetflow import asset


        @asset(partition_by="static", partitions=["eu", "us"], partition_column="region")
        def regions(context):
            region = "us" if context.partition == "eu" else context.partition      # eu writes us rows
            return pa.table({"region": [region], "v": [1]})
        """, "assets/other.sql": "select 1 as fine\n"})
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output                              # a run failure, not bad input
    assert PY_TRACEBACK not in r.output
    got = {(x["asset"], x["partition"]): x for x in r.json()["results"]}
    assert got[("main.regions", "eu")]["status"] == "failed"
    assert "outside the partition" in got[("main.regions", "eu")]["error"]
    assert "assets/regions.py" in got[("main.regions", "eu")]["error"]
    assert got[("main.regions", "us")]["status"] == "success"
    assert got[("main.other", None)]["status"] == "success"
    assert query(p, "select region, v from main.regions") == [("us", 1)]
    assert_verified(af, p)


def test_python_rows_with_a_null_time_column_fail_that_partition(project, af):
    p = project({"assets/days.py": """
        import pyarrow as pa
        from assetflow import asset


        @asset(partition_by="day", start="2024-01-01", end="2024-01-02", time_column="day")
        def days(context):
            day = None if context.partition == "2024-01-02" else context.start
            return pa.table({"day": pa.array([day], pa.date32()), "v": [1]})
        """})
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    got = {x["partition"]: x for x in r.json()["results"]}
    assert got["2024-01-01"]["status"] == "success"
    assert got["2024-01-02"]["status"] == "failed" and "outside the partition" in got["2024-01-02"]["error"]
    assert query(p, "select count(*), count(day) from main.days") == [(1, 1)]
    assert_verified(af, p)


VANISH_TOML = GOOD_TOML + '\n[sources]\n"raw.events" = { path = "data/events.csv" }\n'
VANISH_FILES = {
    "data/events.csv": "id,day\n1,2024-01-01\n2,2024-01-02\n3,2024-01-02\n",
    "assets/stg.sql": day_partitioned('start = "2024-01-01"', 'end = "2024-01-02"').replace(
        "select $start as day, 1 as v\n", "select id, day from raw.events where day >= $start and day < $end\n"),
    "assets/total.sql": "select count(*) as n from main.stg\n",
    "assets/other.sql": "select 42 as x\n",
}


def test_vanished_source_file_blocks_its_partitions_and_keeps_the_last_good_data(project, af):
    p = project(VANISH_FILES, VANISH_TOML)
    materialize(af, p)
    csv = (p / "data/events.csv").read_text()
    (p / "data/events.csv").unlink()

    r = af(p, "materialize", "--full-refresh", "--json")
    assert r.exit_code == 1, r.output
    assert PY_TRACEBACK not in r.output
    res = r.json()
    assert {(x["asset"], x["status"]) for x in res["results"]} == {("main.other", "success")}
    blocked = {(b["asset"], b["partition"]): b["reasons"] for b in res["blocked"]}
    assert blocked[("main.stg", "2024-01-01")] == ["source missing: raw.events"]
    assert blocked[("main.stg", "2024-01-02")] == ["source missing: raw.events"]
    assert ("main.total", None) in blocked
    # the last good data is still there, and still agrees with the state store
    assert query(p, "select id from main.stg order by id") == [(1,), (2,), (3,)]
    assert query(p, "select n from main.total") == [(3,)]
    assert_verified(af, p)

    # the file comes back: everything builds again
    (p / "data/events.csv").write_text(csv.replace("3,2024-01-02", "3,2024-01-01"))
    res = materialize(af, p)
    assert query(p, "select day::varchar, count(*) from main.stg group by all order by 1") == \
        [("2024-01-01", 2), ("2024-01-02", 1)]
    assert query(p, "select n from main.total") == [(3,)]


def test_status_and_a_plain_run_show_partitions_of_a_vanished_source_as_blocked(project, af):
    """SPEC 5: a partition whose source data is missing is blocked and shown why, even when built."""
    p = project(VANISH_FILES, VANISH_TOML)
    materialize(af, p)
    (p / "data/events.csv").unlink()
    r = ok(af(p, "status", "--json"))
    stg = next(a for a in r.json()["assets"] if a["name"] == "main.stg")
    assert stg["partitions"]["blocked"] == 2, stg
    assert all("source missing" in " ".join(b["reasons"]) for b in stg["blocked"]), stg
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    assert {b["asset"] for b in r.json()["blocked"]} >= {"main.stg"}
    assert query(p, "select count(*) from main.stg") == [(3,)]          # still the last good data


def test_source_glob_matching_nothing_blocks_before_anything_is_written(project, af):
    p = project({"assets/stg.sql": "select * from raw.ev\n", "assets/other.sql": "select 1 as x\n"},
                GOOD_TOML + '\n[sources]\n"raw.ev" = { path = "data/*.csv" }\n')
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    res = r.json()
    assert [(b["asset"], b["reasons"]) for b in res["blocked"]] == [("main.stg", ["source missing: raw.ev"])]
    assert {x["asset"] for x in res["results"]} == {"main.other"}
    assert set(user_tables(p)) == {"main.other"}
