"""Where the scheduler's time comes from: a `Clock` is passed in, never read from a global.

`SystemClock` is the wall clock (the CLI's); tests and `--at` hand in their own, so the loop never
sleeps on real time in a test. `wait(stop, seconds)` is the loop's only pause: it returns early
(True) when `stop` is set, so SIGTERM or `serve` shutting down wakes the loop at once.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...                                  # aware, UTC
    def wait(self, stop: threading.Event, seconds: float) -> bool: ...   # True: stop was set


class SystemClock:
    """The wall clock; the loop re-reads it after every wait (suspend, NTP steps)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(max(seconds, 0.0))


class FrozenClock:
    """Always the same instant (`schedule run --once --at`); waiting lets no time pass."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError(f"{at!r} is naive: a clock gives aware instants")
        self.at = at.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self.at

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(min(max(seconds, 0.0), 0.05))
