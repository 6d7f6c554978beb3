"""`[schedules.NAME]` tables -> validated, frozen `ScheduleSpec` values; the definition hash.

Validation happens once, when the project file is read, so a typo in a schedule fails `status`
the same as `schedule run`: every error names the file, the line and the key
(`schedules.nightly.cron`) and says how to fix it. The selection is kept as text: it is checked
against the asset graph where the graph exists (a selection that matches nothing is reported with
the same key).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assetflow.durations import EXAMPLES as DURATION_EXAMPLES
from assetflow.durations import Duration, parse_duration
from assetflow.errors import ProjectError
from assetflow.names import suggest
from assetflow.project.cron import FORMS, CronError, normalize_cron

CONFIG_FILE = "assetflow.toml"       # config.CONFIG_FILE (config imports this module, not the reverse)
KEYS = ("cron", "timezone", "select", "catchup", "overlap", "enabled")
_NAME = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


class Overlap(str, Enum):
    """What a tick does when another run holds the project."""

    SKIP = "skip"      # record the tick `skipped`, naming the holder
    WAIT = "wait"      # wait for the project; a newer tick replaces the waiting one


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    name: str
    cron: str                          # normalized: five fields, aliases expanded
    timezone: str = "UTC"              # an IANA key zoneinfo knows
    select: str | None = None          # selection text; None selects every asset
    catchup: Duration | None = None    # None: every closed window; else the latest plus this span back
    overlap: Overlap = Overlap.SKIP
    enabled: bool = True
    line: int | None = field(default=None, compare=False)   # of the [schedules.NAME] header

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)     # zoneinfo caches instances per key

    @property
    def trigger(self) -> str:
        """How its runs are labelled in `runs`."""
        return f"schedule:{self.name}"


# Which fields decide *when and what* a schedule ticks. Changing one of these resets the cursor
# to now (nothing is caught up: dagster-io/dagster#13597); the others change how a tick behaves
# and keep the cursor. Every field of ScheduleSpec is in exactly one list (a test checks).
DEFINITION_FIELDS = ("cron", "timezone", "select")
BEHAVIOUR_FIELDS = ("name", "catchup", "overlap", "enabled", "line")


def definition_hash(spec: ScheduleSpec) -> str:
    """A short stable hash of the definition fields, stored with the schedule's cursor."""
    fields = {name: getattr(spec, name) for name in DEFINITION_FIELDS}
    fields["select"] = " ".join((fields["select"] or "").split())
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_schedules(raw: Any, text: str = "") -> tuple[ScheduleSpec, ...]:
    """The `[schedules]` table of assetflow.toml (`text` is the file, for line numbers)."""
    if not isinstance(raw, dict):
        raise _error("[schedules] must hold tables like [schedules.nightly]", text, None, None,
                     hint='[schedules.nightly]\ncron = "0 2 * * *"')
    return tuple(parse_schedule(name, table, text) for name, table in sorted(raw.items()))


def parse_schedule(name: str, table: Any, text: str = "") -> ScheduleSpec:
    """One `[schedules.NAME]` table."""
    if not _NAME.fullmatch(name):
        raise _error(f"schedule name '{name}' may use only letters, digits, '_' and '-'", text, name, None,
                     hint="rename the table, e.g. [schedules.nightly]")
    if not isinstance(table, dict):
        raise _error(f"schedules.{name} must be a table with at least `cron`", text, name, None,
                     hint=f'[schedules.{name}]\ncron = "0 2 * * *"')
    for key in table:
        if key not in KEYS:
            hint = suggest(key, list(KEYS)) or f"keys of a schedule: {', '.join(KEYS)}"
            raise _error(f"unknown key '{key}' in [schedules.{name}]", text, name, key, hint=hint)
    if "cron" not in table:
        raise _error(f"schedules.{name} has no `cron`", text, name, None,
                     hint=f'add cron = "0 2 * * *" (daily at 02:00); forms: {FORMS}')
    return ScheduleSpec(
        name=name,
        cron=_cron(name, _string(table, "cron", name, text), text),
        timezone=_zone(name, _string(table, "timezone", name, text, "UTC"), text),
        select=_select(name, table, text),
        catchup=_catchup(name, table, text),
        overlap=_overlap(name, _string(table, "overlap", name, text, "skip"), text),
        enabled=_flag(table, "enabled", name, text),
        line=_line_of(text, name, None))


