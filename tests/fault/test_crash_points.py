"""Deterministic crashes at each named point of a data write (ASSETFLOW_FAULT=<point>:<n> makes the
process SIGKILL itself the n-th time a write reaches the point), then a resume.

With one worker thread the writes happen one after another, so exactly which partitions the
crashed run committed is known: the n-1 writes before the fatal one, plus the n-th itself when the
kill comes after its COMMIT. Every partition must then hold either its last committed build or its
new one (never a mix), the state store must agree, and the resumed run must build exactly the rest.
"""
from __future__ import annotations

from collections import Counter

import pytest

from conftest import query
from helpers import (DAILY, KILLED, STAGE, TOTAL, all_partitions, assert_exact, assert_verified, chain_project,
                     day_keys, events_csv, expected_by_day, materialize, not_fresh, ok, run_show, runs, set_variant,
                     stage_by_day, successes, table_exists, verify)

NDAYS = 10
WRITES = 2 * NDAYS + 1          # staging and marts.daily partitions, then the marts.total table
POINTS = ("before_transaction", "after_delete", "before_commit", "after_commit")

CASES = [pytest.param(point, 1, "fresh", 1, id=f"{point}-1st-write-fresh-db") for point in POINTS] + \
        [pytest.param(point, 12, "rebuild", 1, id=f"{point}-12th-write-rebuild") for point in POINTS] + \
        [pytest.param(point, WRITES, "rebuild", 1, id=f"{point}-last-write-rebuild")
         for point in ("before_commit", "after_commit")] + \
        [pytest.param(point, 7, "rebuild", 2, id=f"{point}-7th-write-rebuild-2-threads")
         for point in ("after_delete", "before_commit")]


@pytest.mark.parametrize("point,nth,scenario,threads", CASES)
def test_crash_at_a_named_point_then_resume(af, project, point, nth, scenario, threads):
    p = chain_project(project, NDAYS, variant=0, threads=threads)
    if scenario == "rebuild":
        materialize(af, p)
        set_variant(p, NDAYS, 1)           # every partition is stale now, with known old and new contents

    r = af(p, "materialize", "--json", env={"ASSETFLOW_FAULT": f"{point}:{nth}"})
    assert r.exit_code in KILLED, f"expected the process to SIGKILL itself at {point}:{nth}\n{r.output}"

    # --- right after the crash ------------------------------------------------------------
    history = runs(af, p)
    assert len(history) == (2 if scenario == "rebuild" else 1), history
    crashed = history[0]                                        # the latest run
    assert crashed["status"] == "abandoned", crashed          # the lock is free: its process is gone
    committed = successes(af, p, [crashed["run_id"]])
    assert set(committed.values()) <= {1}, committed
    if threads == 1:
        assert sum(committed.values()) == (nth if point == "after_commit" else nth - 1), sorted(committed)
    else:                       # the other worker may or may not have got its own write through
        assert nth - 2 <= sum(committed.values()) <= nth + 1, sorted(committed)

    old = expected_by_day(events_csv(NDAYS, 0))
    new = expected_by_day(events_csv(NDAYS, 1 if scenario == "rebuild" else 0))
    have = stage_by_day(p) if table_exists(p, "staging", "events_day") else {}
    for day in day_keys(NDAYS):
        if (STAGE, day) in committed:
            assert have.get(day) == new[day], (day, have.get(day), new[day])
        elif scenario == "rebuild":
            assert have.get(day) == old[day], f"{day}: the last good build must be kept, got {have.get(day)}"
        else:
            assert day not in have, f"{day} has rows nobody committed: {have.get(day)}"
    drift, _ = verify(af, p)
    assert drift == [], drift

    # --- resume -----------------------------------------------------------------------------
    res = materialize(af, p)
    assert res["status"] == "success", res
    # (a run with nothing to do is not recorded, so it has no attempts to count)
    rebuilt = successes(af, p, [res["run_id"]]) if res["results"] else Counter()
    assert sum(rebuilt.values()) == len(res["results"])
    assert not set(rebuilt) & set(committed), sorted(set(rebuilt) & set(committed), key=str)
    once = committed + rebuilt
    assert set(once) == all_partitions(NDAYS) and set(once.values()) == {1}, sorted(once.items(), key=str)

    assert_exact(p, NDAYS, f"{point}:{nth}")
    assets = assert_verified(af, p, f"{point}:{nth}")
    assert not_fresh(assets) == {}
    statuses = {x["run_id"]: x["status"] for x in runs(af, p)}
    assert statuses[crashed["run_id"]] == "abandoned"
    assert statuses.get(res["run_id"], "success") == "success"
    # and nothing is left to do
    assert ok(af(p, "materialize", "--json")).json()["results"] == []


def test_unknown_fault_point_is_rejected(af, project):
    p = chain_project(project, 3)
    r = af(p, "materialize", env={"ASSETFLOW_FAULT": "after_lunch:1"})
    assert r.exit_code == 2, r.output
    assert "after_lunch" in r.stderr and "Traceback" not in r.output


