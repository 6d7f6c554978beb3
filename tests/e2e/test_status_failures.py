"""`status` of a failed partition says why: its first error line, when it failed (UTC, Z) and
the run, in text and --json."""
from __future__ import annotations

import re

from conftest import write_project

FILES = {
    "assets/ok.sql": "select 1 as id\n",
    "assets/bad.sql": "select 'not a number'::int as v\n",
    "assets/days.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "d"
        start = "2024-01-01"
        end = "2024-01-03"
        */
        select $start::date as d, case when $start::date = '2024-01-02' then error('day two is broken') end as v
        """,
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def failed_run(tmp_path, af):
    p = write_project(tmp_path / "proj", FILES)
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    run = next(x for x in af(p, "runs", "--json").json()["runs"] if x["run_id"] == r.json()["run_id"])
    return p, run


def test_status_json_gives_each_failed_partition_its_error_time_and_run(tmp_path, af):
    p, run = failed_run(tmp_path, af)
    assets = {a["name"]: a for a in af(p, "status", "--json").json()["assets"]}
    bad = assets["main.bad"]["failed"]
    assert len(bad) == 1 and bad[0]["partition"] is None
    assert bad[0]["error"].startswith("ConversionException: ") and "\n" not in bad[0]["error"]
    assert bad[0]["run_id"] == run["run_id"]
    assert ISO_Z.match(bad[0]["failed_at"]) and run["started_at"] <= bad[0]["failed_at"] <= run["ended_at"]
    day = assets["main.days"]["failed"]
    assert [f["partition"] for f in day] == ["2024-01-02"]
    assert "day two is broken" in day[0]["error"] and day[0]["run_id"] == run["run_id"]
    assert assets["main.ok"]["failed"] == []


def test_status_text_shows_the_error_under_the_failed_partition(tmp_path, af):
    p, run = failed_run(tmp_path, af)
    lines = af(p, "status", "main.days", "main.bad").stdout.splitlines()
    at = next(n for n, line in enumerate(lines) if "failed: 2024-01-02" in line)
    error = lines[at + 1].strip()
    assert error.startswith("error: ") and "day two is broken" in error
    assert re.search(rf"\(\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ, run {run['run_id']}\)$", error), error
    bad = next(line.strip() for line in lines if "ConversionException" in line)
    assert bad.startswith("error: ConversionException: ") and f"run {run['run_id']}" in bad


def test_a_partition_fixed_later_shows_no_error(tmp_path, af):
    p, _ = failed_run(tmp_path, af)
    (p / "assets" / "bad.sql").write_text("select 1 as v\n")
    assert af(p, "materialize", "main.bad").exit_code == 0
    assets = {a["name"]: a for a in af(p, "status", "--json").json()["assets"]}
    assert assets["main.bad"]["failed"] == []
    assert "ConversionException" not in af(p, "status").stdout