def _cron(name: str, value: str, text: str) -> str:
    try:
        return normalize_cron(value)
    except CronError as exc:
        raise _error(f"schedules.{name}.cron: {exc}", text, name, "cron", hint=f"write {FORMS}") from None


def _zone(name: str, value: str, text: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):        # ValueError: not a key at all ("../x", "")
        from zoneinfo import available_timezones       # only on this error path: it scans tzdata
        hint = suggest(value, sorted(available_timezones())) or \
            'use an IANA time zone name such as "UTC", "Europe/Berlin" or "America/New_York"'
        raise _error(f"schedules.{name}.timezone: unknown time zone '{value}'", text, name, "timezone",
                     hint=hint) from None
    return value


def _select(name: str, table: dict, text: str) -> str | None:
    value = _string(table, "select", name, text, None)
    if value is not None and not value.strip():
        raise _error(f"schedules.{name}.select is empty", text, name, "select",
                     hint="leave `select` out to build every asset, or name some, e.g. \"+marts.daily\"")
    return value


def _catchup(name: str, table: dict, text: str) -> Duration | None:
    value = _string(table, "catchup", name, text, None)
    if value is None:
        return None
    duration = parse_duration(value)
    if duration is None:
        raise _error(f"schedules.{name}.catchup: '{value}' is not a duration", text, name, "catchup",
                     hint=f'write a number and a unit (s, m, h, d, w), e.g. {DURATION_EXAMPLES}; "0" = the latest window only')
    return duration


def _overlap(name: str, value: str, text: str) -> Overlap:
    try:
        return Overlap(value)
    except ValueError:
        raise _error(f"schedules.{name}.overlap: '{value}' is not an overlap policy", text, name, "overlap",
                     hint='"skip" (record the tick skipped while another run holds the project) or '
                          '"wait" (run it once the project is free)') from None


def _string(table: dict, key: str, name: str, text: str, default: str | None = None) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, str):
        raise _error(f"schedules.{name}.{key} must be a string, not {value!r}", text, name, key,
                     hint=f'quote it: {key} = "{value}"')
    return value


def _flag(table: dict, key: str, name: str, text: str) -> bool:
    value = table.get(key, True)
    if not isinstance(value, bool):
        raise _error(f"schedules.{name}.{key} must be true or false, not {value!r}", text, name, key,
                     hint=f"write {key} = true or {key} = false (no quotes)")
    return value


def _error(message: str, text: str, name: str | None, key: str | None, hint: str) -> ProjectError:
    return ProjectError(message, path=CONFIG_FILE, line=_line_of(text, name, key), hint=hint)


def key_line(text: str, name: str, key: str | None) -> int | None:
    """The line of `schedules.NAME.KEY` in assetflow.toml's text (of the table without a key)."""
    return _line_of(text, name, key)


def _line_of(text: str, name: str | None, key: str | None) -> int | None:
    """The line of `key` inside [schedules.NAME] (or of the header itself), best effort: tomllib
    reports no positions. Dotted (`schedules.x.cron = ...`) and inline tables fall back to None."""
    lines = text.splitlines()
    header = re.compile(rf'^\s*\[\s*schedules\s*\.\s*"?{re.escape(name or "")}"?\s*\]')
    start = next((n for n, line in enumerate(lines) if name is not None and header.match(line)), None)
    if start is None:
        return None
    if key is None:
        return start + 1
    assignment = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    for n in range(start + 1, len(lines)):
        if lines[n].lstrip().startswith("["):
            return start + 1
        if assignment.match(lines[n]):
            return n + 1
    return start + 1


