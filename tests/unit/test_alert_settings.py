"""`[alerts]` parsing through `load_config` (SPEC section 12): destinations, defaults, bad input
that names the key and never echoes a secret, and the masks the config hands to every message."""
from __future__ import annotations

import textwrap

import pytest

from assetflow.project.alert_settings import (PAGERDUTY_EVENTS_URL, CommandDestination, PagerDutyDestination,
                                      SlackDestination, WebhookDestination, parse_duration)
from assetflow.project.config import load_config
from assetflow.errors import ProjectError

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"          # 32 characters
SLACK = "https://hooks.slack.com/services/T0000/B0000/SECRETPATHxyz"


def config_with(tmp_path, alerts: str, environ: dict | None = None):
    (tmp_path / "assetflow.toml").write_text('[project]\nname = "shop"\n\n[alerts]\n' + textwrap.dedent(alerts))
    return load_config(tmp_path, environ or {})


def error_of(tmp_path, alerts: str, environ: dict | None = None) -> ProjectError:
    with pytest.raises(ProjectError) as caught:
        config_with(tmp_path, alerts, environ)
    return caught.value


def test_every_destination_and_the_defaults(tmp_path):
    config = config_with(tmp_path, """
        on_failure = [
          { slack = "${SLACK_WEBHOOK_URL}" },
          { pagerduty = "${PD_ROUTING_KEY}", severity = "critical" },
          { pagerduty = "${PD_ROUTING_KEY}" },
          { webhook = "http://127.0.0.1:9000/hook" },
          { command = "notify-send assetflow" },
        ]
        """, {"SLACK_WEBHOOK_URL": SLACK, "PD_ROUTING_KEY": KEY})
    alerts = config.alerts
    assert alerts.on_failure == (SlackDestination(SLACK), PagerDutyDestination(KEY, "critical"),
                                 PagerDutyDestination(KEY, "error"), WebhookDestination("http://127.0.0.1:9000/hook"),
                                 CommandDestination("notify-send assetflow"))
    assert (alerts.on_recovery, alerts.repeat_after, alerts.pagerduty_url) == (True, 86400.0, PAGERDUTY_EVENTS_URL)
    # every secret, wherever it came from, is masked in whatever the config's users print
    shown = config.masks.mask(f"{SLACK} {KEY} http://127.0.0.1:9000/hook")
    assert shown == "https://hooks.slack.com/*** *** http://127.0.0.1:9000/***"


def test_recovery_repeat_and_endpoint(tmp_path):
    alerts = config_with(tmp_path, """
        on_failure = [ { webhook = "https://example.com/h" } ]
        on_recovery = false
        repeat_after = "1h30m"
        pagerduty_url = "http://127.0.0.1:8080/v2/enqueue"
        """).alerts
    assert (alerts.on_recovery, alerts.repeat_after, alerts.pagerduty_url) == \
        (False, 5400.0, "http://127.0.0.1:8080/v2/enqueue")


def test_no_alerts_table(tmp_path):
    (tmp_path / "assetflow.toml").write_text('[project]\nname = "shop"\n')
    config = load_config(tmp_path, {})
    assert config.alerts.on_failure == () and not config.masks


@pytest.mark.parametrize("alerts, key, words", [
    ('on_failure = [ { email = "ops@example.com" } ]', "email", ["alerts.on_failure[0]"]),
    ('on_failure = [ { slak = "https://x.example/h" } ]', "slak", ["did you mean 'slack'"]),
    ('on_failure = [ { webhook = "https://x.example/h", severity = "error" } ]', "severity", ["pagerduty"]),
    ('on_failure = [ { webhook = "https://a.example/h", slack = "https://b.example/h" } ]', "on_failure",
     ["exactly one", "slack, webhook"]),
    ('on_failure = [ { pagerduty = "' + KEY + '", severity = "fatal" } ]', "severity",
     ["critical, error, warning, info", "fatal"]),
    ('on_failure = [ { command = "" } ]', "command", ["non-empty"]),
    ('on_failure = { webhook = "https://x.example/h" }', "on_failure", ["must be a list"]),
    ('on_failure = [ "https://x.example/h" ]', "on_failure", ["inline table"]),
    ('on_recovery = "yes"', "on_recovery", ["true or false"]),
    ('repeat_after = "a day"', "repeat_after", ["duration", "24h"]),
    ('repeat_after = 3600', "repeat_after", ["duration"]),
    ('pagerduty_url = "events.pagerduty.com"', "pagerduty_url", ["http"]),
    ('notify = true', "notify", ["unknown key"]),
])
def test_bad_input_names_the_key_with_its_line(tmp_path, alerts, key, words):
    error = error_of(tmp_path, alerts + "\n")
    assert error.path == "assetflow.toml" and error.line == 5, (error.line, error.message)
    text = error.message + " " + (error.hint or "")
    for word in [key, *words]:
        assert word in text, (word, text)


