"""`timeout` per asset (SPEC section 11): an attempt that runs longer is cancelled, fails as a
transient error (so it is retried per the retry policy), and writes nothing.

The slow work is real: a DuckDB cross join of 10^16 rows, and a Python function blocked in
`time.sleep`. The tests themselves never sleep and assert no durations."""
from __future__ import annotations

import pytest

from conftest import query
from helpers import ok, materialize, run_show

TOML = """
[project]
name = "t"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2
"""

CROSS_JOIN = "select count(*) as n from range(100000000) a, range(100000000) b\n"


def result(res: dict, asset: str) -> dict:
    return next(x for x in res["results"] if x["asset"] == asset)


def attempts_of(af, p, run_id: str, asset: str) -> list[dict]:
    return [a for a in run_show(af, p, run_id)["attempts"] if a["asset"] == asset]


def relations(p) -> set[str]:
    return {f"{s}.{n}" for s, n in query(p, "select schema_name, table_name from duckdb_tables() "
                                            "where schema_name <> '_assetflow'")}


def partition_states(p, asset: str) -> list[tuple]:
    return query(p, f"select partition, status from _assetflow.partitions where asset = '{asset}' order by 1")


def test_a_long_duckdb_query_is_interrupted_retried_and_writes_nothing(af, project):
    p = project({"assets/slow.sql": '/* assetflow\ntimeout = "1s"\nretries = 1\nretry_delay = 0\n*/\n' + CROSS_JOIN,
                 "assets/fine.sql": "select 1 as one\n"}, TOML)
    res = materialize(af, p, expect=1)
    slow = result(res, "main.slow")
    assert (slow["status"], slow["attempts"]) == ("failed", 2)
    assert slow["error"] == "timed out after 1s"
    assert result(res, "main.fine")["status"] == "success"
    recorded = attempts_of(af, p, res["run_id"], "main.slow")
    assert [(a["attempt"], a["status"], a["error"]) for a in recorded] == [
        (1, "failed", "timed out after 1s"), (2, "failed", "timed out after 1s")]
    assert relations(p) == {"main.fine"}                  # the CREATE TABLE rolled back
    assert partition_states(p, "main.slow") != [(None, "success")]
    text = ok(af(p, "materialize"), 1)
    assert "main.slow after 2 attempt(s)" in text.stdout and "timed out after 1s" in text.stdout


NAPPER = """
    import time
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    HERE = Path(__file__).resolve().parents[1]


    @asset(timeout="{timeout}", retries={retries}, retry_delay=0, partition_by="day", start="2024-01-01",
           end="2024-01-02", time_column="day")
    def napper(context):
        counter = HERE / f"calls-{{context.partition}}.txt"
        calls = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(calls))
        if calls > {hangs}:
            return pa.table({{"day": [context.start], "call": [calls]}})
        time.sleep(600)                      # a hung extract
        return pa.table({{"day": [context.start], "call": [-1]}})
    """


def test_a_python_asset_past_its_timeout_is_given_up_on_and_its_partition_not_written(af, project):
    p = project({"assets/napper.py": NAPPER.format(timeout="1s", retries=1, hangs=99)}, TOML)
    r = ok(af(p, "materialize", "--json", timeout=120), 1)   # the sleeping functions do not hold the process
    res = r.json()
    for row in res["results"]:
        assert (row["status"], row["attempts"]) == ("failed", 2)
        assert row["error"] == "napper() in assets/napper.py: timed out after 1s"
    assert relations(p) == set()
    assert all(status == "failed" for _, status in partition_states(p, "main.napper"))


def test_the_retry_after_a_timeout_writes_only_its_own_result(af, project):
    # Each day hangs on its first call and answers on the next one (the deadline leaves the quick
    # answer seconds to spare on a loaded machine).
    p = project({"assets/napper.py": NAPPER.format(timeout="4s", retries=2, hangs=1)}, TOML)
    res = materialize(af, p)
    assert [(x["partition"], x["status"], x["attempts"]) for x in sorted(res["results"], key=lambda x: x["partition"])] \
        == [("2024-01-01", "success", 2), ("2024-01-02", "success", 2)]
    assert query(p, "select strftime(day, '%Y-%m-%d'), call from main.napper order by 1") == [
        ("2024-01-01", 2), ("2024-01-02", 2)]                # the abandoned first calls wrote nothing
    assert partition_states(p, "main.napper") == [("2024-01-01", "success"), ("2024-01-02", "success")]


def test_retry_on_timeout_error_keeps_retrying_timeouts(af, project):
    p = project({"assets/slow.sql": '/* assetflow\ntimeout = "1s"\nretries = 1\nretry_delay = 0\n'
                                    'retry_on = ["TimeoutError"]\n*/\n' + CROSS_JOIN}, TOML)
    slow = result(materialize(af, p, expect=1), "main.slow")
    assert (slow["attempts"], slow["error"]) == (2, "timed out after 1s")


@pytest.mark.parametrize("value, message", [
    ('"0"', "timeout '0' is not a duration longer than 0"),
    ('"soon"', "timeout 'soon' is not a duration longer than 0"),
    ("30", "setting 'timeout' must be str, not int (30)"),
])
def test_a_bad_timeout_in_a_header_is_exit_2_at_its_line(af, project, value, message):
    p = project({"assets/x.sql": f"/* assetflow\nretries = 1\ntimeout = {value}\n*/\nselect 1 as a\n"}, TOML)
    r = ok(af(p, "materialize"), 2)
    assert f"assets/x.sql:3: {message}" in r.stderr


def test_a_timeout_on_a_view_or_in_a_decorator_is_checked(af, project):
    p = project({"assets/v.sql": '/* assetflow\nkind = "view"\ntimeout = "5m"\n*/\nselect 1 as a\n'}, TOML)
    r = ok(af(p, "status"), 2)
    assert "assets/v.sql:3: timeout has no effect on a view" in r.stderr
    p = project({"assets/f.py": """
        import pyarrow as pa
        from assetflow import asset

        @asset(timeout="half an hour")
        def f():
            return pa.table({"a": [1]})
        """}, TOML)
    r = ok(af(p, "status"), 2)
    assert "assets/f.py" in r.stderr and "timeout 'half an hour' is not a duration" in r.stderr
