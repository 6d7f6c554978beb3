"""The command-line contract of SPEC section 7 that every command shares: JSON errors on stdout
for --json, UTC timestamps with a Z, options before or after positional arguments, run ids
looked up across targets."""
from __future__ import annotations

import json
import re

import pytest

from conftest import run_cli, write_project

TOML = """
[project]
name = "t"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[targets.prod]
engine = "duckdb"
path = "prod.duckdb"
threads = 2
"""

FILES = {
    "assets/base.sql": "select 1 as id\n",
    "assets/days.sql": """
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "d"
        start = "2024-01-01"
        end = "2024-01-03"
        checks = ["not_null(d)"]
        */
        select $start::date as d, id from main.base
        """,
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A project built once on each target, with a `check` run on dev."""
    p = write_project(tmp_path_factory.mktemp("contract") / "proj", FILES, TOML)
    for args in (("materialize",), ("materialize", "--target", "prod"), ("check",)):
        r = run_cli(p, *args)
        assert r.exit_code == 0, r.output
    return p


def run_ids(p, *args) -> list[str]:
    r = run_cli(p, "runs", "--json", *args)
    assert r.exit_code == 0, r.output
    return [run["run_id"] for run in r.json()["runs"]]


# ---------------------------------------------------------------------------- JSON errors

BROKEN = {"assets/base.sql": "select 1 as id\n", "assets/q.sql": "select id\nfrom main.bsae\n"}
JSON_COMMANDS = [
    ("status", "--json"),
    ("materialize", "--json"),
    ("materialize", "--dry-run", "--json"),
    ("backfill", "main.days", "--from", "2024-01-01", "--to", "2024-01-02", "--json"),
    ("check", "--json"),
    ("lineage", "main.base", "--json"),
    ("graph", "--format", "json"),
]


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=[" ".join(a[:2]) for a in JSON_COMMANDS])
def test_json_on_a_broken_project_prints_the_error_as_json_on_stdout(project, af, args):
    p = project(BROKEN)
    r = af(p, *args)
    assert r.exit_code == 2, r.output
    error = r.json()["error"]
    assert error["path"] == "assets/q.sql" and error["line"] == 2
    assert "main.bsae" in error["message"]
    assert "main.base" in error["hint"]               # did you mean
    assert "assets/q.sql:2" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("args", [("runs", "--json", "--target", "nope"),
                                  ("runs", "show", "x", "--json", "--target", "nope")])
def test_json_errors_of_runs_commands(project, af, args):
    r = af(project(FILES), *args)
    assert r.exit_code == 2, r.output
    error = r.json()["error"]
    assert error == {"message": "unknown target 'nope'", "path": "assetflow.toml", "line": None,
                     "hint": "targets in this project: dev"}


def test_a_bad_option_value_with_json_is_json_too(project, af):
    r = af(project(FILES), "materialize", "--json", "--threads", "0")
    assert r.exit_code == 2
    assert "--threads" in r.json()["error"]["message"]
    assert "Usage:" in r.stderr


def test_json_timestamps_are_utc_with_z(built, af):
    runs = af(built, "runs", "--json").json()["runs"]
    assert runs and all(ISO_Z.match(r["started_at"]) and ISO_Z.match(r["ended_at"]) for r in runs)
    shown = af(built, "runs", "show", runs[-1]["run_id"], "--json").json()
    assert ISO_Z.match(shown["run"]["started_at"])
    assert shown["attempts"] and all(ISO_Z.match(a["started_at"]) and ISO_Z.match(a["ended_at"])
                                     for a in shown["attempts"])


def test_recorded_commands_have_no_trailing_spaces(built, af):
    commands = [r["command"] for r in af(built, "runs", "--json").json()["runs"]]
    assert "check" in commands
    assert all(c == c.strip() for c in commands), commands


# ---------------------------------------------------------------------------- options anywhere

def test_runs_show_takes_target_after_the_run_id(built, af):
    prod_run = run_ids(built, "--target", "prod")[0]
    r = af(built, "runs", "show", prod_run, "--target", "prod")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"run {prod_run}  success")


def test_a_run_of_another_target_is_found_and_named_in_the_hint(built, af):
    prod_run = run_ids(built, "--target", "prod")[0]
    r = af(built, "runs", "show", prod_run)
    assert r.exit_code == 2, r.output
    assert f"no run '{prod_run}' in target 'dev'" in r.stderr
    assert f"it is in target 'prod': assetflow runs show {prod_run} --target prod" in r.stderr


def test_an_unknown_run_lists_the_other_targets(built, af):
    r = af(built, "runs", "show", "19990101")
    assert r.exit_code == 2, r.output
    assert "other targets (prod)" in r.stderr and "--target NAME" in r.stderr


AFTER = [
    ("status", "main.days", "--target", "prod", "--json"),
    ("materialize", "main.days", "--target", "prod", "--threads", "1", "--dry-run"),
    ("backfill", "main.days", "--from", "2024-01-01", "--to", "2024-01-01", "--target", "prod", "--dry-run"),
    ("lineage", "main.days", "--target", "prod", "--json"),
    ("compile", "main.days", "--partition", "2024-01-02", "--target", "prod"),
    ("check", "main.days", "--target", "prod", "--json"),
    ("runs", "--limit", "1", "--target", "prod"),
]


@pytest.mark.parametrize("args", AFTER, ids=[a[0] for a in AFTER])
def test_options_after_positional_arguments_and_global_options_after_the_command(built, af, args):
    r = run_cli(None, *args, "--project", str(built), "--debug")
    assert r.exit_code == 0, r.output


def test_global_options_after_runs_show(built, af):
    prod_run = run_ids(built, "--target", "prod")[0]
    r = run_cli(None, "runs", "show", prod_run, "--json", "--target", "prod", "--project", str(built), "--debug")
    assert r.exit_code == 0, r.output
    assert r.json()["run"]["run_id"] == prod_run
    assert json.loads(r.stdout)["run"]["target"] == "prod"
