"""Run a plan with a pool of workers: each step starts as soon as the steps it needs are done.

A failure (after retries) marks every step that depends on it, transitively, as skipped; unrelated
steps go on. The executor knows nothing about SQL or engines: it calls `run_step`.
"""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

from assetflow.errors import Interrupted
from assetflow.plan.planner import Plan, Step
from assetflow.state import FAILED, SKIPPED, SUCCESS

StepId = tuple[str, int]


@dataclass(frozen=True, slots=True)
class StepResult:
    asset: str
    partition: str | None
    status: str                  # success | failed | skipped
    attempts: int
    rows: int | None
    error: str | None
    seconds: float = 0.0
    batch: tuple[tuple[str | None, int | None], ...] = ()   # (partition, rows) of every partition of a batch

    def per_partition(self) -> list[StepResult]:
        """One result per partition: a batch step expands into its partitions."""
        if not self.batch:
            return [self]
        return [StepResult(self.asset, key, self.status, self.attempts, rows, self.error, self.seconds)
                for key, rows in self.batch]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 0
    delay: float = 1.0


class StepFailed(Exception):
    """Raised by `run_step` with the message to record for the attempt."""


def execute(plan: Plan, run_step: Callable[[Step, int], int | tuple[int, ...]], *, threads: int,
            retry_policy: Callable[[str], RetryPolicy], on_start: Callable[[Step], None] = lambda s: None,
            on_done: Callable[[StepResult], None] = lambda r: None, stop: threading.Event | None = None,
            sleep: Callable[[float], None] | None = None,
            on_abort: Callable[[], None] = lambda: None, grace: float = float("inf")) -> list[StepResult]:
    """Run every step of `plan`.

    `on_abort` cancels in-flight work: at once when the run is interrupted by an exception, and
    `grace` seconds after `stop` is set (steps running then may finish; nothing new starts).
    """
    stopped_at: float | None = None
    stop = stop or threading.Event()
    by_id = {(s.asset, s.index): s for s in plan.steps}
    order = {sid: n for n, sid in enumerate(by_id)}
    waiting = {sid: len(plan.needs.get(sid, ())) for sid in by_id}
    readers: dict[StepId, list[StepId]] = {sid: [] for sid in by_id}
    for sid, needs in plan.needs.items():
        for need in needs:
            readers[need].append(sid)
    results: dict[StepId, StepResult] = {}
    ready = sorted((sid for sid, n in waiting.items() if n == 0), key=order.__getitem__, reverse=True)
    running: dict[Future, StepId] = {}

    pause = sleep or stop.wait            # backoff that a stop request (SIGTERM, Ctrl-C) cuts short

    def attempt_all(step: Step) -> StepResult:
        return _run_with_retries(step, run_step, retry_policy(step.asset), stop, pause)

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="assetflow") as pool:
        try:
            while ready or running:
                while ready and len(running) < threads and not stop.is_set():
                    sid = ready.pop()
                    on_start(by_id[sid])
                    running[pool.submit(attempt_all, by_id[sid])] = sid
                if not running:
                    break
                done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
                if stop.is_set():
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > grace:
                        on_abort()
                        grace = float("inf")
                for future in sorted(done, key=lambda f: order[running[f]]):
                    sid = running.pop(future)
                    result = future.result()
                    results[sid] = result
                    on_done(result)
                    if result.status == SUCCESS:
                        for reader in readers[sid]:
                            waiting[reader] -= 1
                            if waiting[reader] == 0 and reader not in results:
                                ready.append(reader)
                        ready.sort(key=order.__getitem__, reverse=True)
                    else:
                        _skip_readers(sid, readers, by_id, results, on_done)
        except BaseException:
            stop.set()          # no new steps, no more retries
            on_abort()          # cancel running queries before the pool waits for its workers
            raise
    return [results[sid] for sid in by_id if sid in results]


def _run_with_retries(step: Step, run_step: Callable[[Step, int], int | tuple[int, ...]], policy: RetryPolicy,
                      stop: threading.Event, sleep: Callable[[float], None]) -> StepResult:
    started = time.perf_counter()
    error = None
    for attempt in range(1, policy.retries + 2):
        if stop.is_set():
            if error is None:
                raise Interrupted()           # never started: the run is being stopped
            batch = tuple((k, None) for k in step.keys) if step.count > 1 else ()
            return StepResult(step.asset, step.partition, FAILED, attempt - 1, None,
                              f"{error}\n(not retried: the run was stopped)", time.perf_counter() - started, batch)
        try:
            rows = run_step(step, attempt)
            each = rows if isinstance(rows, tuple) else (rows,)
            batch = tuple(zip(step.keys, each)) if step.count > 1 else ()
            return StepResult(step.asset, step.partition, SUCCESS, attempt, sum(each), None,
                              time.perf_counter() - started, batch)
        except StepFailed as exc:
            error = str(exc)
        if attempt <= policy.retries:
            # Exponential backoff with jitter, so retries of many partitions don't stampede.
            sleep(policy.delay * (2 ** (attempt - 1)) * random.uniform(0.8, 1.2))
    batch = tuple((k, None) for k in step.keys) if step.count > 1 else ()
    return StepResult(step.asset, step.partition, FAILED, policy.retries + 1, None, error,
                      time.perf_counter() - started, batch)


def _skip_readers(failed: StepId, readers: dict[StepId, list[StepId]], by_id: dict[StepId, Step],
                  results: dict[StepId, StepResult], on_done: Callable[[StepResult], None]) -> None:
    origin = by_id[failed]
    label = origin.asset + (f" [{origin.partition}]" if origin.partition else "")
    stack = list(readers[failed])
    while stack:
        sid = stack.pop()
        if sid in results:
            continue
        step = by_id[sid]
        batch = tuple((k, None) for k in step.keys) if step.count > 1 else ()
        results[sid] = StepResult(step.asset, step.partition, SKIPPED, 0, None, f"upstream failed: {label}",
                                  batch=batch)
        on_done(results[sid])
        stack.extend(readers[sid])
