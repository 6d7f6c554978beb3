"""What renamed or deleted assets and narrowed partition ranges leave behind: `status` lists the
orphans, `assetflow clean` lists them with their state and the rows outside a range, `--yes` drops
them in one transaction, and nothing assetflow did not create is ever touched (issue 12, item 16).
"""
from __future__ import annotations

import duckdb

from conftest import query

ORDERS = "select * from (values (1, 10), (2, 20)) t(order_id, amount)\n"
DAILY = """
    /* assetflow
    partition_by = "day"
    time_column = "day"
    start = "{start}"
    end = "{end}"
    */
    select day, 1 as n from range(DATE '2024-01-01', DATE '2024-01-08', INTERVAL 1 DAY) t(day)
    where day >= $start and day < $end
    """
STATIC = """
    /* assetflow
    partition_by = "static"
    partition_column = "region"
    partitions = {keys}
    */
    select region, 1 as n from (values ('eu'), ('us'), ('apac')) t(region) where region = $partition
    """


def ok(r, code: int = 0):
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output, r.output
    return r


def relations(p) -> set[tuple[str, str]]:
    return set(query(p, "select schema_name || '.' || table_name, 'table' from duckdb_tables() "
                        "where schema_name <> '_assetflow' union all select schema_name || '.' || view_name, "
                        "'view' from duckdb_views() where not internal and schema_name <> '_assetflow'"))


def records(p, asset: str) -> list[str]:
    return [r[0] for r in query(p, f"select partition from _assetflow.partitions where asset = '{asset}' order by 1")]


def test_a_renamed_and_a_deleted_asset_are_orphans_until_clean_yes(af, project):
    p = project({"assets/staging/orders_v1.sql": ORDERS,
                 "assets/staging/recent.sql": "/* assetflow\nkind = \"view\"\n*/\nselect * from staging.orders_v1\n",
                 "assets/marts/total.sql": "select sum(amount) as total from staging.orders_v1\n"})
    ok(af(p, "materialize"))
    (p / "assets/staging/orders_v1.sql").rename(p / "assets/staging/orders.sql")
    (p / "assets/staging/recent.sql").unlink()
    (p / "assets/marts/total.sql").write_text("select sum(amount) as total from staging.orders\n")
    ok(af(p, "materialize"))

    st = ok(af(p, "status", "--json")).json()
    assert st["orphans"] == [{"name": "staging.orders_v1", "kind": "table"}, {"name": "staging.recent", "kind": "view"}]
    text = ok(af(p, "status")).stdout
    assert "orphans:" in text and "staging.orders_v1 (table)" in text and "staging.recent (view)" in text

    listed = ok(af(p, "clean", "--json")).json()
    assert listed["cleaned"] is False and listed["out_of_range"] == []
    assert listed["orphans"] == [{"name": "staging.orders_v1", "kind": "table", "records": 1},
                                 {"name": "staging.recent", "kind": "view", "records": 1}]
    assert ("staging.orders_v1", "table") in relations(p)                  # listing changes nothing

    done = ok(af(p, "clean", "--yes", "--json")).json()
    assert done["cleaned"] is True and done["run_id"]
    assert relations(p) == {("staging.orders", "table"), ("marts.total", "table")}
    assert records(p, "staging.orders_v1") == [] and records(p, "staging.recent") == []
    assert query(p, "select total from marts.total") == [(30,)]
    assert ok(af(p, "status", "--json")).json()["orphans"] == []
    assert "Nothing to clean" in ok(af(p, "clean")).stdout
    runs = ok(af(p, "runs", "--json")).json()["runs"]
    assert runs[0]["command"] == "clean --yes" and runs[0]["status"] == "success"
    assert ok(af(p, "materialize", "--json")).json()["results"] == []        # nothing became stale


