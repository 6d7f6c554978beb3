"""Run a plan with a pool of workers: each step starts as soon as the steps it needs are done.

A failure (after retries) marks every step that depends on it, transitively, as skipped; unrelated
steps go on. The executor knows nothing about SQL or engines: it calls `run_step`.
"""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable

from assetflow.errors import FailureKind, Interrupted
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
    """Raised by `run_step` with the message to record for the attempt; only a TRANSIENT failure
    is worth another attempt."""

    def __init__(self, message: str, kind: FailureKind = FailureKind.TRANSIENT):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Landing:
    """Assets whose planned partitions become visible together or not at all (a rebuild built
    beside its table and swapped in). A step of such an asset holds its readers back until every
    step of the asset has finished; then `land(asset, problems)` publishes them all (it returns
    None) or none (it returns why not, and their readers are skipped).

    `whole(asset)` is asked when a step succeeds: the engine only knows once it has seen the
    asset's output whether its partitions go into the live table or beside it."""

    whole: Callable[[str], bool] = lambda asset: False
    land: Callable[[str, tuple[str, ...]], str | None] = lambda asset, problems: None


def execute(plan: Plan, run_step: Callable[[Step, int], int | tuple[int, ...]], *, threads: int,
            retry_policy: Callable[[str], RetryPolicy], on_start: Callable[[Step], None] = lambda s: None,
            on_done: Callable[[StepResult], None] = lambda r: None, stop: threading.Event | None = None,
            sleep: Callable[[float], None] | None = None, on_abort: Callable[[], None] = lambda: None,
            grace: float = float("inf"), landing: Landing = Landing()) -> list[StepResult]:
    """Run every step of `plan`.

    `on_abort` cancels in-flight work: at once when the run is interrupted by an exception, and
    `grace` seconds after `stop` is set (steps running then may finish; nothing new starts).
    """
    stopped_at: float | None = None
    stop = stop or threading.Event()
    book = _Book(plan, on_done, landing)
    running: dict[Future, StepId] = {}
    pause = sleep or stop.wait            # backoff that a stop request (SIGTERM, Ctrl-C) cuts short

    def attempt_all(step: Step) -> StepResult:
        return _run_with_retries(step, run_step, retry_policy(step.asset), stop, pause)

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="assetflow") as pool:
        try:
            while book.ready or running:
                while book.ready and len(running) < threads and not stop.is_set():
                    step = book.by_id[book.ready.pop()]
                    on_start(step)
                    running[pool.submit(attempt_all, step)] = (step.asset, step.index)
                if not running:
                    break
                done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
                if stop.is_set():
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > grace:
                        on_abort()
                        grace = float("inf")
                for future in sorted(done, key=lambda f: book.order[running[f]]):
                    book.finish(running.pop(future), future.result())
        except BaseException:
            stop.set()          # no new steps, no more retries
            on_abort()          # cancel running queries before the pool waits for its workers
            raise
    book.land_unfinished()
    return [book.results[sid] for sid in book.by_id if sid in book.results]


