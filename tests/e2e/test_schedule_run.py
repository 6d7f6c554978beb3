"""`schedule run --once --at` over a simulated week (SPEC section 11 acceptance), through the real
CLI: a daily schedule in Europe/Berlin with a downstream, a max_age extract, two days of
downtime, the spring DST change, and an edited cron. Every call is a fresh process; time is only
ever the `--at` instant."""
from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from conftest import query

TOML = """
[project]
name = "week"

[targets.dev]
path = "warehouse.duckdb"
threads = 2

[schedules.nightly]
cron = "0 2 * * *"
timezone = "Europe/Berlin"
select = "+marts.daily +marts.priced"
catchup = "7d"
"""

FILES = {
    "assets/staging/orders_day.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "2026-03-22"
        */
        select $start as day, 10 as orders
        """,
    "assets/marts/daily.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "2026-03-22"
        */
        select day, orders * 2 as doubled from staging.orders_day where day >= $start and day < $end
        """,
    # an "API extract": nothing assetflow can see changes, so only max_age refreshes it
    "assets/raw/rates.py": """
        import pyarrow as pa
        from assetflow import asset

        @asset(max_age="24h")
        def rates():
            return pa.table({"currency": ["EUR"], "rate": [1.1]})
        """,
    "assets/marts/priced.sql": "select currency, rate * 2 as doubled from raw.rates\n",
    "assets/marts/unscheduled.sql": "select 1 as x\n",
}

EXTRACT = [("marts.priced", None), ("raw.rates", None)]


def days(asset: str, *keys: str) -> list[tuple[str, str | None]]:
    return [(asset, f"2026-03-{k}") for k in keys]


def tick_once(af, p, at: str) -> list[dict]:
    r = af(p, "schedule", "run", "--once", "--at", at, "--json")
    assert r.exit_code == 0, r.output
    return r.json()["ticks"]


def built_by(af, p, run_id: str) -> list[tuple[str, str | None]]:
    r = af(p, "runs", "show", run_id, "--json")
    assert r.exit_code == 0, r.output
    return sorted((a["asset"], a["partition"]) for a in r.json()["attempts"] if a["status"] == "success")


def test_a_simulated_week(project, af):
    p = project(FILES, TOML)
    expected_runs = []

    def step(at: str, ticks: list[tuple[str, str]], built: list | None = None) -> None:
        got = tick_once(af, p, at)
        assert [(t["tick"], t["status"]) for t in got] == ticks, (at, got)
        ran = [t for t in got if t["run_id"]]
        assert len(ran) == (built is not None), got
        if built is not None:
            assert all(t["schedule"] == "nightly" for t in got)
            assert built_by(af, p, ran[0]["run_id"]) == sorted(built), at
            expected_runs.append((ran[0]["run_id"], ran[0]["tick"]))

    # first seen just before the 02:00 CET tick: nothing earlier runs
    step("2026-03-24T00:30:00Z", [])
    # 02:00 CET = 01:00Z: the closed days 22 and 23, the extract (never built) and its reader
    step("2026-03-24T01:00:20Z", [("2026-03-24T01:00:00Z", "success")],
         days("staging.orders_day", "22", "23") + days("marts.daily", "22", "23") + EXTRACT)
    # the same instant again: the tick is decided, nothing runs twice
    step("2026-03-24T01:00:40Z", [])
    # a day later: day 24, and the extract is 24 h old
    step("2026-03-25T01:00:05Z", [("2026-03-25T01:00:00Z", "success")],
         days("staging.orders_day", "24") + days("marts.daily", "24") + EXTRACT)
    # down for two days: one run at the latest tick covers the missed ones
    step("2026-03-28T01:05:00Z", [("2026-03-26T01:00:00Z", "missed"), ("2026-03-27T01:00:00Z", "missed"),
                                  ("2026-03-28T01:00:00Z", "success")],
         days("staging.orders_day", "25", "26", "27") + days("marts.daily", "25", "26", "27") + EXTRACT)
    # spring forward (29 March): 02:00 does not exist; it fires once at 03:00 CEST = 01:00Z
    step("2026-03-29T00:59:00Z", [])
    step("2026-03-29T01:00:01Z", [("2026-03-29T01:00:00Z", "success")],
         days("staging.orders_day", "28") + days("marts.daily", "28") + EXTRACT)
    step("2026-03-29T02:00:00Z", [])
    # summer time: 02:00 CEST = 00:00Z; the extract is 23 h old and stays
    step("2026-03-30T00:00:30Z", [("2026-03-30T00:00:00Z", "success")],
         days("staging.orders_day", "29") + days("marts.daily", "29"))
    step("2026-03-31T00:00:30Z", [("2026-03-31T00:00:00Z", "success")],
         days("staging.orders_day", "30") + days("marts.daily", "30") + EXTRACT)

    # an edited cron starts from now: its 02:30 tick of today came before the edit and never runs
    (p / "assetflow.toml").write_text(textwrap.dedent(TOML).replace('"0 2 * * *"', '"30 2 * * *"'))
    step("2026-04-01T00:40:00Z", [])
    step("2026-04-02T00:31:00Z", [("2026-04-02T00:30:00Z", "success")],
         days("staging.orders_day", "31") + [("staging.orders_day", "2026-04-01")]
         + days("marts.daily", "31") + [("marts.daily", "2026-04-01")] + EXTRACT)

    stored = query(p, "SELECT strftime(tick, '%m-%d %H:%M'), status, run_id FROM _assetflow.schedule_ticks "
                      "ORDER BY tick")
    assert [(t, s) for t, s, _ in stored] == [
        ("03-24 01:00", "success"), ("03-25 01:00", "success"), ("03-26 01:00", "missed"),
        ("03-27 01:00", "missed"), ("03-28 01:00", "success"), ("03-29 01:00", "success"),
        ("03-30 00:00", "success"), ("03-31 00:00", "success"), ("04-02 00:30", "success")]
    # every run is an ordinary run, labelled with its schedule and tick; nothing else ran
    r = af(p, "runs", "--json", "--limit", "100")
    runs = r.json()["runs"]
    assert sorted((x["run_id"], x["tick"]) for x in runs) == sorted(expected_runs)
    assert {x["trigger"] for x in runs} == {"schedule:nightly"} and {x["status"] for x in runs} == {"success"}
    # a simulated tick's run ends on the simulated clock too: seconds after its tick, not today
    ends = query(p, "SELECT run_id, ended_at - started_at FROM _assetflow.runs")
    assert all(timedelta(0) <= took < timedelta(minutes=5) for _, took in ends), ends
    text = af(p, "runs").stdout
    assert "[schedule:nightly tick 2026-04-02T00:30Z]" in text
    assert query(p, "SELECT count(*) FROM marts.daily") == [(11,)]