SWAP = NDAYS + 1                 # with one thread: the 10 partitions of the rebuild, then its swap
OLD_DAILY = ["day", "n", "amount", "zero"]
REBUILD_CASES = [pytest.param(point, nth, id=f"{point}-{where}") for point, nth, where in (
    ("before_transaction", 1, "1st-partition"), ("after_delete", 4, "4th-partition"),
    ("before_commit", 4, "4th-partition"), ("after_commit", 4, "4th-partition"),
    ("before_transaction", SWAP, "swap"), ("after_delete", SWAP, "swap"), ("before_commit", SWAP, "swap"),
    ("after_commit", SWAP, "swap"))]


@pytest.mark.parametrize("point,nth", REBUILD_CASES)
def test_crash_during_a_rebuild_beside_the_table(af, project, point, nth):
    """A changed output schema with every partition planned builds marts.daily beside the old
    table and swaps it in at the end. A crash before the swap commits leaves the old table, rows,
    columns and records exactly as they were (the partitions built beside it count for nothing)
    and the resume redoes the whole rebuild, dropping what the dead run left; a crash after it
    leaves the new table, recorded, and the resume builds only what reads it."""
    p = chain_project(project, NDAYS, threads=1)
    materialize(af, p)
    old_rows = query(p, f"select * from {DAILY} order by day")
    old_records = query(p, "select partition, code_version, data_version, rows from _assetflow.partitions "
                           f"where asset = '{DAILY}' order by partition")
    daily = p / "assets/marts/daily.sql"
    daily.write_text(daily.read_text().replace("as amount", "as amount, count(distinct region) as regions"))

    r = af(p, "materialize", "--json", env={"ASSETFLOW_FAULT": f"{point}:{nth}"})
    assert r.exit_code in KILLED, r.output
    crashed = runs(af, p)[0]
    committed = successes(af, p, [crashed["run_id"]])
    swapped = point == "after_commit" and nth == SWAP
    drift, _ = verify(af, p)
    assert drift == [], drift
    if swapped:
        assert set(committed) == {(DAILY, k) for k in day_keys(NDAYS)}
        assert columns(p) == OLD_DAILY[:3] + ["regions"] + OLD_DAILY[3:]
    else:
        assert committed == Counter()
        assert columns(p) == OLD_DAILY
        assert query(p, f"select * from {DAILY} order by day") == old_rows
        assert query(p, "select partition, code_version, data_version, rows from _assetflow.partitions "
                        f"where asset = '{DAILY}' order by partition") == old_records
    assert table_exists(p, "marts", "daily__assetflow_rebuild") is not swapped

    res = materialize(af, p)
    rebuilt = successes(af, p, [res["run_id"]])
    assert not set(rebuilt) & set(committed)
    assert set(committed + rebuilt) == {(DAILY, k) for k in day_keys(NDAYS)} | {(TOTAL, None)}
    assert not table_exists(p, "marts", "daily__assetflow_rebuild")
    statuses = {a["status"] for a in run_show(af, p, crashed["run_id"])["attempts"]}
    wrote = (point, nth) != ("before_transaction", 1)
    assert statuses == (({"success"} if swapped else {"discarded"}) if wrote else set()), statuses
    assert_exact(p, NDAYS)
    assert query(p, "select count(*), count(regions), min(regions) from marts.daily") == [(NDAYS, NDAYS, 3)]
    assert not_fresh(assert_verified(af, p)) == {}


def columns(p) -> list[str]:
    return [c for (c,) in query(p, "select column_name from duckdb_columns() where schema_name = 'marts' "
                                   "and table_name = 'daily' order by column_index")]


@pytest.mark.parametrize("point,nth", [("after_delete", 2), ("before_commit", 3), ("after_commit", 2)])
def test_crash_inside_a_batch_write(af, project, point, nth):
    """batch_size = 4: four partitions are replaced by one transaction; a crash keeps or loses all four."""
    p = chain_project(project, NDAYS, threads=1, stage_settings={"batch_size": 4})
    materialize(af, p)
    set_variant(p, NDAYS, 1)
    r = af(p, "materialize", "--json", env={"ASSETFLOW_FAULT": f"{point}:{nth}"})
    assert r.exit_code in KILLED, r.output
    crashed = runs(af, p)[0]
    committed = successes(af, p, [crashed["run_id"]])
    staged = sorted(k for a, k in committed if a == STAGE)
    old, new = expected_by_day(events_csv(NDAYS, 0)), expected_by_day(events_csv(NDAYS, 1))
    have = stage_by_day(p)
    for day in day_keys(NDAYS):
        assert have[day] == (new[day] if day in staged else old[day]), day
    assert len(staged) % 4 == 0 or len(staged) == NDAYS, staged     # whole batches only (10 = 4 + 4 + 2)
    drift, _ = verify(af, p)
    assert drift == [], drift
    res = materialize(af, p)
    once = committed + successes(af, p, [res["run_id"]])
    assert set(once) == all_partitions(NDAYS) and set(once.values()) == {1}
    assert_exact(p, NDAYS)
    assert_verified(af, p)