@pytest.mark.parametrize("value", ["ftp://files.example/hook", "hooks.slack.com/services/T/B/SECRETPATHxyz",
                                   "file:///etc/passwd", "https:///no-host"])
@pytest.mark.parametrize("kind", ["slack", "webhook"])
def test_a_non_http_url_is_refused_without_echoing_it(tmp_path, kind, value):
    error = error_of(tmp_path, f'on_failure = [ {{ {kind} = "{value}" }} ]\n')
    assert f"alerts.on_failure[0].{kind}" in error.message and "http" in error.message
    assert value not in error.message + (error.hint or "")


def test_a_url_from_the_environment_names_the_variable_not_the_value(tmp_path):
    error = error_of(tmp_path, 'on_failure = [ { slack = "${SLACK_WEBHOOK_URL}" } ]\n',
                     {"SLACK_WEBHOOK_URL": "hooks.slack.com/services/T/B/SECRETPATHxyz"})
    assert "${SLACK_WEBHOOK_URL}" in error.message
    assert "SECRETPATHxyz" not in error.message + (error.hint or "")


@pytest.mark.parametrize("key", ["short", KEY + "X", KEY[:31]])
def test_a_routing_key_of_the_wrong_length_is_refused_without_echoing_it(tmp_path, key):
    error = error_of(tmp_path, '\n\non_failure = [ { pagerduty = "${PD_KEY}" } ]\n', {"PD_KEY": key})
    assert "alerts.on_failure[0].pagerduty" in error.message and "32" in error.message
    assert f"not {len(key)} characters" in error.message and "${PD_KEY}" in error.message
    assert error.line == 7
    assert key not in error.message + (error.hint or "")


def test_an_error_quoting_a_value_from_the_environment_masks_it(tmp_path):
    # severity is echoed (it is not a secret in itself), but a value from the environment never is
    error = error_of(tmp_path, f'on_failure = [ {{ pagerduty = "{KEY}", severity = "${{SEV}}" }} ]\n',
                     {"SEV": "page-the-ceo"})
    assert "severity" in error.message and "page-the-ceo" not in error.message + (error.hint or "")
    assert "***" in error.hint


def test_an_unset_variable_in_alerts_is_an_error_naming_key_and_variable(tmp_path):
    error = error_of(tmp_path, 'on_failure = [\n  { slack = "${SLACK_WEBHOOK_URL}" },\n]\n')
    assert "alerts.on_failure[0].slack" in error.message and "SLACK_WEBHOOK_URL" in error.message
    assert error.line == 6


def test_a_default_fills_an_unset_variable(tmp_path):
    config = config_with(tmp_path, 'on_failure = [ { webhook = "${HOOK:-http://127.0.0.1:9/h}" } ]\n')
    assert config.alerts.on_failure == (WebhookDestination("http://127.0.0.1:9/h"),)


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800),
                                           ("1w", 604800), ("1h30m", 5400), ("0s", 0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "1.5h", "-1h", "24 hours", "1y"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_an_error_points_at_the_line_of_its_own_entry(tmp_path):
    alerts = f"""
        on_failure = [
          {{ command = "echo '{{ severity = x }}' # no table" }},   # braces in a string, a comment {{
          {{ pagerduty = "{KEY}", severity = "info" }},
          {{ pagerduty = "{KEY}", severity = "loud" }},
        ]
        """
    error = error_of(tmp_path, alerts)
    assert "alerts.on_failure[2].severity" in error.message and "loud" in error.hint
    assert error.line == 9                          # the third entry's line, not the first "severity"
    error = error_of(tmp_path, alerts.replace('severity = "loud"', 'sevrity = "error"'))
    assert "unknown key 'sevrity' in alerts.on_failure[2]" in error.message and error.line == 9
    error = error_of(tmp_path, alerts.replace('{ pagerduty = "' + KEY + '", severity = "info" },',
                                              '{ webhook = "gopher://x" },'))
    assert "alerts.on_failure[1].webhook" in error.message and error.line == 8
