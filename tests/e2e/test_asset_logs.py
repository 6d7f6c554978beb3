"""`context.log` in Python assets: INFO kept, every line prefixed with the time (UTC), level,
asset and partition; each partition's lines stored with its attempt and printed by `runs show`;
a store written before the `log` column existed keeps working."""
from __future__ import annotations

import re

import duckdb

from conftest import query, write_project

LOGGING_PY = """
    import pyarrow as pa

    from assetflow import AssetContext, asset


    @asset(partition_by="day", start="2024-01-01", end="2024-01-03", time_column="day")
    def per_day(context: AssetContext) -> pa.Table:
        context.log.debug("too chatty to keep")
        context.log.info("loading %s", context.partition)
        context.log.warning("few rows on %s", context.partition)
        if context.partition == "2024-01-03":
            raise RuntimeError("the API said no")
        return pa.table({"day": [context.start], "n": [1]})
    """
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING) main\.per_day \[(2024-01-0\d)\]: (.+)$")


def logged_run(tmp_path, af, *args):
    p = write_project(tmp_path / "proj", {"assets/per_day.py": LOGGING_PY})
    r = af(p, "materialize", *args)
    assert r.exit_code == 1, r.output
    return p, r


def test_log_lines_carry_time_level_asset_and_partition_and_keep_info(tmp_path, af):
    _, r = logged_run(tmp_path, af)
    lines = [m.groups() for m in map(LINE.match, r.stderr.splitlines()) if m]
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        assert ("INFO", day, f"loading {day}") in lines, r.stderr
        assert ("WARNING", day, f"few rows on {day}") in lines, r.stderr
    assert "too chatty" not in r.output
    assert "\nfew rows on" not in "\n" + r.stderr          # never bare


def test_json_output_stays_json_and_logs_go_to_stderr(tmp_path, af):
    _, r = logged_run(tmp_path, af, "--json")
    assert r.json()["status"] == "failed"
    assert "INFO main.per_day [2024-01-01]: loading 2024-01-01" in r.stderr


def test_each_attempt_stores_its_own_partitions_lines(tmp_path, af):
    p, r = logged_run(tmp_path, af, "--json")
    attempts = af(p, "runs", "show", r.json()["run_id"], "--json").json()["attempts"]
    by_day = {a["partition"]: a for a in attempts}
    assert set(by_day) == {"2024-01-01", "2024-01-02", "2024-01-03"}
    for day, attempt in by_day.items():
        parsed = [LINE.match(line).groups() for line in attempt["log"]]
        assert parsed == [("INFO", day, f"loading {day}"), ("WARNING", day, f"few rows on {day}")]
    assert by_day["2024-01-03"]["status"] == "failed"       # a failed attempt keeps what it logged


def test_runs_show_prints_the_log_under_each_attempt(tmp_path, af):
    p, r = logged_run(tmp_path, af, "--json")
    lines = af(p, "runs", "show", r.json()["run_id"]).stdout.splitlines()
    at = next(n for n, line in enumerate(lines) if "main.per_day [2024-01-03]" in line)
    assert "INFO main.per_day [2024-01-03]: loading 2024-01-03" in lines[at + 1]
    assert "WARNING main.per_day [2024-01-03]: few rows on 2024-01-03" in lines[at + 2]
    assert "RuntimeError: the API said no" in lines[at + 3]


def _downgrade_to_version_3(db) -> None:
    """The state store as version 3 wrote it: the same tables without `attempts.log`."""
    con = duckdb.connect(str(db))
    try:
        con.execute("ALTER TABLE _assetflow.attempts DROP COLUMN log")
        con.execute("UPDATE _assetflow.meta SET value = '3' WHERE key = 'schema_version'")
    finally:
        con.close()


def test_a_store_from_before_the_log_column_keeps_working(tmp_path, af):
    p, first = logged_run(tmp_path, af, "--json")
    _downgrade_to_version_3(p / "warehouse.duckdb")
    old_run = first.json()["run_id"]
    # read-only commands cannot upgrade it: they read no logs
    shown = af(p, "runs", "show", old_run, "--json")
    assert shown.exit_code == 0, shown.output
    assert all(a["log"] == [] for a in shown.json()["attempts"])
    assert af(p, "status").exit_code == 0
    # the next writer adds the column; old attempts have no lines, new ones do
    again = af(p, "materialize", "--json")
    assert again.exit_code == 1, again.output
    assert query(p, "select value from _assetflow.meta where key = 'schema_version'") == [("4",)]
    new = af(p, "runs", "show", again.json()["run_id"], "--json").json()["attempts"]
    assert [a["partition"] for a in new] == ["2024-01-03"] and len(new[0]["log"]) == 2
    assert af(p, "runs", "show", old_run).exit_code == 0


SECRET = "s3cr3t-token-0123456789"
LEAKY_PY = """
    import os

    from assetflow import AssetContext, asset


    @asset
    def leaky(context: AssetContext):
        context.log.info("calling the API with %s", os.environ["AF_TEST_SECRET"])
        raise RuntimeError("the API said no")
    """


def test_secrets_are_masked_in_printed_and_stored_log_lines(tmp_path, af):
    toml = """
        [project]
        name = "t-${AF_TEST_SECRET}"
        dialect = "duckdb"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        """
    p = write_project(tmp_path / "proj", {"assets/leaky.py": LEAKY_PY}, toml)
    r = af(p, "materialize", "--json", env={"AF_TEST_SECRET": SECRET})
    assert r.exit_code == 1, r.output
    assert "INFO main.leaky: calling the API with ***" in r.stderr and SECRET not in r.output
    stored = query(p, "select log from _assetflow.attempts where asset = 'main.leaky'")
    assert len(stored) == 1 and stored[0][0][0].endswith("INFO main.leaky: calling the API with ***")
