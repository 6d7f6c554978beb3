"""Resumable backfills (SPEC section 11): a backfill killed with SIGKILL, interrupted or failed is
resumed by running it again, which builds only what it had not built; `--restart` rebuilds the
range; `runs` shows each backfill run's progress, text and JSON."""
from __future__ import annotations

from collections import Counter

from conftest import query
from helpers import KILLED, ok, runs

TOML = """
[project]
name = "t"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 1
"""

FILES = {
    "assets/days.sql": '/* assetflow\npartition_by = "day"\ntime_column = "day"\nstart = "2024-01-01"\n'
                       'end = "2024-01-20"\n*/\nselect $start as day, 1 as x\n',
    "assets/total.sql": "select count(*) as n from main.days\n",
}
BACKFILL = ("backfill", "main.days", "--from", "2024-01-03", "--to", "2024-01-12")
RANGE = [f"2024-01-{d:02d}" for d in range(3, 13)]


def built_by(p, run_id: str) -> list[str]:
    return sorted(k for (k,) in query(p, "select partition from _assetflow.attempts where run_id = ? and "
                                         "asset = 'main.days' and status = 'success'".replace("?", f"'{run_id}'")))


def test_a_killed_backfill_rerun_builds_only_the_rest_and_restart_rebuilds_all(af, project):
    p = project(FILES, TOML)
    ok(af(p, "materialize", "main.days"))                      # every day built once already
    killed = af(p, *BACKFILL, env={"ASSETFLOW_FAULT": "after_commit:4"})
    assert killed.exit_code in KILLED, killed.output
    first = runs(af, p)[0]
    assert first["status"] == "abandoned" and first["backfill"]["done"] == 4
    done_before = built_by(p, first["run_id"])
    assert len(done_before) == 4

    resumed = ok(af(p, *BACKFILL, "--json")).json()
    rebuilt = sorted(x["partition"] for x in resumed["results"] if x["asset"] == "main.days")
    assert rebuilt == sorted(set(RANGE) - set(done_before))     # only what the killed run had not built
    assert any(x["asset"] == "main.total" for x in resumed["results"])
    second = runs(af, p)[0]
    assert second["backfill"] == {"id": "main.days 2024-01-03..2024-01-12", "asset": "main.days",
                                  "from": "2024-01-03", "to": "2024-01-12", "pass": 1, "done": 10, "total": 10}
    per_day = Counter(k for r in (first, second) for k in built_by(p, r["run_id"]))
    assert per_day == Counter(RANGE)                            # each day of the range exactly once

    text = ok(af(p, "runs")).stdout.splitlines()
    assert text[0].endswith("(10 of 10 done)") and text[1].endswith("(4 of 10 done)")

    restarted = ok(af(p, *BACKFILL, "--restart", "--json")).json()
    assert sorted(x["partition"] for x in restarted["results"] if x["asset"] == "main.days") == RANGE
    assert runs(af, p)[0]["backfill"]["pass"] == 2


def test_a_failed_backfill_resumes_at_what_failed_and_other_ranges_are_other_backfills(af, project):
    p = project(FILES, TOML)
    ok(af(p, "materialize", "main.days"))
    sql = (p / "assets/days.sql").read_text().replace(
        "select $start as day, 1 as x",
        "select $start as day, case when $partition = '2024-01-07' and not exists "
        f"(select 1 from glob('{p / 'fixed.txt'}')) then error('not yet') else 1 end as x")
    (p / "assets/days.sql").write_text(sql)
    failed = ok(af(p, *BACKFILL, "--json"), 1).json()
    assert [x["partition"] for x in failed["results"] if x["status"] == "failed"] == ["2024-01-07"]
    assert runs(af, p)[0]["backfill"]["done"] == 9
    (p / "fixed.txt").write_text("")
    again = ok(af(p, *BACKFILL, "--json")).json()
    assert [x["partition"] for x in again["results"] if x["asset"] == "main.days"] == ["2024-01-07"]
    # a different range is a backfill of its own: it rebuilds all of its days
    other = ok(af(p, "backfill", "main.days", "--from", "2024-01-03", "--to", "2024-01-04", "--json")).json()
    assert sorted(x["partition"] for x in other["results"] if x["asset"] == "main.days") == RANGE[:2]
    assert runs(af, p)[0]["backfill"]["total"] == 2


def test_a_plain_materialize_is_no_backfill(af, project):
    p = project(FILES, TOML)
    ok(af(p, "materialize"))
    assert runs(af, p)[0]["backfill"] is None
    assert "done)" not in ok(af(p, "runs")).stdout