class _Book:
    """The bookkeeping of one execution: results, which steps each result makes ready or skips,
    and the successes held back until their asset lands (see `Landing`)."""

    def __init__(self, plan: Plan, on_done: Callable[[StepResult], None], landing: Landing):
        self.by_id = {(s.asset, s.index): s for s in plan.steps}
        self.order = {sid: n for n, sid in enumerate(self.by_id)}
        self.waiting = {sid: len(plan.needs.get(sid, ())) for sid in self.by_id}
        self.readers: dict[StepId, list[StepId]] = {sid: [] for sid in self.by_id}
        for sid, needs in plan.needs.items():
            for need in needs:
                self.readers[need].append(sid)
        self.results: dict[StepId, StepResult] = {}
        self.ready = sorted((sid for sid, n in self.waiting.items() if n == 0), key=self.order.__getitem__,
                            reverse=True)
        self._unfinished = Counter(asset for asset, _ in self.by_id)
        self._held: dict[str, list[StepId]] = {}          # asset -> successes whose readers wait for it
        self._problems: dict[str, list[str]] = {}         # asset -> its partitions that did not succeed
        self._on_done = on_done
        self._landing = landing

    def finish(self, sid: StepId, result: StepResult) -> None:
        self._record(sid, result)
        if result.status != SUCCESS:
            self._skip_readers(sid, _label(self.by_id[sid]))
        elif sid[0] in self._held or self._landing.whole(sid[0]):
            self._held.setdefault(sid[0], []).append(sid)
        else:
            self._release(sid)
        self._land_if_complete(sid[0])

    def land_unfinished(self) -> None:
        """After a stop: assets with held successes whose other steps never ran do not land (their
        readers never started, like every step not started after a stop)."""
        for asset in list(self._held):
            self._problems.setdefault(asset, []).append(
                f"{self._unfinished[asset]} partition(s) not built: the run was stopped")
            self._land(asset, skip_readers=False)

    def _record(self, sid: StepId, result: StepResult) -> None:
        self.results[sid] = result
        self._on_done(result)
        self._unfinished[sid[0]] -= 1
        if result.status != SUCCESS:
            self._problems.setdefault(sid[0], []).append(f"{_where(self.by_id[sid])} {result.status}")

    def _release(self, sid: StepId) -> None:
        for reader in self.readers[sid]:
            self.waiting[reader] -= 1
            if self.waiting[reader] == 0 and reader not in self.results:
                self.ready.append(reader)
        self.ready.sort(key=self.order.__getitem__, reverse=True)

    def _land_if_complete(self, asset: str) -> None:
        if asset in self._held and not self._unfinished[asset]:
            self._land(asset)

    def _land(self, asset: str, skip_readers: bool = True) -> None:
        held = self._held.pop(asset)
        problems = tuple(self._problems.get(asset, ()))
        why = self._landing.land(asset, problems)
        if why is None:
            for sid in held:
                self._release(sid)
            return
        # Held successes never reached their table: skipped when another partition failed,
        # failed when the landing itself did. Failed partitions say what became of the rest.
        for sid in [s for s in self.by_id if s[0] == asset and s in self.results]:
            r = self.results[sid]
            if sid in held:
                status = SKIPPED if problems else FAILED
                self.results[sid] = replace(r, status=status, error=why, batch=_none_rows(r.batch))
            elif r.status == FAILED:
                self.results[sid] = replace(r, error=f"{r.error}\n{why}")
        for sid in held if skip_readers else ():
            self._skip_readers(sid, f"{asset} (not swapped in)")

    def _skip_readers(self, failed: StepId, label: str) -> None:
        stack = list(self.readers[failed])
        while stack:
            sid = stack.pop()
            if sid in self.results:
                continue
            step = self.by_id[sid]
            batch = tuple((k, None) for k in step.keys) if step.count > 1 else ()
            self._record(sid, StepResult(step.asset, step.partition, SKIPPED, 0, None, f"upstream failed: {label}",
                                         batch=batch))
            stack.extend(self.readers[sid])
            self._land_if_complete(step.asset)


def _label(step: Step) -> str:
    return step.asset + (f" [{step.partition}]" if step.partition else "")


def _where(step: Step) -> str:
    if step.count > 1:
        return f"{step.keys[0]} .. {step.keys[-1]}"
    return step.partition or "the table"


def _none_rows(batch: tuple[tuple[str | None, int | None], ...]) -> tuple[tuple[str | None, int | None], ...]:
    return tuple((key, None) for key, _ in batch)


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
            total = None if None in each else sum(each)        # None: a view, which holds no rows
            return StepResult(step.asset, step.partition, SUCCESS, attempt, total, None,
                              time.perf_counter() - started, batch)
        except StepFailed as exc:
            error = str(exc)
            if exc.kind is not FailureKind.TRANSIENT:
                break                         # the same inputs would fail the same way again
        if attempt <= policy.retries:
            # Exponential backoff with jitter, so retries of many partitions don't stampede.
            sleep(policy.delay * (2 ** (attempt - 1)) * random.uniform(0.8, 1.2))
    batch = tuple((k, None) for k in step.keys) if step.count > 1 else ()
    return StepResult(step.asset, step.partition, FAILED, attempt, None, error,
                      time.perf_counter() - started, batch)
