"""`[schedules.NAME]` in assetflow.toml, through the real CLI: a good table changes nothing for
the other commands; a bad one stops every command with exit 2, naming the file, line and key."""
from __future__ import annotations

import textwrap

import pytest

from assetflow.project.config import load_config

TOML = """
[project]
name = "t"

[targets.dev]
path = "warehouse.duckdb"
threads = 2

[schedules.nightly]
cron = "0 2 * * *"
timezone = "Europe/Berlin"
select = "+b"
catchup = "7d"
"""
FILES = {"assets/a.sql": "select 1 as id\n", "assets/b.sql": "select id from main.a\n"}


def test_a_project_with_schedules_builds_as_before(project, af):
    p = project(FILES, TOML)
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    (nightly,) = load_config(p).schedules
    assert (nightly.name, nightly.cron, nightly.timezone, nightly.select, str(nightly.catchup)) == \
        ("nightly", "0 2 * * *", "Europe/Berlin", "+b", "7d")
    assert load_config(project(FILES, TOML.split("[schedules")[0])).schedules == ()


@pytest.mark.parametrize("old, new, key, needle, hint", [
    ('cron = "0 2 * * *"', 'cron = "0 25 * * *"', "schedules.nightly.cron", "not a valid cron", "five fields"),
    ('cron = "0 2 * * *"', 'cron = "@reboot"', "schedules.nightly.cron", "not a known cron alias", "@daily"),
    ('timezone = "Europe/Berlin"', 'timezone = "Europe/Berln"', "schedules.nightly.timezone",
     "unknown time zone 'Europe/Berln'", "did you mean Europe/Berlin"),
    ('catchup = "7d"', 'catchp = "7d"', "[schedules.nightly]", "unknown key 'catchp'", "did you mean catchup"),
    ('catchup = "7d"', 'overlap = "queue"', "schedules.nightly.overlap", "not an overlap policy", '"wait"'),
    ('catchup = "7d"', 'catchup = "a week"', "schedules.nightly.catchup", "not a duration", '"7d"'),
])
@pytest.mark.parametrize("command", ["materialize", "status"])
def test_a_bad_schedule_stops_every_command(project, af, command, old, new, key, needle, hint):
    toml = textwrap.dedent(TOML)
    p = project(FILES, toml.replace(old, new))
    line = toml.replace(old, new).lstrip().splitlines().index(new) + 1
    r = af(p, command)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    first, second = r.stderr.strip().splitlines()[:2]
    assert first.startswith(f"error: assetflow.toml:{line}: ") and key in first and needle in first
    assert second.strip().startswith("hint:") and hint in second
    assert not (p / "warehouse.duckdb").exists()
