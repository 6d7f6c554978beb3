"""An asset's settings, validated: a SQL header's TOML table or `@asset(...)` keyword arguments
become `AssetSettings`, or a ProjectError naming the file, the key's line and a fix.

The rules are the ones of SPEC's header keys: each key's type, the kind, the partitioning (time
grains with their bounds and zone, static keys), durations, `retry_on` class names, and the
documentation keys.
"""
from __future__ import annotations

from typing import Any, Callable

from assetflow.assets import AssetSettings, Kind
from assetflow.checks import parse_check
from assetflow.durations import EXAMPLES as DURATION_EXAMPLES
from assetflow.durations import Duration, parse_duration
from assetflow.errors import PartitionKeyError, ProjectError
from assetflow.partitions import Grain, Partitioning, StaticPartitions, TimePartitions, parse_bound
from assetflow.partition_zones import partition_zone

_SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "kind": (str,), "partition_by": (str,), "time_column": (str,), "start": (str,), "end": (str,),
    "partition_column": (str,), "partitions": (list,), "retries": (int,), "retry_delay": (int, float),
    "tags": (list,), "checks": (list,), "deps": (list,), "lookback": (int,), "batch_size": (int,),
    "max_age": (str,), "description": (str,), "owner": (str,), "columns": (dict,),
    "retry_on": (list,), "timeout": (str,), "timezone": (str,),
}
SETTING_KEYS = frozenset(_SETTING_TYPES)


KeyLine = Callable[[str], "int | None"]       # the line a setting is written on, for messages


def parse_settings(raw: dict[str, Any], *, path: str, line: int | None = None,
                   key_line: KeyLine | None = None) -> AssetSettings:
    """Validate a header/decorator mapping into AssetSettings; errors name the file and key, at the
    key's own line when `key_line` knows it (a SQL header), else at `line`."""
    at: KeyLine = key_line or (lambda key: line)
    _check_types(raw, path, at)
    kind_text = raw.get("kind", "partitioned" if "partition_by" in raw else "table")
    try:
        kind = Kind(kind_text)
    except ValueError:
        raise ProjectError(f"unknown kind '{kind_text}'", path=path, line=at("kind"),
                           hint='kind is "table", "view" or "partitioned"') from None
    if kind is Kind.SEED:
        raise ProjectError("kind 'seed' is for files under seeds/", path=path, line=at("kind"))
    partitioning = _parse_partitioning(raw, kind, path, at)
    for key in ("retries", "lookback"):
        if raw.get(key, 0) < 0:
            raise ProjectError(f"setting '{key}' must be >= 0", path=path, line=at(key))
    for key, low in (("batch_size", 1), ("retry_delay", 0)):
        if raw.get(key, low) < low:
            raise ProjectError(f"setting '{key}' must be >= {low}", path=path, line=at(key))
    return AssetSettings(
        kind=kind, partitioning=partitioning, retries=raw.get("retries"),
        retry_delay=float(raw["retry_delay"]) if "retry_delay" in raw else None,
        tags=tuple(raw.get("tags", ())),
        checks=tuple(parse_check(c, path=path, line=at("checks")) for c in raw.get("checks", ())),
        deps=tuple(raw.get("deps", ())), lookback=raw.get("lookback", 0),
        batch_size=raw.get("batch_size", 1), max_age=_max_age(raw, kind, path, at),
        timeout=_timeout(raw, kind, path, at),
        retry_on=tuple(raw.get("retry_on", ())),
        description=_text(raw, "description"), owner=_text(raw, "owner"),
        columns=_columns(raw.get("columns", {}), path=path, line=at("columns")))


def _text(raw: dict[str, Any], key: str) -> str | None:
    """A documentation string, trimmed; blank is the same as absent."""
    value = raw.get(key, "").strip()
    return value or None


def _columns(raw: dict[str, Any], *, path: str, line: int | None) -> tuple[tuple[str, str], ...]:
    """`columns = {name = "description"}`: every value a string (a nested table is a common slip
    from dbt's `columns: [{name, description}]`)."""
    out = []
    for name, text in raw.items():
        if not isinstance(text, str):
            raise ProjectError(f"columns.{name} must be a description string, not {type(text).__name__}",
                               path=path, line=line, hint=f'write columns = {{{name} = "what it holds"}}')
        out.append((name, text.strip()))
    return tuple(out)


def _check_types(raw: dict[str, Any], path: str, at: KeyLine) -> None:
    for key, value in raw.items():
        if key not in _SETTING_TYPES:
            from difflib import get_close_matches
            close = get_close_matches(key, SETTING_KEYS, n=1)
            raise ProjectError(f"unknown setting '{key}'", path=path, line=at(key),
                               hint=f"did you mean '{close[0]}'?" if close else
                               f"known settings: {', '.join(sorted(SETTING_KEYS))}")
        types = _SETTING_TYPES[key]
        if not isinstance(value, types) or isinstance(value, bool):
            want = " or ".join(t.__name__ for t in types)
            raise ProjectError(f"setting '{key}' must be {want}, not {type(value).__name__} ({value!r})",
                               path=path, line=at(key))
        if key == "retry_on":
            _check_retry_on(value, path=path, line=at(key))
        elif isinstance(value, list) and key != "checks" and not all(isinstance(v, str) for v in value):
            raise ProjectError(f"setting '{key}' must be a list of strings", path=path, line=at(key))


