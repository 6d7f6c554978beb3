"""The executor on a real thread pool, with plain Python functions as the steps it runs."""
from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.run import executor
from assetflow.errors import FailureKind
from assetflow.run.executor import RetryPolicy, StepFailed, execute
from assetflow.plan.planner import Plan, Step
from assetflow.state import FAILED, SKIPPED, SUCCESS

NO_RETRY = RetryPolicy(retries=0, delay=0)


def make_plan(edges: dict[str, tuple[str, ...]]) -> Plan:
    """`edges` maps each step name (in plan order) to the steps it needs."""
    steps = tuple(Step(name, 0, None, ("never materialized",)) for name in edges)
    return Plan(steps, {(name, 0): tuple((n, 0) for n in needs) for name, needs in edges.items()})


class Recorder:
    """Thread-safe log of step starts and finishes, and the peak number running at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.peak = 0

    def start(self, name: str) -> None:
        with self.lock:
            self.events.append(("start", name))
            self.running += 1
            self.peak = max(self.peak, self.running)

    def finish(self, name: str) -> None:
        with self.lock:
            self.events.append(("end", name))
            self.running -= 1

    def position(self, kind: str, name: str) -> int:
        return self.events.index((kind, name))


def run(plan: Plan, body, threads: int = 2, policy: RetryPolicy = NO_RETRY, **kw):
    done = []
    results = execute(plan, body, threads=threads, retry_policy=lambda asset: policy,
                      on_done=done.append, **kw)
    return {r.asset: r for r in results}, done


DIAMOND = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c"), "e": ()}


# ---------------------------------------------------------------------------- ordering


@st.composite
def step_dags(draw):
    size = draw(st.integers(1, 10))
    names = [f"s{i}" for i in range(size)]
    return {n: tuple(sorted(draw(st.sets(st.sampled_from(names[:i]), max_size=3)))) if i else ()
            for i, n in enumerate(names)}


@settings(max_examples=60, deadline=None)
@given(edges=step_dags(), threads=st.integers(1, 4), pauses=st.lists(st.sampled_from([0, 0.001, 0.003]),
                                                                      min_size=10, max_size=10))
def test_a_step_never_starts_before_its_needs_finish(edges, threads, pauses):
    rec = Recorder()
    names = list(edges)

    def body(step: Step, attempt: int) -> int:
        rec.start(step.asset)
        time.sleep(pauses[names.index(step.asset)])
        rec.finish(step.asset)
        return 1

    results, _ = run(make_plan(edges), body, threads=threads)
    assert {n: r.status for n, r in results.items()} == {n: SUCCESS for n in edges}
    for name, needs in edges.items():
        for need in needs:
            assert rec.position("end", need) < rec.position("start", name)
    assert rec.peak <= threads


def test_one_thread_runs_steps_in_plan_order():
    rec = Recorder()
    edges = {"x": (), "a": (), "m": ("x",), "b": ("a",), "z": ()}

    def body(step, attempt):
        rec.start(step.asset)
        rec.finish(step.asset)
        return 0

    run(make_plan(edges), body, threads=1)
    assert [n for kind, n in rec.events if kind == "start"] == list(edges)
    assert rec.peak == 1


def test_independent_steps_run_in_parallel():
    barrier = threading.Barrier(2, timeout=5)

    def body(step, attempt):
        try:
            barrier.wait()          # only passes when both steps are running at the same time
        except threading.BrokenBarrierError:
            raise StepFailed("ran alone") from None
        return 1

    results, _ = run(make_plan({"a": (), "b": ()}), body, threads=2)
    assert [r.status for r in results.values()] == [SUCCESS, SUCCESS]


def test_a_step_starts_as_soon_as_its_own_inputs_are_done():
    """No level-by-level barrier: `b` (after fast `a`) starts while slow `c` is still running."""
    b_started = threading.Event()

    def body(step, attempt):
        if step.asset == "b":
            b_started.set()
        if step.asset == "c" and not b_started.wait(timeout=5):
            raise StepFailed("b waited for c")
        return 1

    results, _ = run(make_plan({"a": (), "c": (), "b": ("a",)}), body, threads=2)
    assert {n: r.status for n, r in results.items()} == {"a": SUCCESS, "b": SUCCESS, "c": SUCCESS}


# ---------------------------------------------------------------------------- failures


def test_failure_skips_transitive_dependents_once_and_unrelated_steps_run():
    ran = []

    def body(step, attempt):
        ran.append(step.asset)
        if step.asset == "a":
            raise StepFailed("boom")
        return 1

    results, done = run(make_plan(DIAMOND), body)
    assert sorted(ran) == ["a", "e"]
    assert {n: r.status for n, r in results.items()} == {
        "a": FAILED, "b": SKIPPED, "c": SKIPPED, "d": SKIPPED, "e": SUCCESS}
    assert sorted(r.asset for r in done) == sorted(DIAMOND)          # each reported exactly once
    assert results["a"].error == "boom" and results["a"].attempts == 1
    assert all(results[n].error == "upstream failed: a" and results[n].attempts == 0 for n in "bcd")


def test_failure_in_one_arm_of_a_diamond_skips_the_join_only():
    def body(step, attempt):
        if step.asset == "b":
            raise StepFailed("b broke")
        return 1

    results, done = run(make_plan(DIAMOND), body)
    assert {n: r.status for n, r in results.items()} == {
        "a": SUCCESS, "b": FAILED, "c": SUCCESS, "d": SKIPPED, "e": SUCCESS}
    assert [r.asset for r in done].count("d") == 1
    assert results["d"].error == "upstream failed: b"


def test_skip_message_names_the_partition():
    plan = Plan((Step("a", 3, "2024-01-04", ()), Step("b", 0, None, ())), {("a", 3): (), ("b", 0): (("a", 3),)})

    def body(step, attempt):
        raise StepFailed("no")

    results = execute(plan, body, threads=1, retry_policy=lambda a: NO_RETRY)
    assert [(r.asset, r.status, r.error) for r in results] == [
        ("a", FAILED, "no"), ("b", SKIPPED, "upstream failed: a [2024-01-04]")]


def test_an_unexpected_exception_stops_the_run_and_propagates():
    aborted = []

    def body(step, attempt):
        raise RuntimeError("framework bug")

    with pytest.raises(RuntimeError, match="framework bug"):
        execute(make_plan({"a": (), "b": ("a",)}), body, threads=1, retry_policy=lambda a: NO_RETRY,
                on_abort=lambda: aborted.append(True))
    assert aborted == [True]


def test_a_stop_event_prevents_new_steps():
    stop = threading.Event()
    ran = []

    def body(step, attempt):
        ran.append(step.asset)
        stop.set()
        return 1

    results, _ = run(make_plan({"a": (), "b": ("a",), "c": ()}), body, threads=1, stop=stop)
    assert ran == ["a"] and list(results) == ["a"]


# ---------------------------------------------------------------------------- retries


def flaky(failures: int):
    calls: list[int] = []

    def body(step, attempt):
        calls.append(attempt)
        if len(calls) <= failures:
            raise StepFailed(f"transient {len(calls)}")
        return 7

    return body, calls


def test_retries_until_success():
    body, calls = flaky(2)
    results, _ = run(make_plan({"a": ()}), body, policy=RetryPolicy(retries=2, delay=0))
    assert calls == [1, 2, 3]
    assert (results["a"].status, results["a"].attempts, results["a"].rows) == (SUCCESS, 3, 7)


def test_retries_exhausted():
    body, calls = flaky(2)
    results, _ = run(make_plan({"a": (), "b": ("a",)}), body, policy=RetryPolicy(retries=1, delay=0))
    assert calls == [1, 2]
    assert (results["a"].status, results["a"].attempts, results["a"].error) == (FAILED, 2, "transient 2")
    assert results["b"].status == SKIPPED


def test_retry_policy_is_per_asset():
    attempts = {"a": 0, "b": 0}

    def body(step, attempt):
        attempts[step.asset] = attempt
        raise StepFailed("always")

    policies = {"a": RetryPolicy(retries=3, delay=0), "b": RetryPolicy(retries=0, delay=0)}
    execute(make_plan({"a": (), "b": ()}), body, threads=1, retry_policy=policies.__getitem__)
    assert attempts == {"a": 4, "b": 1}


def test_a_permanent_failure_is_attempted_once_and_waits_for_nothing():
    calls: list[int] = []
    slept: list[float] = []

    def body(step, attempt):
        calls.append(attempt)
        raise StepFailed("Binder Error: no column nope", FailureKind.PERMANENT)

    results, _ = run(make_plan({"a": (), "b": ("a",)}), body, policy=RetryPolicy(retries=3, delay=5),
                     sleep=slept.append)
    assert calls == [1] and slept == []
    assert (results["a"].status, results["a"].attempts) == (FAILED, 1)
    assert results["b"].status == SKIPPED


def test_a_transient_failure_then_a_permanent_one_stops_retrying():
    calls: list[int] = []

    def body(step, attempt):
        calls.append(attempt)
        raise StepFailed(f"failure {attempt}", FailureKind.TRANSIENT if attempt == 1 else FailureKind.PERMANENT)

    results, _ = run(make_plan({"a": ()}), body, policy=RetryPolicy(retries=5, delay=0))
    assert calls == [1, 2]
    assert (results["a"].attempts, results["a"].error) == (2, "failure 2")


def test_backoff_doubles_with_jitter():
    slept: list[float] = []
    body, _ = flaky(10)
    results, _ = run(make_plan({"a": ()}), body, policy=RetryPolicy(retries=4, delay=0.5), sleep=slept.append)
    assert results["a"].attempts == 5
    assert len(slept) == 4                         # no sleep after the last attempt
    for n, seconds in enumerate(slept):
        base = 0.5 * 2 ** n
        assert 0.8 * base <= seconds <= 1.2 * base


def test_backoff_doubles_exactly_without_jitter(monkeypatch):
    monkeypatch.setattr(executor.random, "uniform", lambda lo, hi: 1.0)
    slept: list[float] = []
    body, _ = flaky(3)
    run(make_plan({"a": ()}), body, policy=RetryPolicy(retries=3, delay=1.5), sleep=slept.append)
    assert slept == [1.5, 3.0, 6.0]


# ---------------------------------------------------------------------------- batches


def test_a_batch_step_reports_each_partition():
    step = Step("a", 0, "2024-01-01", (), count=2, partitions=("2024-01-01", "2024-01-02"))
    plan = Plan((step,), {("a", 0): ()})
    results = execute(plan, lambda s, attempt: (3, 4), threads=1, retry_policy=lambda a: NO_RETRY)
    assert results[0].rows == 7
    assert [(r.partition, r.rows, r.status) for r in results[0].per_partition()] == [
        ("2024-01-01", 3, SUCCESS), ("2024-01-02", 4, SUCCESS)]


# ---------------------------------------------------------------------------- landing whole assets


def day_plan(days: int, reader_needs_all: bool = False) -> Plan:
    """Asset "a" with `days` partitions; "r" reads day 0 (or every day)."""
    steps = tuple(Step("a", i, f"d{i}", ("code changed",)) for i in range(days)) + (Step("r", 0, None, ()),)
    needs = {("a", i): () for i in range(days)}
    needs[("r", 0)] = tuple(("a", i) for i in range(days)) if reader_needs_all else (("a", 0),)
    return Plan(steps, needs)


class Lander:
    def __init__(self, answer: str | None = None):
        self.answer = answer
        self.landed: list[tuple[str, tuple[str, ...]]] = []

    def landing(self) -> executor.Landing:
        return executor.Landing(whole=lambda asset: asset == "a", land=self.land)

    def land(self, asset, problems):
        self.landed.append((asset, problems))
        return self.answer if not problems else f"dropped: {'; '.join(problems)}"


def test_readers_of_an_asset_landing_whole_wait_for_its_last_partition():
    order: list[str] = []
    lander = Lander()

    def body(step, attempt):
        order.append(step.asset + (step.partition or ""))
        return 1

    results = execute(day_plan(3), body, threads=1, retry_policy=lambda a: NO_RETRY, landing=lander.landing())
    assert order == ["ad0", "ad1", "ad2", "r"]       # without landing, r would run right after a's day 0
    assert lander.landed == [("a", ())]
    assert {r.status for r in results} == {SUCCESS}


def test_a_failed_partition_drops_the_whole_asset_and_skips_its_readers():
    lander = Lander()

    def body(step, attempt):
        if step.partition == "d1":
            raise StepFailed("boom")
        return 1

    results = {(r.asset, r.partition): r for r in execute(day_plan(3), body, threads=2,
                                                          retry_policy=lambda a: NO_RETRY, landing=lander.landing())}
    assert lander.landed == [("a", ("d1 failed",))]
    assert (results[("a", "d0")].status, results[("a", "d0")].error) == (SKIPPED, "dropped: d1 failed")
    assert results[("a", "d2")].status == SKIPPED
    assert results[("a", "d1")].status == FAILED and results[("a", "d1")].error == "boom\ndropped: d1 failed"
    assert (results[("r", None)].status, results[("r", None)].error) == (SKIPPED, "upstream failed: a (not swapped in)")


def test_a_landing_that_fails_fails_the_held_partitions():
    lander = Lander(answer="the swap failed: disk full")
    results = {(r.asset, r.partition): r for r in execute(day_plan(2), lambda s, a: 1, threads=1,
                                                          retry_policy=lambda a: NO_RETRY, landing=lander.landing())}
    assert [(k, r.status, r.error) for k, r in results.items() if k[0] == "a"] == [
        (("a", "d0"), FAILED, "the swap failed: disk full"), (("a", "d1"), FAILED, "the swap failed: disk full")]
    assert results[("r", None)].status == SKIPPED


def test_a_stopped_run_does_not_land_an_asset_half_built():
    stop = threading.Event()
    lander = Lander()

    def body(step, attempt):
        stop.set()                                    # SIGTERM while the first partition runs
        return 1

    results = execute(day_plan(3, reader_needs_all=True), body, threads=1, retry_policy=lambda a: NO_RETRY,
                      stop=stop, landing=lander.landing())
    assert lander.landed == [("a", ("2 partition(s) not built: the run was stopped",))]
    assert [(r.partition, r.status) for r in results] == [("d0", SKIPPED)]
