"""`[schedules.NAME]` parsing: defaults, normal forms, every validation error (file, line, key and
a fix), the definition hash and which fields it covers; durations."""
from __future__ import annotations

import doctest
import tomllib
from dataclasses import fields, replace
from datetime import timedelta

import pytest

from assetflow import durations
from assetflow.durations import parse_duration
from assetflow.errors import EXIT_BAD_INPUT, ProjectError
from assetflow.project.schedules import (BEHAVIOUR_FIELDS, DEFINITION_FIELDS, Overlap, ScheduleSpec, definition_hash,
                                     parse_schedules)

FILE = """\
[project]
name = "t"

[schedules.hourly]
cron = "@hourly"

[schedules.nightly]
cron = "0 2 * * *"
timezone = "Europe/Berlin"
select = "+marts.daily_revenue"
catchup = "7d"
overlap = "wait"
enabled = false
"""


def parse(text: str):
    return parse_schedules(tomllib.loads(text).get("schedules", {}), text)


def one(body: str) -> ScheduleSpec:
    text = f'[project]\nname = "t"\n\n[schedules.nightly]\n{body}'
    (spec,) = parse(text)
    return spec


def failure(body: str) -> ProjectError:
    text = f'[project]\nname = "t"\n\n[schedules.nightly]\n{body}'
    with pytest.raises(ProjectError) as info:
        parse(text)
    return info.value


def test_a_full_table_and_the_defaults():
    hourly, nightly = parse(FILE)
    assert hourly == ScheduleSpec(name="hourly", cron="0 * * * *")
    assert (hourly.timezone, hourly.select, hourly.catchup, hourly.overlap, hourly.enabled) == \
        ("UTC", None, None, Overlap.SKIP, True)
    assert nightly.cron == "0 2 * * *" and nightly.timezone == "Europe/Berlin"
    assert nightly.select == "+marts.daily_revenue" and nightly.overlap is Overlap.WAIT and not nightly.enabled
    assert nightly.catchup.delta == timedelta(days=7) and str(nightly.catchup) == "7d"
    assert (hourly.line, nightly.line) == (4, 7)
    assert nightly.trigger == "schedule:nightly" and nightly.zone.key == "Europe/Berlin"


@pytest.mark.parametrize("written, normal", [
    ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"), ("@weekly", "0 0 * * 0"), ("@monthly", "0 0 1 * *"),
    ("  0   2 * *   *  ", "0 2 * * *"), ("*/15 9-17 * * MON-FRI", "*/15 9-17 * * MON-FRI"), ("0 0 L * *", "0 0 L * *"),
])
def test_cron_forms(written, normal):
    assert one(f'cron = "{written}"').cron == normal


@pytest.mark.parametrize("body, key, line, message, hint", [
    ('cron = "61 * * * *"', "schedules.nightly.cron", 5, "not a valid cron", "five fields"),
    ('cron = "0 2 * *"', "schedules.nightly.cron", 5, "has 4 fields, a cron has 5", "@hourly"),
    ('cron = "0 0 2 * * *"', "schedules.nightly.cron", 5, "has 6 fields", "five fields"),
    ('cron = "@reboot"', "schedules.nightly.cron", 5, "not a known cron alias", "@daily"),
    ('cron = "0 0 30 2 *"', "schedules.nightly.cron", 5, "not a valid cron", "five fields"),   # never comes
    ('cron = 2', "schedules.nightly.cron", 5, "must be a string", 'cron = "2"'),
    ('cron = "0 2 * * *"\ntimezone = "Europe/Berln"', "schedules.nightly.timezone", 6, "unknown time zone 'Europe/Berln'",
     "did you mean Europe/Berlin"),
    ('cron = "0 2 * * *"\ntimezone = "../etc/passwd"', "schedules.nightly.timezone", 6, "unknown time zone", "IANA"),
    ('cron = "0 2 * * *"\ntimezon = "UTC"', "[schedules.nightly]", 6, "unknown key 'timezon'", "did you mean timezone"),
    ('cron = "0 2 * * *"\nfoo = 1', "[schedules.nightly]", 6, "unknown key 'foo'", "keys of a schedule: cron"),
    ('cron = "0 2 * * *"\noverlap = "queue"', "schedules.nightly.overlap", 6, "'queue' is not an overlap policy",
     '"skip"'),
    ('cron = "0 2 * * *"\ncatchup = "7 days"', "schedules.nightly.catchup", 6, "'7 days' is not a duration", '"7d"'),
    ('cron = "0 2 * * *"\nenabled = "yes"', "schedules.nightly.enabled", 6, "must be true or false", "no quotes"),
    ('cron = "0 2 * * *"\nselect = "  "', "schedules.nightly.select", 6, "is empty", "leave `select` out"),
    ('timezone = "UTC"', "schedules.nightly", 4, "has no `cron`", 'cron = "0 2 * * *"'),
])
def test_bad_input_names_file_line_key_and_fix(body, key, line, message, hint):
    error = failure(body)
    assert error.exit_code == EXIT_BAD_INPUT
    assert error.path == "assetflow.toml" and error.line == line
    assert key in error.message and message in error.message
    assert hint in error.hint
    assert error.render().startswith(f"error: assetflow.toml:{line}: ")


