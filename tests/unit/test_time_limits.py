"""run/timeouts: the deadline of an attempt, and the companion thread a timed Python asset runs on.

Deadlines are tiny (50 ms) and the functions block on events, so nothing here sleeps."""
from __future__ import annotations

import threading

import pytest

from assetflow.durations import Duration, parse_duration
from assetflow.errors import FailureKind, Interrupted
from assetflow.run.timeouts import AttemptTimedOut, Companions, TimeLimit

SHORT = Duration("50ms-ish", parse_duration("1s").delta / 20)


def test_a_function_past_the_deadline_is_given_up_on_and_its_result_dropped():
    release, returned = threading.Event(), []
    companions = Companions()

    def hangs():
        release.wait()
        returned.append("late")
        return "late result"

    with TimeLimit(SHORT) as limit, pytest.raises(AttemptTimedOut) as caught:
        companions.call(hangs, limit, None)
    assert str(caught.value) == "timed out after 50ms-ish" and limit.expired
    assert caught.value.failure_kind is FailureKind.TRANSIENT and isinstance(caught.value, TimeoutError)
    release.set()
    # the worker's next attempt gets a fresh companion and its own result
    with TimeLimit(Duration("1m", parse_duration("1m").delta)) as limit:
        assert companions.call(lambda: 42, limit, None) == 42


def test_watched_cancels_run_at_the_deadline_and_never_after_the_attempt_ended():
    fired = threading.Event()
    with TimeLimit(SHORT) as limit:
        limit.watch(fired.set)
        assert fired.wait(30)
    ended, late = TimeLimit(Duration("1m", parse_duration("1m").delta)), []
    with ended:
        ended.watch(lambda: late.append(1))
    ended.watch(lambda: late.append(2))
    assert not ended.expired and late == []


def test_ctrl_c_while_waiting_is_an_interrupt_and_errors_pass_through():
    cancelled, release = threading.Event(), threading.Event()
    cancelled.set()
    with TimeLimit(Duration("1m", parse_duration("1m").delta)) as limit:
        with pytest.raises(Interrupted):
            Companions().call(release.wait, limit, cancelled)
        with pytest.raises(ZeroDivisionError):
            Companions().call(lambda: 1 / 0, limit, None)
    release.set()
