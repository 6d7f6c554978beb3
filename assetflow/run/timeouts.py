"""`timeout = "30m"`: an attempt that runs longer is cancelled and fails as a transient error.

A query is cancelled the way Ctrl-C cancels it: a timer thread calls `interrupt()` on the cursor
running it (DuckDB then raises its interrupt error and the transaction rolls back). A Python
function cannot be stopped from outside, so a timed asset's function runs on a companion thread
of the worker while the worker waits until the deadline; at the deadline the worker gives up on
it: its result, if it ever comes, is thrown away and its partition is never written. The query it
runs on its own cursor (`context.con`, its inputs) is interrupted, and the thread is abandoned: it
is a daemon thread, so even a function blocked for good never holds the run, or the process, past
the deadline. (Raising an exception in it with PyThreadState_SetAsyncExc was tried: a thread
stopped that way could leave the import lock held and hang the next worker.)
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from assetflow.durations import Duration
from assetflow.errors import AssetflowError, FailureKind, Interrupted

_POLL = 0.1                 # how often a waiting worker looks at Ctrl-C


class AttemptTimedOut(AssetflowError, TimeoutError):
    """The attempt ran past the asset's `timeout`: worth another attempt (the moment may be better).
    A TimeoutError too, so `retry_on = ["TimeoutError"]` keeps retrying it."""

    failure_kind = FailureKind.TRANSIENT


@dataclass(eq=False)
class TimeLimit:
    """The deadline of one attempt: interrupts what registered with `watch` when it passes."""

    timeout: Duration
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cancels: list[Callable[[], None]] = field(default_factory=list)
    _expired: bool = False
    _done: bool = False
    _timer: threading.Timer | None = None
    deadline: float = 0.0

    def __enter__(self) -> TimeLimit:
        seconds = self.timeout.delta.total_seconds()
        self.deadline = time.monotonic() + seconds
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._done = True
        if self._timer is not None:
            self._timer.cancel()

    @property
    def expired(self) -> bool:
        with self._lock:
            return self._expired

    def error(self) -> AttemptTimedOut:
        return AttemptTimedOut(f"timed out after {self.timeout}")

    def watch(self, cancel: Callable[[], None]) -> None:
        """Call `cancel` at the deadline (at once when it has passed) unless the attempt ended."""
        with self._lock:
            if self._done:
                return
            self._cancels.append(cancel)
            late = self._expired
        if late:
            _quietly(cancel)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._expired = True
            cancels = list(self._cancels)
        for cancel in cancels:
            _quietly(cancel)


def _quietly(cancel: Callable[[], None]) -> None:
    try:
        cancel()
    except Exception:          # a cursor already closed: nothing left to cancel
        pass


class Companions:
    """One companion thread per worker thread, reused across attempts until one is abandoned."""

    def __init__(self) -> None:
        self._local = threading.local()

    def call(self, fn: Callable[[], Any], limit: TimeLimit, cancelled: threading.Event | None) -> Any:
        """`fn()` on this worker's companion, waiting no later than the limit's deadline. Raises
        AttemptTimedOut past it, Interrupted when `cancelled` is set, or what `fn` raised."""
        companion = getattr(self._local, "companion", None)
        if companion is None or not companion.is_alive():
            companion = self._local.companion = _Companion()
        job = companion.submit(fn)
        while not job.done.wait(_POLL):
            if cancelled is not None and cancelled.is_set():
                self._abandon(companion)
                raise Interrupted()
            if time.monotonic() >= limit.deadline or limit.expired:
                self._abandon(companion)
                raise limit.error()
        if limit.expired:                 # it ended as the deadline passed (its query interrupted)
            raise limit.error()
        if job.error is not None:
            raise job.error
        return job.result

    def _abandon(self, companion: _Companion) -> None:
        self._local.companion = None
        companion.stop()


@dataclass(eq=False)
class _Job:
    fn: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class _Companion:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="assetflow-timed", daemon=True)
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive() and not self._abandoned.is_set()

    def submit(self, fn: Callable[[], Any]) -> _Job:
        job = _Job(fn)
        self._jobs.put(job)
        return job

    def stop(self) -> None:
        """Abandon the thread: it exits when its job returns, if it ever does."""
        self._abandoned.set()
        self._jobs.put(None)

    def _loop(self) -> None:
        while not self._abandoned.is_set():
            job = self._jobs.get()
            if job is None:
                return
            try:
                job.result = job.fn()
            except BaseException as exc:  # handed to the waiting worker, which decides
                job.error = exc
            finally:
                job.done.set()