def _max_age(raw: dict[str, Any], kind: Kind, path: str, at: KeyLine) -> Duration | None:
    return _duration(raw, "max_age", kind, path, at, "it reads its inputs whenever it is queried")


def _timeout(raw: dict[str, Any], kind: Kind, path: str, at: KeyLine) -> Duration | None:
    return _duration(raw, "timeout", kind, path, at, "building one runs no query")


def _duration(raw: dict[str, Any], key: str, kind: Kind, path: str, at: KeyLine, on_view: str) -> Duration | None:
    """A span-of-time setting longer than 0, refused on a view (`on_view` says why it does nothing)."""
    if key not in raw:
        return None
    span = parse_duration(raw[key])
    if span is None or not span.delta:
        raise ProjectError(f"{key} '{raw[key]}' is not a duration longer than 0", path=path, line=at(key),
                           hint=f"write a number and a unit (s, m, h, d, w), e.g. {DURATION_EXAMPLES}")
    if kind is Kind.VIEW:
        raise ProjectError(f"{key} has no effect on a view: {on_view}", path=path, line=at(key),
                           hint=f'remove {key}, or make it kind = "table"')
    return span


def _check_retry_on(names: list, *, path: str, line: int | None) -> None:
    """`retry_on` is a non-empty list of class names, bare (`TimeoutError`) or dotted with their
    module (`requests.exceptions.ConnectionError`)."""
    example = 'e.g. retry_on = ["ConnectionError", "TimeoutError"]'
    if not names:
        raise ProjectError("setting 'retry_on' is empty, so no error would ever be retried", path=path, line=line,
                           hint="list the exception classes worth a retry, or set retries = 0 instead")
    for name in names:
        if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
            raise ProjectError(f"setting 'retry_on' must list exception class names, not {name!r}",
                               path=path, line=line, hint=example)


_PARTITION_KEYS = ("partition_by", "time_column", "start", "end", "partition_column", "partitions",
                   "lookback", "batch_size", "timezone")


def _parse_partitioning(raw: dict[str, Any], kind: Kind, path: str, at: KeyLine) -> Partitioning | None:
    if kind is not Kind.PARTITIONED:
        stray = [key for key in _PARTITION_KEYS if key in raw]
        if stray:
            raise ProjectError(f"setting '{stray[0]}' needs kind = \"partitioned\"", path=path, line=at(stray[0]))
        return None
    by = raw.get("partition_by")
    if by is None:
        raise ProjectError("a partitioned asset needs partition_by", path=path, line=at("kind"),
                           hint='add partition_by = "day" (hour, day, week, month or static)')
    if by == "static":
        if "timezone" in raw:
            raise ProjectError("timezone works with day, week or month partitions, not static ones",
                               path=path, line=at("timezone"), hint="remove timezone")
        return _static_partitions(raw, path, at)
    try:
        grain = Grain(by)
    except ValueError:
        raise ProjectError(f"unknown partition_by '{by}'", path=path, line=at("partition_by"),
                           hint="use hour, day, week, month or static") from None
    zone = partition_zone(raw, grain, path, at)
    for needed in ("time_column", "start"):
        if needed not in raw:
            raise ProjectError(f"a {by}-partitioned asset needs `{needed}`", path=path, line=at("partition_by"))
    bounds = {}
    for key in ("start", "end"):
        try:
            bounds[key] = parse_bound(grain, raw[key], zone) if key in raw else None
        except PartitionKeyError as exc:
            raise ProjectError(exc.message, path=path, line=at(key), hint=exc.hint) from None
    if bounds["end"] is not None and bounds["end"] < bounds["start"]:
        raise ProjectError(f"end {raw['end']} is before start {raw['start']}", path=path, line=at("end"))
    return TimePartitions(grain=grain, start=bounds["start"], column=raw["time_column"], end=bounds["end"],
                          timezone=zone)


def _static_partitions(raw: dict[str, Any], path: str, at: KeyLine) -> StaticPartitions:
    if "partitions" not in raw or "partition_column" not in raw:
        raise ProjectError("static partitions need `partitions = [...]` and `partition_column`",
                           path=path, line=at("partition_by"))
    if raw.get("batch_size", 1) > 1:
        raise ProjectError("batch_size works with time partitions only", path=path, line=at("batch_size"),
                           hint="remove batch_size; static partitions are built one key at a time")
    keys = tuple(raw["partitions"])
    if not keys or len(set(keys)) != len(keys):
        raise ProjectError("`partitions` must be a non-empty list of distinct keys", path=path,
                           line=at("partitions"))
    return StaticPartitions(keys=keys, column=raw["partition_column"])
