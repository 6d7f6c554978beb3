"""What a failed run shows (SPEC section 7): the error's own lines and the user's frames in the
summary, --json and alerts; the whole traceback in `runs show`. A check failing in many
partitions is said once per asset; a view has no row count."""
from __future__ import annotations

import json
import shlex
import textwrap

import pytest

from conftest import write_project

PARSER_PY = """
    import json

    from assetflow import asset


    def parse(text):
        return json.loads(text)


    @asset
    def parsed():
        return parse("{not json")
    """

DAYS_SQL = """
    /* assetflow
    kind = "partitioned"
    partition_by = "day"
    time_column = "d"
    start = "2024-01-01"
    end = "2024-01-31"
    checks = ["not_null(v)"]
    */
    select $start::date as d, null::int as v
    """

VIEW_SQL = """
    /* assetflow
    kind = "view"
    */
    select 1 as x
    """

STDLIB_FRAME = "json/decoder.py"


def line_of(text: str, needle: str) -> int:
    lines = textwrap.dedent(text).lstrip().splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


CALL = f'File "assets/m/parser.py", line {line_of(PARSER_PY, "return parse(")}, in parsed'
PARSE = f'File "assets/m/parser.py", line {line_of(PARSER_PY, "json.loads")}, in parse'


def toml_with_alert(out) -> str:
    return textwrap.dedent(f"""
        [project]
        name = "t"
        dialect = "duckdb"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        threads = 2

        [alerts]
        on_failure = [ {{ command = {json.dumps("cat > " + shlex.quote(str(out)))} }} ]
        """)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """One run of a Python asset that fails deep in the standard library, a partitioned asset
    whose check fails in all 31 partitions, and a view; text and JSON of the same failures."""
    from conftest import run_cli
    base = tmp_path_factory.mktemp("failures")
    alert = base / "alert.json"
    p = write_project(base / "proj", {"assets/m/parser.py": PARSER_PY, "assets/m/days.sql": DAYS_SQL,
                                      "assets/m/v.sql": VIEW_SQL}, toml_with_alert(alert))
    text = run_cli(p, "materialize")
    assert text.exit_code == 1, text.output
    as_json = run_cli(p, "materialize", "--json", "--full-refresh")
    assert as_json.exit_code == 1, as_json.output
    return p, text, as_json, json.loads(alert.read_text())


def test_the_summary_shows_the_users_frames_without_library_frames(failed_run):
    _, text, _, _ = failed_run
    assert "JSONDecodeError: Expecting property name" in text.stdout
    assert CALL in text.stdout and PARSE in text.stdout
    assert STDLIB_FRAME not in text.output


def test_json_results_and_alerts_carry_the_short_error(failed_run):
    _, _, as_json, alert = failed_run
    errors = {r["asset"]: r["error"] for r in as_json.json()["results"] if r["status"] == "failed"}
    alerted = {f["asset"]: f["error"] for f in alert["failures"]}
    for error in (errors["m.parsed"], alerted["m.parsed"]):
        assert error.startswith("JSONDecodeError: ")
        assert CALL in error and PARSE in error
        assert STDLIB_FRAME not in error


def test_runs_show_keeps_the_whole_traceback(failed_run, af):
    p, _, as_json, _ = failed_run
    run_id = as_json.json()["run_id"]
    shown = af(p, "runs", "show", run_id)
    assert STDLIB_FRAME in shown.stdout and PARSE in shown.stdout
    attempts = af(p, "runs", "show", run_id, "--json").json()["attempts"]
    stored = next(a["error"] for a in attempts if a["asset"] == "m.parsed")
    assert STDLIB_FRAME in stored and "assetflow/" not in stored


def test_a_check_failing_in_every_partition_is_said_once_with_the_partition_count(failed_run):
    _, text, _, _ = failed_run
    assert text.stdout.count("check not_null(v) failed") == 1, text.stdout
    assert "m.days, 31 partitions (2024-01-01 .. 2024-01-31) after 1 attempt(s) each:" in text.stdout
    assert "FAIL m.days: not_null(v) in 31 partitions (2024-01-01 .. 2024-01-31)  (31 failing rows)" in text.stdout
    assert text.stdout.count("not_null(v)") == 2            # the failure and the check line


def test_status_says_a_failing_check_once_per_asset(failed_run, af):
    p, _, _, _ = failed_run
    r = af(p, "status", "m.days")
    assert r.stdout.count("check failed: not_null(v)") == 1, r.stdout
    assert "check failed: not_null(v) in 31 partitions (2024-01-01 .. 2024-01-31)" in r.stdout


def test_a_view_has_no_row_count(failed_run, af):
    p, text, as_json, _ = failed_run
    view_line = next(line for line in text.stderr.splitlines() if "OK   m.v" in line)
    assert "rows" not in view_line, view_line
    view = next(r for r in as_json.json()["results"] if r["asset"] == "m.v")
    assert view["status"] == "success" and view["rows"] is None
    shown = af(p, "runs", "show", as_json.json()["run_id"])
    assert "rows" not in next(line for line in shown.stdout.splitlines() if "m.v" in line)