def test_bad_tables_and_names():
    with pytest.raises(ProjectError, match="must hold tables"):
        parse('schedules = "nightly"')
    with pytest.raises(ProjectError, match="must be a table"):
        parse('[schedules]\nnightly = "0 2 * * *"')
    with pytest.raises(ProjectError, match="may use only letters") as info:
        parse('[schedules."night ly"]\ncron = "0 2 * * *"')
    assert info.value.line == 1


def test_the_line_is_the_key_inside_its_own_table():
    text = FILE + '\n[schedules.weekly]\ncron = "0 3 * * 0"\ntimezone = "Mars/Olympus"\n'
    with pytest.raises(ProjectError) as info:
        parse(text)
    assert info.value.line == text.splitlines().index('timezone = "Mars/Olympus"') + 1


# ---------------------------------------------------------------------------- definition hash

def test_every_field_is_classified_once():
    names = {f.name for f in fields(ScheduleSpec)}
    assert set(DEFINITION_FIELDS) | set(BEHAVIOUR_FIELDS) == names
    assert not set(DEFINITION_FIELDS) & set(BEHAVIOUR_FIELDS)


def test_the_hash_changes_with_the_definition_only():
    base = one('cron = "0 2 * * *"\ntimezone = "Europe/Berlin"\nselect = "+a b"')
    h = definition_hash(base)
    assert len(h) == 16 and h == definition_hash(replace(base))
    for changed in (replace(base, cron="0 3 * * *"), replace(base, timezone="UTC"), replace(base, select="+a"),
                    replace(base, select=None)):
        assert definition_hash(changed) != h
    for same in (replace(base, catchup=parse_duration("1d")), replace(base, overlap=Overlap.WAIT),
                 replace(base, enabled=False), replace(base, name="other", line=40),
                 replace(base, select="  +a   b ")):
        assert definition_hash(same) == h
    assert definition_hash(one('cron = "@daily"')) == definition_hash(one('cron = "0  0 * * *"'))


# ---------------------------------------------------------------------------- durations

@pytest.mark.parametrize("text, delta", [
    ("0", timedelta(0)), ("30s", timedelta(seconds=30)), ("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)), ("1h30m", timedelta(minutes=90)), (" 12H ", timedelta(hours=12)),
])
def test_durations(text, delta):
    duration = parse_duration(text)
    assert duration.delta == delta and str(duration) == text.strip()


@pytest.mark.parametrize("text", ["", "7", "7 d", "7days", "-1h", "1.5h", "h", "1y", "99999999999999w", "٣d"])
def test_not_durations(text):
    assert parse_duration(text) is None


def test_duration_doctests():
    result = doctest.testmod(durations)
    assert result.attempted >= 1 and result.failed == 0