def test_only_what_assetflow_built_is_ever_dropped(af, project):
    p = project({"assets/kept.sql": "select 1 as x\n",
                 "assets/never_built.sql": "select nope from range(1)\n",
                 "assets/now_a_source.sql": "select 2 as y\n"})
    ok(af(p, "materialize"), 1)                                           # never_built fails
    con = duckdb.connect(str(p / "warehouse.duckdb"))
    con.execute("create schema raw; create table raw.manual as select 1 as m; "
                "create table main.never_built as select 'mine' as owner; "
                "create view main.my_view as select 1 as v")
    con.close()
    (p / "assets/never_built.sql").unlink()
    (p / "assets/now_a_source.sql").unlink()
    toml = (p / "assetflow.toml").read_text() + '\n[sources]\n"main.now_a_source" = { table = "main.now_a_source" }\n'
    (p / "assetflow.toml").write_text(toml)
    assert ok(af(p, "status", "--json")).json()["orphans"] == []
    listed = ok(af(p, "clean", "--json")).json()
    assert listed["orphans"] == [{"name": "main.never_built", "kind": None, "records": 1}]   # its state only
    ok(af(p, "clean", "--yes"))
    assert {("raw.manual", "table"), ("main.never_built", "table"), ("main.my_view", "view"),
            ("main.now_a_source", "table"), ("main.kept", "table")} <= relations(p)
    assert query(p, "select owner from main.never_built") == [("mine",)]
    assert records(p, "main.never_built") == []
    assert records(p, "main.now_a_source") == [""]                       # a source's name is in use


def test_a_file_source_no_longer_declared_leaves_an_orphan_view(af, project):
    toml = """
        [project]
        name = "t"

        [targets.dev]
        path = "warehouse.duckdb"

        [sources]
        "raw.events" = {{ path = "data/events.csv" }}
        """
    p = project({"data/events.csv": "id\n1\n2\n", "assets/n.sql": "select count(*) as n from raw.events\n"},
                toml.format())
    ok(af(p, "materialize"))
    (p / "assetflow.toml").write_text((p / "assetflow.toml").read_text().replace("raw.events", "raw.events_v2"))
    (p / "assets/n.sql").write_text("select count(*) as n from raw.events_v2\n")
    ok(af(p, "materialize"))
    assert ok(af(p, "status", "--json")).json()["orphans"] == [{"name": "raw.events", "kind": "view"}]
    ok(af(p, "clean", "--yes"))
    assert ("raw.events", "view") not in relations(p) and ("raw.events_v2", "view") in relations(p)


def test_rows_outside_a_narrowed_time_range_are_reported_and_removed(af, project):
    p = project({"assets/daily.sql": DAILY.format(start="2024-01-01", end="2024-01-06")})
    ok(af(p, "materialize"))
    assert query(p, "select count(*) from main.daily") == [(6,)]
    (p / "assets/daily.sql").write_text(DAILY.format(start="2024-01-02", end="2024-01-04").lstrip())
    assert ok(af(p, "materialize", "--json")).json()["results"] == []     # a range change rebuilds nothing

    verify = ok(af(p, "status", "--verify", "--json")).json()             # not drift: exit 0
    assert verify["drift"] == []
    assert verify["outside_range"] == [{"asset": "main.daily", "range": "2024-01-02 .. 2024-01-04", "rows": 3,
                                        "records": 3, "partitions": ["2024-01-01", "2024-01-05", "2024-01-06"]}]
    text = ok(af(p, "status", "--verify")).stdout
    assert "main.daily: 3 rows and 3 partition record(s) in 3 partition(s)" in text
    listed = ok(af(p, "clean")).stdout
    assert "main.daily: 3 rows and 3 partition record(s)" in listed and "the range is 2024-01-02 .. 2024-01-04" in listed

    ok(af(p, "clean", "--yes"))
    assert query(p, "select strftime(day, '%d') from main.daily order by 1") == [("02",), ("03",), ("04",)]
    assert records(p, "main.daily") == ["2024-01-02", "2024-01-03", "2024-01-04"]
    verify = ok(af(p, "status", "--verify", "--json")).json()
    assert verify["drift"] == [] and verify["outside_range"] == []


def test_rows_of_a_removed_static_key_are_removed(af, project):
    p = project({"assets/regions.sql": STATIC.format(keys='["eu", "us", "apac"]')})
    ok(af(p, "materialize"))
    (p / "assets/regions.sql").write_text(STATIC.format(keys='["eu", "us"]').lstrip())
    listed = ok(af(p, "clean", "--json")).json()
    assert [(o["asset"], o["rows"], o["partitions"]) for o in listed["out_of_range"]] == \
        [("main.regions", 1, ["apac"])]
    ok(af(p, "clean", "--yes"))
    assert query(p, "select region from main.regions order by 1") == [("eu",), ("us",)]
    assert records(p, "main.regions") == ["eu", "us"]


def test_clean_before_the_first_run_has_nothing_to_do(af, project):
    p = project({"assets/x.sql": "select 1 as x\n"})
    assert ok(af(p, "clean", "--json")).json() == {"orphans": [], "out_of_range": [], "cleaned": False,
                                                   "run_id": None}
    assert not (p / "warehouse.duckdb").exists()
