"""Several `materialize` processes on one project: the run lock serializes them, nothing is built
twice, a run that cannot get the lock says who holds it, and a dead holder's lock is free at once
(SPEC section 6, "Two materialize processes ...", and section 7 `--wait`).
"""
from __future__ import annotations

import re
import signal
import textwrap
import time
from collections import Counter

import pytest

from conftest import query
from helpers import (KILLED, Background, all_partitions, assert_exact, assert_verified, chain_project, materialize,
                     not_fresh, ok, report, runs, successes)

NDAYS = 20

# A Python asset that holds its run (and so the run lock) until the test creates `release`.
GATE_PY = """
    import time
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    ROOT = Path(__file__).resolve().parents[1]


    @asset
    def gate():
        (ROOT / "entered").write_text("in")
        deadline = time.time() + 90
        while not (ROOT / "release").exists() and time.time() < deadline:
            time.sleep(0.02)
        return pa.table({"ok": [1]})
    """


@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_runs_build_every_partition_exactly_once(af, project, processes):
    p = chain_project(project, NDAYS, threads=2)
    started = time.monotonic()
    group = [Background(p, "materialize", "--wait", "120", "--json", name=f"c{i}") for i in range(processes)]
    results = [g.wait(timeout=240) for g in group]
    elapsed = time.monotonic() - started
    for r in results:
        ok(r)
    outcomes = [r.json() for r in results]
    assert all(o["status"] == "success" for o in outcomes), outcomes
    builders = [o for o in outcomes if o["results"]]
    assert len(builders) == 1, [len(o["results"]) for o in outcomes]     # the others found nothing stale

    history = runs(af, p)
    assert {r["status"] for r in history} == {"success"}, history
    assert {o["run_id"] for o in builders} <= {r["run_id"] for r in history}
    built = successes(af, p)                                  # over every run, from `runs show --json`
    assert set(built) == all_partitions(NDAYS), sorted(set(built) ^ all_partitions(NDAYS), key=str)
    assert set(built.values()) == {1}, {k: v for k, v in built.items() if v != 1}
    assert_exact(p, NDAYS)
    assert not_fresh(assert_verified(af, p)) == {}
    report(f"concurrency-{processes}", {"processes": processes, "exit_codes": [r.exit_code for r in results],
                                        "runs_that_built": len(builders), "partitions": len(built),
                                        "built_more_than_once": 0,
                                        "seconds": round(elapsed, 1)})


def test_second_run_names_the_holder_then_queues_behind_it(af, project):
    p = chain_project(project, 3, extra_files={"assets/gate.py": textwrap.dedent(GATE_PY)})
    holder = Background(p, "materialize", "--threads", "1", name="holder")
    holder.wait_for(lambda: (p / "entered").exists(), what="the gate asset to start")

    t0 = time.monotonic()
    r = af(p, "materialize", "--wait", "0")
    assert time.monotonic() - t0 < 20
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert f"pid {holder.pid}" in r.stderr, r.stderr
    assert "materialize" in r.stderr and "since" in r.stderr, r.stderr

    t0 = time.monotonic()
    r = af(p, "materialize", "--wait", "1.5")
    waited = time.monotonic() - t0
    assert r.exit_code == 1 and f"pid {holder.pid}" in r.stderr, r.output
    assert waited >= 1.5, waited

    # readers cannot open the file while a run writes it (DuckDB allows one writer process and no
    # readers beside it): they answer from the run's snapshot and journal, naming the process
    for args in (("status",), ("status", "--verify"), ("runs",), ("materialize", "--dry-run")):
        r = af(p, *args)
        assert r.exit_code == 0, (args, r.output)
        assert "Traceback" not in r.output and f"(pid {holder.pid})" in r.stdout, (args, r.output)
        assert "in use" not in r.output, (args, r.output)

    # a queued run starts as soon as the holder is done, and then has nothing to do
    queued = Background(p, "materialize", "--wait", "60", "--json", name="queued")
    time.sleep(0.5)
    assert queued.proc.poll() is None, queued.stderr()
    (p / "release").write_text("go")
    first = holder.wait()
    assert first.exit_code == 0, first.output
    second = ok(queued.wait())
    assert second.json()["results"] == [] and second.json()["status"] == "success"
    assert query(p, "select ok from main.gate") == [(1,)]
    assert_verified(af, p)


def test_lock_of_a_killed_run_is_taken_over_at_once(af, project):
    p = chain_project(project, 3, extra_files={"assets/gate.py": textwrap.dedent(GATE_PY)})
    victim = Background(p, "materialize", "--threads", "1", name="victim")
    victim.wait_for(lambda: (p / "entered").exists(), what="the gate asset to start")
    victim.signal(signal.SIGKILL)
    assert victim.wait().exit_code in KILLED
    (p / "release").write_text("go")

    t0 = time.monotonic()
    res = materialize(af, p, "--wait", "0")               # no waiting allowed: the lock must be free
    took = time.monotonic() - t0
    assert res["status"] == "success"
    assert ("main.gate", None) in {(x["asset"], x["partition"]) for x in res["results"]}
    assert_exact(p, 3)
    assert_verified(af, p)
    statuses = Counter(r["status"] for r in runs(af, p))
    assert statuses == Counter({"abandoned": 1, "success": 1}), statuses
    report("lock-takeover", {"seconds_to_finish_next_run": round(took, 2)})


def test_recorded_command_is_the_command_that_was_run(af, project):
    p = chain_project(project, 2)
    ok(af(p, "materialize", "--threads", "2"))
    (command,) = [r["command"] for r in runs(af, p)]
    assert re.fullmatch(r"materialize --threads 2( --project \S+)?", command), command


def test_a_run_with_nothing_to_do_can_be_looked_up(af, project):
    p = chain_project(project, 2)
    materialize(af, p)
    res = materialize(af, p)
    assert res["results"] == []
    ok(af(p, "runs", "show", res["run_id"], "--json"))