def test_list_and_preview(project, af):
    p = project(FILES, TOML)
    r = af(p, "schedule", "list", "--json", "--at", "2026-03-28T12:00:00Z")
    assert r.exit_code == 0, r.output
    (nightly,) = r.json()["schedules"]
    assert nightly["next"] == ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-31T00:00:00Z"]
    assert nightly["next_local"][0] == "2026-03-29T03:00:00+02:00"
    assert (nightly["name"], nightly["cron"], nightly["timezone"], nightly["select"], nightly["enabled"],
            nightly["last"]) == ("nightly", "0 2 * * *", "Europe/Berlin", "+marts.daily +marts.priced", True, None)
    assert r.json()["heartbeat"] is None

    r = af(p, "schedule", "preview", "nightly", "--at", "2026-03-24T09:00:00+01:00", "--json")
    assert r.exit_code == 0, r.output
    plan = r.json()
    assert plan["tick"] == "2026-03-24T01:00:00Z"
    assert sorted((x["asset"], x["partition"]) for x in plan["results"]) == sorted(
        days("staging.orders_day", "22", "23") + days("marts.daily", "22", "23") + EXTRACT)
    assert not (p / "warehouse.duckdb").exists()      # a preview builds nothing

    tick_once(af, p, "2026-03-24T01:00:00Z")
    r = af(p, "schedule", "list", "--at", "2026-03-24T01:00:30Z")
    assert r.exit_code == 0, r.output
    assert "last  2026-03-24T01:00:00Z  success run" in r.stdout and "last beat 30s ago" in r.stdout
    assert "(2026-03-25 02:00 CET)" in r.stdout
    r = af(p, "schedule", "list", "--at", "2026-03-24T00:59:00Z")       # looked at before that beat
    assert "last beat at 2026-03-24T01:00:00Z (a simulated --at instant, ahead of now)" in r.stdout, r.stdout
    assert "s ago" not in r.stdout


@pytest.mark.parametrize("args, edit, needle, where", [
    (["schedule", "run", "--once", "--at", "next tuesday"], None, "not an ISO 8601", None),
    (["schedule", "preview", "nightli"], None, "no schedule 'nightli'", "did you mean nightly"),
    (["schedule", "run", "--once"], ('select = "+marts.daily +marts.priced"', 'select = "tag:nothing"'),
     "schedules.nightly.select", "assetflow.toml:11"),
    (["schedule", "run", "--once"], ('select = "+marts.daily +marts.priced"', 'select = "marts.daly"'),
     "schedules.nightly.select", "assetflow.toml:11"),
    (["schedule", "list"], ('cron = "0 2 * * *"', 'cron = "0 2 * *"'), "schedules.nightly.cron", "assetflow.toml:9"),
    (["schedule", "run", "--once"], ('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"'),
     "unknown time zone", "assetflow.toml:10"),
])
def test_bad_input_is_exit_2_naming_file_and_key(project, af, args, edit, needle, where):
    toml = textwrap.dedent(TOML)
    if edit is not None:
        toml = toml.replace(*edit)
    p = project(FILES, toml)
    r = af(p, *args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and needle in r.stderr, r.stderr
    if where is not None:
        assert where in r.stderr, r.stderr
    assert not (p / "warehouse.duckdb").exists()
    j = af(p, *args, "--json")
    assert j.exit_code == 2 and needle in j.json()["error"]["message"] + str(j.json()["error"]["hint"])
