"""Ctrl-C (SIGINT) and SIGTERM in the middle of a run.

SIGINT: partitions in flight are rolled back, the run is recorded "cancelled", exit 130.
SIGTERM: nothing new starts, what is running finishes (grace period), the run is recorded
"interrupted", exit 143. Either way no partition is half-written, the state store agrees with the
data, and the next run builds exactly what is left.
"""
from __future__ import annotations

import signal

import pytest

from helpers import (DAILY, PY_TRACEBACK, STAGE, Background, all_partitions, assert_exact, assert_verified,
                     chain_project, day_keys, daily_by_day, expected_by_day, materialize, not_fresh, ok, runs,
                     stage_by_day, successes, table_exists)

NDAYS = 16
SLOW_ROWS = 300_000          # each marts.daily partition burns ~0.3 s of CPU on a query that returns 0


def start_slow_run(project, name: str):
    p = chain_project(project, NDAYS, threads=2, slow_rows=SLOW_ROWS)
    run = Background(p, "materialize", "--threads", "2", name=name)
    # every staging partition done and a couple of the slow ones: the run is deep in its work
    run.wait_for(lambda: run.progress() >= NDAYS + 2, timeout=120, what="the run to reach the slow partitions")
    return p, run


def built_matches_source(p, committed) -> None:
    """What the interrupted run committed is complete and exact; nothing else is there."""
    want = expected_by_day(p / "data/events.csv")
    stage = stage_by_day(p) if table_exists(p, "staging", "events_day") else {}
    daily = daily_by_day(p) if table_exists(p, "marts", "daily") else {}
    for day in day_keys(NDAYS):
        if (STAGE, day) in committed:
            assert stage.get(day) == want[day], (day, stage.get(day), want[day])
        else:
            assert day not in stage, (day, stage.get(day))
        if (DAILY, day) in committed:
            assert daily.get(day) == (1, *want[day]), (day, daily.get(day), want[day])
        else:
            assert day not in daily, (day, daily.get(day))


def resume_builds_the_rest(af, p, committed) -> None:
    res = materialize(af, p, "--threads", "2")
    assert res["status"] == "success"
    rebuilt = successes(af, p, [res["run_id"]])
    assert not set(rebuilt) & set(committed), sorted(set(rebuilt) & set(committed), key=str)
    once = committed + rebuilt
    assert set(once) == all_partitions(NDAYS) and set(once.values()) == {1}
    assert_exact(p, NDAYS)
    assert not_fresh(assert_verified(af, p)) == {}


def test_sigint_rolls_back_in_flight_partitions_and_cancels_the_run(af, project):
    p, run = start_slow_run(project, "sigint")
    done_at_signal = run.progress()
    run.signal(signal.SIGINT)
    r = run.wait(timeout=60)
    assert r.exit_code == 130, r.output
    assert PY_TRACEBACK not in r.output, r.output
    assert "cancelled" in r.stderr, r.stderr

    (record,) = runs(af, p)
    assert record["status"] == "cancelled", record
    assert record["ended_at"] is not None
    committed = successes(af, p, [record["run_id"]])
    assert set(committed.values()) == {1}
    assert done_at_signal <= sum(committed.values()) < len(all_partitions(NDAYS)), sorted(committed)
    built_matches_source(p, committed)
    assets = assert_verified(af, p)
    assert not_fresh(assets)                          # work is left for the next run
    resume_builds_the_rest(af, p, committed)


def test_sigterm_finishes_running_partitions_starts_nothing_new(af, project):
    p, run = start_slow_run(project, "sigterm")
    done_at_signal = run.progress()
    run.signal(signal.SIGTERM)
    r = run.wait(timeout=60)
    assert r.exit_code == 143, r.output
    assert PY_TRACEBACK not in r.output, r.output
    assert "SIGTERM" in r.stderr, r.stderr

    (record,) = runs(af, p)
    assert record["status"] == "interrupted", record
    committed = successes(af, p, [record["run_id"]])
    assert set(committed.values()) == {1}
    assert done_at_signal <= sum(committed.values()) < len(all_partitions(NDAYS)), sorted(committed)
    # nothing failed or was cut short: every attempt of the run succeeded
    attempts = ok(af(p, "runs", "show", record["run_id"], "--json")).json()["attempts"]
    assert {a["status"] for a in attempts} == {"success"}, attempts
    built_matches_source(p, committed)
    assert not_fresh(assert_verified(af, p))
    resume_builds_the_rest(af, p, committed)


