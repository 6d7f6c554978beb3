"""Delivery against real receivers on 127.0.0.1 and real commands: what counts as delivered, what is
permanent (never retried), what is retried and when (429 Retry-After, 5xx and connection errors
with backoff), and that no send can hold a run for long (SPEC section 12)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from alert_receiver import Answer, closed_port
from assetflow.alerts.delivery import DELIVERED, PERMANENT, RETRY, backoff, deliver, deliver_all, retry_after
from assetflow.alerts.notifications import Notification
from assetflow.project.interpolate import build_masks

NOW = datetime(2024, 1, 5, 2, 0, 0)
BODY = '{"text": "hi"}'


def to(url: str, kind: str = "slack") -> Notification:
    return Notification(kind, url, BODY, "run r1")


@pytest.mark.parametrize("status", [200, 202, 204])
def test_a_2xx_is_delivered(receiver, status):
    receiver.answer("/h", Answer(status, "" if status == 204 else '{"status":"success"}'))
    result = deliver(to(receiver.url("/h")), NOW)
    assert (result.outcome, result.detail, result.retry_at) == (DELIVERED, f"HTTP {status}", None)
    assert receiver.received[0].body == BODY.encode()
    assert receiver.received[0].headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status, body", [(400, "invalid_payload"), (403, "action_prohibited"),
                                          (404, "channel_not_found"), (410, "channel_is_archived"),
                                          (400, '{"status":"invalid event","errors":["Length of routing_key"]}')])
def test_a_4xx_is_permanent_and_says_why(receiver, status, body):
    receiver.answer("/h", Answer(status, body))
    result = deliver(to(receiver.url("/h")), NOW)
    assert (result.outcome, result.retry_at) == (PERMANENT, None)
    assert result.detail.startswith(f"HTTP {status}: ") and body[:20] in result.detail
    assert len(receiver.received) == 1                           # not retried in process either


def test_a_redirect_is_permanent_and_the_secret_is_not_sent_elsewhere(receiver):
    receiver.answer("/h", Answer(301, "", {"Location": receiver.url("/elsewhere")}))
    result = deliver(to(receiver.url("/h")), NOW)
    assert (result.outcome, result.detail) == (PERMANENT, "HTTP 301")
    assert [r.path for r in receiver.received] == ["/h"]


def test_429_is_retried_when_the_receiver_says(receiver):
    receiver.answer("/h", Answer(429, "rate_limited", {"Retry-After": "120"}))
    result = deliver(to(receiver.url("/h")), NOW)
    assert (result.outcome, result.retry_at) == (RETRY, NOW + timedelta(seconds=120))
    assert result.detail == "HTTP 429: rate_limited"


def test_429_with_an_http_date_and_without_a_header(receiver):
    when = NOW + timedelta(minutes=7)
    receiver.answer("/date", Answer(429, "", {"Retry-After": format_datetime(when.replace(tzinfo=timezone.utc),
                                                                             usegmt=True)}))
    receiver.answer("/none", Answer(429, ""))
    assert deliver(to(receiver.url("/date")), NOW).retry_at == when
    assert deliver(to(receiver.url("/none")), NOW, attempt=2).retry_at == NOW + timedelta(seconds=backoff(2))


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_backs_off(receiver, status):
    receiver.answer("/h", Answer(status, "rollup_error"))
    first = deliver(to(receiver.url("/h")), NOW)
    third = deliver(to(receiver.url("/h")), NOW, attempt=3)
    assert (first.outcome, first.retry_at, first.attempt) == (RETRY, NOW + timedelta(seconds=30), 1)
    assert (third.outcome, third.retry_at, third.attempt) == (RETRY, NOW + timedelta(seconds=120), 3)


def test_a_receiver_that_is_down_is_retried_later():
    result = deliver(to(f"http://127.0.0.1:{closed_port()}/h"), NOW)
    assert (result.outcome, result.detail, result.retry_at) == (RETRY, "connection refused",
                                                                 NOW + timedelta(seconds=30))


def test_a_receiver_that_hangs_is_cut_off_by_the_timeout(receiver):
    receiver.answer("/h", Answer(hold=True))
    started = time.monotonic()
    result = deliver(to(receiver.url("/h")), NOW, timeout=0.5)
    assert time.monotonic() - started < 2.5
    assert (result.outcome, result.detail) == (RETRY, "timed out")


def test_the_budget_bounds_a_whole_batch(receiver):
    receiver.answer("/h", Answer(hold=True))
    started = time.monotonic()
    results = deliver_all([to(receiver.url("/h"))] * 5, NOW, build_masks(), budget=1.0)
    assert time.monotonic() - started < 3.0
    assert [r.outcome for r in results] == [RETRY] * 5
    assert results[0].detail == "timed out"
    assert all("budget" in r.detail and r.retry_at == NOW for r in results[1:])
    assert len(receiver.received) == 1


def test_the_budget_is_measured_on_the_injected_clock(receiver):
    ticks = iter([0.0, 0.0, 5.0, 5.95])        # start, before #1, before #2, before #3

    results = deliver_all([to(receiver.url("/h"))] * 3, NOW, build_masks(), budget=6.0, clock=lambda: next(ticks))
    assert [r.outcome for r in results] == [DELIVERED, DELIVERED, RETRY]
    assert len(receiver.received) == 2


@pytest.mark.parametrize("header, seconds", [("120", 120.0), (" 5 ", 5.0), ("-3", 0.0), ("999999", 86400.0),
                                             ("soon", None), ("", None), (None, None)])
def test_retry_after_header(header, seconds):
    assert retry_after(header, NOW) == seconds


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


# ------------------------------------------------------------------------------ commands


def test_a_command_gets_the_json_on_stdin(tmp_path):
    out = tmp_path / "got.json"
    result = deliver(Notification("command", f"cat > '{out}'", BODY, "run r1"), NOW)
    assert (result.outcome, result.detail) == (DELIVERED, "exit code 0")
    assert out.read_text() == BODY


def test_a_failing_command_is_retried_with_its_stderr():
    result = deliver(Notification("command", "echo 'no display' >&2; exit 3", BODY, "run r1"), NOW)
    assert (result.outcome, result.detail) == (RETRY, "exit code 3: no display")
    assert result.retry_at == NOW + timedelta(seconds=30)


def test_a_hanging_command_is_killed_with_everything_it_started(tmp_path):
    pid_file = tmp_path / "pid"
    command = f"sleep 60 & echo $! > '{pid_file}'; wait"
    started = time.monotonic()
    result = deliver(Notification("command", command, BODY, "run r1"), NOW, timeout=0.5)
    assert time.monotonic() - started < 3.0
    assert (result.outcome, result.detail) == (RETRY, "timed out after 0.5 s")
    assert not alive(int(pid_file.read_text()))


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for its parent to reap it."""
    try:
        status = open(f"/proc/{pid}/status").read()
    except FileNotFoundError:
        return False
    state = next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))
    return state not in ("Z", "X")


# ------------------------------------------------------------------------------ what is printed


def test_descriptions_mask_every_secret():
    port = closed_port()
    secret = f"http://127.0.0.1:{port}/services/T0/B0/SECRETPATH"
    masks = build_masks(("tok-12345",), (secret,), ("R0UT1NGKEY0123456789abcdefABCDEF",))
    down = deliver(to(secret), NOW)
    line = down.describe(masks)
    assert line == f"alert to slack http://127.0.0.1:{port}/*** (run r1) not delivered: connection refused"
    assert "retry due at 2024-01-05 02:00:30Z" in down.describe(masks, kept_for_retry=True)
    failing = deliver(Notification("command", "exit 4 # tok-12345", BODY, "run r1"), NOW)
    assert failing.describe(masks) == "alert command `exit 4 # ***` (run r1) not delivered: exit code 4"
