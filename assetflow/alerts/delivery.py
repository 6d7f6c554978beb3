"""Sending notifications: HTTP POST with urllib (stdlib), or a shell command with the JSON on stdin.

Every send returns a `Delivery` saying what happened and, when it is worth trying again, when:
- 2xx: delivered;
- 429: again after the receiver's `Retry-After` (seconds or an HTTP date), as a 5xx that sends one;
- other 4xx, and 3xx (a webhook that redirects is misconfigured): permanent, never retried;
- 5xx, a timeout, a refused or reset connection, a command that exits non-zero: again later,
  with exponential backoff.
Nothing here sleeps: the retry time is returned for the caller to keep (the outbox carries it
to the next run). Every send is bounded by a short timeout and the whole batch by a budget, so
an alert never holds a run's exit for more than a few seconds, and never raises.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Iterable

from assetflow.alerts.notifications import Notification
from assetflow.project.interpolate import Masks, mask_url

log = logging.getLogger("assetflow.alerts")

DELIVERED, RETRY, PERMANENT = "delivered", "retry", "permanent"
HTTP_TIMEOUT = 3.0             # seconds per request
COMMAND_TIMEOUT = 5.0          # seconds per command
BUDGET = 6.0                   # seconds for all the notifications of one run
FIRST_BACKOFF = 30.0           # seconds before the first retry; doubles per attempt
MAX_BACKOFF = 3600.0
MAX_RETRY_AFTER = 86400.0      # a receiver asking for more than a day is asked again after a day
DETAIL_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Delivery:
    notification: Notification
    outcome: str                        # delivered | retry | permanent
    detail: str                         # "HTTP 503: ...", "connection refused", "exit code 3: ..."
    attempt: int = 1                    # the how-manieth send of this notification
    retry_at: datetime | None = None    # when to send again (outcome retry)

    def describe(self, masks: Masks, kept_for_retry: bool = False) -> str:
        """One line for a warning or a log, with every secret masked. `kept_for_retry`: the caller
        stores a failed notification for a later send (the outbox), so the line says when."""
        n = self.notification
        where = f"alert to {n.kind} {mask_url(n.target)}" if n.is_http else f"alert command `{n.target}`"
        verdict = {DELIVERED: "delivered", PERMANENT: "not delivered, and not retried (permanent)",
                   RETRY: "not delivered"}[self.outcome]
        text = f"{where} ({n.subject}) {verdict}: {self.detail}"
        if kept_for_retry and self.retry_at is not None:
            text += f"; retry due at {self.retry_at:%Y-%m-%d %H:%M:%S}Z"
        return masks.mask(text)


def backoff(attempt: int) -> float:
    """Seconds before retrying after the `attempt`-th failed send: 30 s, 60 s, 120 s, ... 1 h.

    >>> [backoff(n) for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    """
    return min(FIRST_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)


def retry_after(header: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), None if unreadable."""
    if not header:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        seconds = (when.astimezone(timezone.utc).replace(tzinfo=None) - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def deliver_all(notifications: Iterable[Notification], now: datetime, masks: Masks, budget: float = BUDGET,
                clock: Callable[[], float] = time.monotonic, attempt: int = 1) -> tuple[Delivery, ...]:
    """Send each notification once, within `budget` seconds in all; what the budget leaves unsent
    comes back as a retry due now."""
    deadline = clock() + budget
    out = []
    for notification in notifications:
        remaining = deadline - clock()
        if remaining < 0.1:
            result = Delivery(notification, RETRY, f"not sent: the {budget:g} s alert budget of this run was used up",
                              attempt, now)
        else:
            result = deliver(notification, now, attempt, timeout=remaining)
        log.info("%s", result.describe(masks))
        out.append(result)
    return tuple(out)


def deliver(notification: Notification, now: datetime, attempt: int = 1, timeout: float = HTTP_TIMEOUT) -> Delivery:
    """Send one notification; never raises."""
    try:
        if notification.is_http:
            outcome, detail, wait = _post(notification, min(timeout, HTTP_TIMEOUT), now)
        else:
            outcome, detail, wait = _run_command(notification, min(timeout, COMMAND_TIMEOUT))
    except Exception as exc:  # an alert must never break the run that reports the failure
        outcome, detail, wait = RETRY, f"{type(exc).__name__}: {exc}", None
    if outcome != RETRY:
        return Delivery(notification, outcome, detail, attempt)
    delay = wait if wait is not None else backoff(attempt)
    return Delivery(notification, RETRY, detail, attempt, now + timedelta(seconds=delay))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect comes back as an HTTPError: re-POSTing a secret to another URL is not ours to do."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(notification: Notification, timeout: float, now: datetime) -> tuple[str, str, float | None]:
    request = urllib.request.Request(notification.target, data=notification.body.encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "assetflow"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(DETAIL_LIMIT)
            return DELIVERED, f"HTTP {response.status}", None
    except urllib.error.HTTPError as exc:
        detail = f"HTTP {exc.code}" + _body_of(exc)
        if exc.code == 429 or exc.code >= 500:     # (a 503 may say when to come back too)
            return RETRY, detail, retry_after(exc.headers.get("Retry-After"), now)
        return PERMANENT, detail, None
    except urllib.error.URLError as exc:
        return RETRY, _reason(exc.reason), None
    except (TimeoutError, ConnectionError, OSError) as exc:
        return RETRY, _reason(exc), None


def _body_of(exc: urllib.error.HTTPError) -> str:
    """The start of an error answer: Slack says why there (`invalid_payload`, `channel_not_found`)."""
    try:
        text = exc.read(DETAIL_LIMIT).decode(errors="replace").strip()
    except Exception:
        return ""
    return f": {' '.join(text.split())}" if text else ""


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return str(getattr(reason, "strerror", None) or reason)


def _run_command(notification: Notification, timeout: float) -> tuple[str, str, float | None]:
    """The command in its own process group, so a timeout stops everything it started."""
    proc = subprocess.Popen(notification.target, shell=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(notification.body.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        exited = proc.poll()         # the shell may be done while a background child holds stderr
        _kill_group(proc)
        if exited == 0:
            return DELIVERED, "exit code 0", None
        return RETRY, f"timed out after {timeout:g} s", None
    if proc.returncode == 0:
        return DELIVERED, "exit code 0", None
    text = " ".join(err.decode(errors="replace").split())[:DETAIL_LIMIT]
    return RETRY, f"exit code {proc.returncode}" + (f": {text}" if text else ""), None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=1.0)
    except subprocess.TimeoutExpired:    # a child that left the group keeps the pipe: not ours to wait for
        pass