@pytest.mark.parametrize("sig,code,status", [(signal.SIGINT, 130, "cancelled"),
                                             (signal.SIGTERM, 143, "interrupted")], ids=["sigint", "sigterm"])
def test_interrupting_a_rebuild_keeps_the_last_good_data(af, project, sig, code, status):
    """On a built project whose source changed: every partition is old or new, never half of each."""
    from helpers import events_csv, set_variant
    p = chain_project(project, NDAYS, threads=2, slow_rows=SLOW_ROWS)
    materialize(af, p)
    set_variant(p, NDAYS, 1)
    run = Background(p, "materialize", "--threads", "2", name=f"re-{sig}")
    run.wait_for(lambda: run.progress() >= NDAYS + 2, timeout=120, what="the rebuild to reach the slow partitions")
    run.signal(sig)
    r = run.wait(timeout=60)
    assert r.exit_code == code, r.output
    latest = runs(af, p)[0]
    assert latest["status"] == status
    committed = successes(af, p, [latest["run_id"]])
    old, new = expected_by_day(events_csv(NDAYS, 0)), expected_by_day(events_csv(NDAYS, 1))
    stage = stage_by_day(p)
    for day in day_keys(NDAYS):
        assert stage[day] == (new[day] if (STAGE, day) in committed else old[day]), day
    assert_verified(af, p)
    resume_builds_the_rest(af, p, committed)


# ------------------------------------------------------------------------------------ Python work and backoff

RETRYING_PY = """
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    ROOT = Path(__file__).resolve().parents[1]


    @asset(retries=3, retry_delay={delay})
    def flaky():
        (ROOT / "entered").write_text("x")
        raise RuntimeError("still down")
    """


def retrying_project(project, delay: float):
    import textwrap

    from helpers import toml
    return project({"assets/flaky.py": textwrap.dedent(RETRYING_PY.format(delay=delay)),
                    "assets/other.sql": "select 1 as x\n"}, toml())


def test_sigterm_during_a_retry_backoff_is_an_interruption(af, project):
    p = retrying_project(project, 1.0)
    run = Background(p, "materialize", "--json", name="term-backoff")
    run.wait_for(lambda: (p / "entered").exists(), what="the first attempt")
    run.signal(signal.SIGTERM)
    r = run.wait(timeout=60)
    assert PY_TRACEBACK not in r.output
    assert (r.exit_code, runs(af, p)[0]["status"]) == (143, "interrupted"), r.output


def test_sigint_does_not_wait_out_a_retry_backoff(af, project):
    import time
    p = retrying_project(project, 5.0)
    run = Background(p, "materialize", name="int-backoff")
    run.wait_for(lambda: (p / "entered").exists(), what="the first attempt")
    time.sleep(0.3)
    t0 = time.monotonic()
    run.signal(signal.SIGINT)
    r = run.wait(timeout=60)
    took = time.monotonic() - t0
    assert r.exit_code == 130, r.output
    assert took < 2.5, f"exit took {took:.1f}s after SIGINT"


SLOW_PY = """
    import time
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    ROOT = Path(__file__).resolve().parents[1]


    @asset(partition_by="day", start="2024-01-01", end="2024-01-06", time_column="day")
    def slow(context):
        (ROOT / f"entered-{context.partition}").write_text("x")
        time.sleep(3)
        return pa.table({"day": pa.array([context.start], pa.date32()), "v": [1]})
    """


def test_sigint_during_a_python_asset_commits_nothing_more(af, project):
    import textwrap
    import time

    from helpers import toml
    p = project({"assets/slow.py": textwrap.dedent(SLOW_PY)}, toml(threads=1))
    run = Background(p, "materialize", name="int-python")
    run.wait_for(lambda: (p / "entered-2024-01-01").exists(), what="the first partition to start")
    time.sleep(0.5)
    run.signal(signal.SIGINT)
    r = run.wait(timeout=60)
    assert r.exit_code == 130, r.output
    (record,) = runs(af, p)
    assert record["status"] == "cancelled"
    assert_verified(af, p)                                     # consistent either way
    assert successes(af, p, [record["run_id"]]) == {}, "a partition was committed after the run was cancelled"
