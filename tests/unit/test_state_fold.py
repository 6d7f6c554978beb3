"""The state store writes one attempt row per build and folds attempts into `partitions` later.

Whatever the order of runs, attempts, folds and crashes (runs never folded), the partition
records that readers see must be those of a store that updated every record at once: the status
of the last attempt, and the code, version and rows of the last successful build.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.engines import duckdb_state as store
from assetflow.state import FAILED, SUCCESS, AttemptRecord, RunRecord

T0 = datetime(2024, 1, 1)
KEYS = [("main.a", None), ("main.b", "2024-01-01"), ("main.b", "2024-01-02")]


def attempt(run_id: str, asset: str, partition: str | None, n: int, status: str, version: int) -> AttemptRecord:
    return AttemptRecord(run_id, asset, partition, n, status, T0, T0, None,
                         "boom" if status == FAILED else None, f"code{version % 3}", version, {})


@st.composite
def histories(draw):
    """Runs of attempts; after each run, fold it, or not (the process died)."""
    runs = []
    for r in range(draw(st.integers(1, 5))):
        steps = draw(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from([SUCCESS, FAILED])), max_size=6))
        runs.append((f"run{r}", steps, draw(st.booleans())))
    return runs


def records(cur) -> dict:
    rows = store.run(cur, f"SELECT asset, partition, status, code_version, data_version, rows, run_id, error, "
                          f"built_at FROM {store.current_partitions(cur)}")
    return {(r[0], r[1]): r[2:] for r in rows}


@settings(max_examples=150, deadline=None)
@given(history=histories())
def test_readers_see_every_attempt_whether_folded_or_not(history):
    con = duckdb.connect()
    store.ensure_schema(con)
    model: dict = {}
    version = 0
    for n, (run_id, steps, folded) in enumerate(history):
        started = T0 + timedelta(hours=n)            # built_at is the run's start, not the build's end
        store.record_run(con, RunRecord(run_id, "materialize", started))
        counts: dict = {}
        for (asset, partition), status in steps:
            version += 1
            counts[(asset, partition)] = counts.get((asset, partition), 0) + 1
            a = attempt(run_id, asset, partition, counts[(asset, partition)], status, version)
            if status == SUCCESS:
                store.write_success(con, a, rows=version * 10)
            else:
                store.write_failure(con, a)
            key = (asset, partition or "")
            old = model.get(key, (None, None, 0, None, None, None, None))
            if status == SUCCESS:
                model[key] = (SUCCESS, a.code_version, version, version * 10, run_id, None, started)
            else:
                model[key] = (FAILED, old[1], old[2], old[3], run_id, "boom", old[6])
        if folded:
            store.fold_runs(con)
        assert records(con) == model
    store.fold_runs(con)
    assert store.current_partitions(con) == "_assetflow.partitions"
    assert records(con) == model
    assert store.stored_versions(con).newest == max([v for _, _, v, *_ in model.values()] + [0])


def test_a_version_2_store_reads_as_folded_and_upgrades_in_place():
    """Version 2 recorded every build in `partitions` and has no `runs.folded`: readers (a
    read-only `status`) see its records as they are, and the first writer adds the column."""
    con = duckdb.connect()
    v2_ddl = store.DDL.replace(", folded BOOLEAN DEFAULT false", "")
    for statement in v2_ddl.split(";"):
        if statement.strip():
            con.execute(statement)
    con.execute("INSERT INTO _assetflow.meta VALUES ('schema_version', '2')")
    con.execute("INSERT INTO _assetflow.runs (run_id, status) VALUES ('old', 'success')")
    con.execute("INSERT INTO _assetflow.partitions (asset, partition, status, code_version, data_version) "
                "VALUES ('main.a', '', 'success', 'c1', 1)")
    assert not store.has_unfolded(con)
    assert store.current_partitions(con) == "_assetflow.partitions"
    assert records(con) == {("main.a", ""): ("success", "c1", 1, None, None, None, None)}
    store.ensure_schema(con)
    assert store.schema_version(con) == store.SCHEMA_VERSION
    assert not store.has_unfolded(con)
    assert con.execute("SELECT folded FROM _assetflow.runs").fetchall() == [(True,)]


def test_no_store_has_nothing_unfolded():
    assert not store.has_unfolded(duckdb.connect())


def test_staged_attempts_count_only_once_swapped_in():
    """Partitions built into a rebuild's staging table are recorded `staged`: invisible to readers,
    folded or not, until the swap promotes them (forgetting the old table's records, such as a
    partition no longer in range); a rebuild that is dropped marks them `discarded`."""
    con = duckdb.connect()
    store.ensure_schema(con)
    days = ["2023-12-31", "2024-01-01", "2024-01-02"]
    store.record_run(con, RunRecord("run1", "materialize", T0))
    for n, day in enumerate(days, 1):
        store.write_success(con, attempt("run1", "main.b", day, 1, SUCCESS, n), rows=n)
    store.fold_runs(con)
    built = records(con)
    assert set(built) == {("main.b", d) for d in days}

    store.record_run(con, RunRecord("run2", "materialize", T0))
    for n, day in enumerate(days[1:], 10):
        store.write_success(con, attempt("run2", "main.b", day, 1, SUCCESS, n), rows=n, status=store.STAGED)
    assert records(con) == built                         # unfolded: the staged attempts are not laid over
    store.discard_staged(con, "main.b")
    store.fold_runs(con)
    assert records(con) == built
    assert con.execute("SELECT DISTINCT status FROM _assetflow.attempts WHERE run_id = 'run2'").fetchall() == \
        [(store.DISCARDED,)]

    store.record_run(con, RunRecord("run3", "materialize", T0))
    for n, day in enumerate(days[1:], 20):
        store.write_success(con, attempt("run3", "main.b", day, 1, SUCCESS, n), rows=n, status=store.STAGED)
    assert records(con) == built
    store.promote_staged(con, "run3", "main.b")
    swapped = {("main.b", day): (SUCCESS, f"code{n % 3}", n, n, "run3", None, T0) for n, day in enumerate(days[1:], 20)}
    assert records(con) == swapped
    store.fold_runs(con)
    assert records(con) == swapped
