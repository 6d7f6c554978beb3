"""`[alerts]` of assetflow.toml -> frozen `AlertSettings`, checked at load.

It sits beside `config` (not in `assetflow/alerts/`, which formats and delivers) because the
project layer must not import the layers above it.

A mistake is an error naming the key, never echoing the value: a webhook URL or a routing key is
a secret, whether it was written in the file or came from `${VAR}`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, Callable, Union
from urllib.parse import urlsplit

from assetflow.errors import ProjectError

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
DESTINATIONS = ("slack", "pagerduty", "webhook", "command")
DEFAULT_REPEAT_AFTER = "24h"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True, slots=True)
class SlackDestination:
    url: str                         # an incoming-webhook URL (a secret)


@dataclass(frozen=True, slots=True)
class PagerDutyDestination:
    routing_key: str                 # the Events API v2 integration key (a secret)
    severity: str = "error"


@dataclass(frozen=True, slots=True)
class WebhookDestination:
    url: str


@dataclass(frozen=True, slots=True)
class CommandDestination:
    command: str                     # run by the shell, the JSON payload on stdin


Destination = Union[SlackDestination, PagerDutyDestination, WebhookDestination, CommandDestination]


@dataclass(frozen=True)
class AlertSettings:
    on_failure: tuple[Destination, ...] = ()
    on_recovery: bool = True
    repeat_after: float = 86400.0    # seconds before a still-open incident is notified again
    pagerduty_url: str = PAGERDUTY_EVENTS_URL

    def secret_urls(self) -> tuple[str, ...]:
        urls = [d.url for d in self.on_failure if isinstance(d, (SlackDestination, WebhookDestination))]
        return tuple(urls) + ((self.pagerduty_url,) if self.pagerduty_url != PAGERDUTY_EVENTS_URL else ())

    def secret_keys(self) -> tuple[str, ...]:
        return tuple(d.routing_key for d in self.on_failure if isinstance(d, PagerDutyDestination))


@dataclass(frozen=True)
class _Where:
    """How errors point into the file: its name, a key -> line lookup, the variables of a key.
    Keys are full paths, as in the messages: `alerts.on_failure[1].severity`."""

    path: str
    locate: Callable[[str], int | None]
    variables_of: Callable[[str], tuple[str, ...]]

    def error(self, message: str, key: str, hint: str | None = None) -> ProjectError:
        return ProjectError(message, path=self.path, line=self.locate(key), hint=hint)

    def origin(self, key: str) -> str:
        """Where a hidden value came from, so the user knows what to fix without seeing it."""
        names = self.variables_of(key)
        return f" (it comes from {', '.join('${' + n + '}' for n in names)})" if names else ""


def parse_alerts(raw: Any, path: str, locate: Callable[[str], int | None],
                 variables_of: Callable[[str], tuple[str, ...]] = lambda key: ()) -> AlertSettings:
    where = _Where(path, locate, variables_of)
    if not isinstance(raw, dict):
        raise where.error("[alerts] must be a table", "alerts")
    _check_keys(raw, ("on_failure", "on_recovery", "repeat_after", "pagerduty_url"), "alerts", where)
    entries = raw.get("on_failure", [])
    if not isinstance(entries, list):
        raise where.error("alerts.on_failure must be a list", "alerts.on_failure",
                          hint='on_failure = [ { slack = "${SLACK_WEBHOOK_URL}" } ]')
    on_recovery = raw.get("on_recovery", True)
    if not isinstance(on_recovery, bool):
        raise where.error("alerts.on_recovery must be true or false", "alerts.on_recovery")
    pagerduty_url = raw.get("pagerduty_url", PAGERDUTY_EVENTS_URL)
    _check_url(pagerduty_url, "alerts.pagerduty_url", where)
    return AlertSettings(
        on_failure=tuple(_destination(entry, f"alerts.on_failure[{i}]", where) for i, entry in enumerate(entries)),
        on_recovery=on_recovery,
        repeat_after=_duration(raw.get("repeat_after", DEFAULT_REPEAT_AFTER), "alerts.repeat_after", where),
        pagerduty_url=pagerduty_url)


def _destination(entry: Any, key: str, where: _Where) -> Destination:
    example = 'each entry is one of { slack = "..." }, { pagerduty = "...", severity = "error" }, ' \
              '{ webhook = "https://..." }, { command = "..." }'
    if not isinstance(entry, dict):
        raise where.error(f"{key} must be an inline table", key, hint=example)
    _check_keys(entry, (*DESTINATIONS, "severity"), key, where)
    kinds = [k for k in DESTINATIONS if k in entry]
    if len(kinds) != 1:
        raise where.error(f"{key} needs exactly one of {', '.join(DESTINATIONS)}"
                          + (f" (it has {', '.join(kinds)})" if kinds else ""), key, hint=example)
    kind = kinds[0]
    value = entry[kind]
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"{key}.{kind} must be a non-empty string", f"{key}.{kind}", hint=example)
    if "severity" in entry and kind != "pagerduty":
        raise where.error(f"{key}.severity only applies to pagerduty", f"{key}.severity")
    if kind in ("slack", "webhook"):
        _check_url(value, f"{key}.{kind}", where)
        return SlackDestination(value) if kind == "slack" else WebhookDestination(value)
    if kind == "command":
        return CommandDestination(value)
    if len(value) != ROUTING_KEY_LENGTH:
        raise where.error(f"{key}.pagerduty must be a {ROUTING_KEY_LENGTH}-character routing key, not "
                          f"{len(value)} characters{where.origin(key + '.pagerduty')}", f"{key}.pagerduty",
                          hint="use the Integration Key of an Events API v2 integration of the PagerDuty service")
    severity = entry.get("severity", "error")
    if severity not in SEVERITIES:
        raise where.error(f"{key}.severity must be one of {', '.join(SEVERITIES)}", f"{key}.severity",
                          hint=f"got '{severity}'" if isinstance(severity, str) else None)
    return PagerDutyDestination(value, severity)


def _check_url(value: Any, key: str, where: _Where) -> None:
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        ok = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise where.error(f"{key} must be an http:// or https:// URL; the value is not shown, it may be a secret"
                          f"{where.origin(key)}", key, hint="e.g. https://hooks.slack.com/services/...")


def parse_duration(text: str) -> float:
    """Seconds in a duration like "90s", "30m", "24h", "7d", "1w" or "1h30m".

    >>> parse_duration("1h30m")
    5400.0
    """
    match = re.fullmatch(r"(?:\d+[smhdw])+", text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(text)
    return float(sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text)))


def _duration(value: Any, key: str, where: _Where) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise where.error(f"{key} must be a duration like \"24h\", not {value!r}", key,
                          hint='units: s, m, h, d, w; e.g. "30m", "24h", "1h30m"') from None


def _check_keys(raw: dict[str, Any], allowed: tuple[str, ...], section: str, where: _Where) -> None:
    for key in raw:
        if key not in allowed:
            close = get_close_matches(key, allowed, n=1)
            shown = f"[{section}]" if section == "alerts" else section
            raise where.error(f"unknown key '{key}' in {shown}", f"{section}.{key}",
                              hint=f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}")
