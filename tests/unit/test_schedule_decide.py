"""The tick decision: first sight, downtime, definition changes, re-enabling, overlap; then a
simulated scheduler over random time steps, holders and edits, checked for the invariants."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.schedule.decide import ScheduleState, TickStatus, due, iso
from assetflow.project.schedules import Overlap, ScheduleSpec, definition_hash, parse_schedule
from assetflow.schedule.ticks import ticks_between

UTC = timezone.utc
HOLDER = "run 41 (pid 803, materialize) since 2026-01-05T01:59:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def nightly(**settings) -> ScheduleSpec:
    return parse_schedule("nightly", {"cron": "0 2 * * *", **settings})


def watching(spec: ScheduleSpec, since: str, last_tick: str | None = None, **changes) -> ScheduleState:
    state = ScheduleState(definition_hash(spec), True, at(since), at(last_tick) if last_tick else None)
    return replace(state, **changes)


def test_first_sight_starts_the_cursor_and_runs_nothing_from_before():
    decision = due(nightly(), None, at("2026-01-05T02:00:05Z"))
    assert decision.run is None and decision.records == () and decision.reset == "first seen"
    assert decision.state == ScheduleState(definition_hash(nightly()), True, at("2026-01-05T02:00:05Z"))
    later = due(nightly(), decision.state, at("2026-01-06T02:00:01Z"))
    assert later.run == at("2026-01-06T02:00Z") and later.reset is None
    assert later.state.last_tick == at("2026-01-06T02:00Z")


def test_a_tick_at_the_very_moment_of_first_sight_is_not_before_it():
    decision = due(nightly(), None, at("2026-01-05T02:00Z"))
    assert decision.run == at("2026-01-05T02:00Z")


def test_each_tick_runs_once():
    state = watching(nightly(), "2026-01-01T00:00Z", "2026-01-04T02:00Z")
    first = due(nightly(), state, at("2026-01-05T02:00:00Z"))
    assert first.run == at("2026-01-05T02:00Z") and first.records == ()
    again = due(nightly(), first.state, at("2026-01-05T02:00:30Z"))
    assert again.run is None and again.records == () and again.state == first.state


def test_after_downtime_one_run_at_the_latest_tick_covers_the_missed_ones():
    state = watching(nightly(), "2026-01-01T00:00Z", "2026-01-01T02:00Z")
    decision = due(nightly(), state, at("2026-01-05T09:30Z"))
    assert decision.run == at("2026-01-05T02:00Z")
    assert [(r.tick, r.status, r.covered_by) for r in decision.records] == [
        (at(f"2026-01-0{d}T02:00Z"), TickStatus.MISSED, at("2026-01-05T02:00Z")) for d in (2, 3, 4)]
    assert all(r.reason == "covered by the tick at 2026-01-05T02:00:00Z" for r in decision.records)
    assert decision.state.last_tick == at("2026-01-05T02:00Z")


def test_a_changed_definition_starts_from_now():
    old = nightly()
    state = watching(old, "2026-01-01T00:00Z", "2026-01-01T02:00Z")
    edited = nightly(cron="15 2 * * *")                 # dagster-io/dagster#13597: no re-run of today
    decision = due(edited, state, at("2026-01-05T03:00Z"))
    assert decision.run is None and decision.records == () and decision.reset == "definition changed"
    assert decision.state == ScheduleState(definition_hash(edited), True, at("2026-01-05T03:00Z"),
                                           last_tick=at("2026-01-01T02:00Z"))
    # behaviour settings keep the cursor: downtime rules apply as before
    behaviour = nightly(catchup="1d", overlap="wait")
    assert due(behaviour, state, at("2026-01-05T03:00Z")).run == at("2026-01-05T02:00Z")


def test_disabled_schedules_do_nothing_and_re_enabling_starts_from_now():
    state = watching(nightly(), "2026-01-01T00:00Z", "2026-01-01T02:00Z")
    off = due(nightly(enabled=False), state, at("2026-01-03T03:00Z"))
    assert off.run is None and off.records == () and not off.state.enabled
    back = due(nightly(), off.state, at("2026-01-09T03:00Z"))   # dagster-io/dagster#7010: no catch-up storm
    assert back.run is None and back.records == () and back.reset == "re-enabled"
    assert back.state.since == at("2026-01-09T03:00Z") and back.state.enabled
    assert due(nightly(), back.state, at("2026-01-10T02:00Z")).run == at("2026-01-10T02:00Z")
    first_sight_while_off = due(nightly(enabled=False), None, at("2026-01-01T00:00Z"))
    assert not first_sight_while_off.state.enabled


def test_overlap_skip_records_the_holder():
    state = watching(nightly(), "2026-01-01T00:00Z", "2026-01-04T02:00Z")
    decision = due(nightly(), state, at("2026-01-05T02:00Z"), holder=HOLDER)
    assert decision.run is None
    (record,) = decision.records
    assert (record.tick, record.status, record.reason) == (at("2026-01-05T02:00Z"), TickStatus.SKIPPED,
                                                           f"{HOLDER} holds the project")
    assert due(nightly(), decision.state, at("2026-01-05T02:10Z")).run is None     # not retried: decided


def test_overlap_wait_keeps_one_pending_tick_and_newer_ticks_replace_it():
    spec = parse_schedule("q", {"cron": "0 * * * *", "overlap": "wait"})
    state = watching(spec, "2026-01-01T00:00Z", "2026-01-05T01:00Z")
    waiting = due(spec, state, at("2026-01-05T02:00Z"), holder=HOLDER)
    assert waiting.run is None and waiting.records == () and waiting.state.pending == at("2026-01-05T02:00Z")
    still = due(spec, waiting.state, at("2026-01-05T02:30Z"), holder=HOLDER)
    assert still.run is None and still.records == () and still.state == waiting.state
    replaced = due(spec, still.state, at("2026-01-05T03:00Z"), holder=HOLDER)
    (record,) = replaced.records
    assert (record.tick, record.status, record.covered_by) == (at("2026-01-05T02:00Z"), TickStatus.SKIPPED,
                                                               at("2026-01-05T03:00Z"))
    assert "replaced by the tick at 2026-01-05T03:00:00Z" in record.reason
    assert replaced.state.pending == at("2026-01-05T03:00Z")
    freed = due(spec, replaced.state, at("2026-01-05T03:20Z"))
    assert freed.run == at("2026-01-05T03:00Z") and freed.records == () and freed.state.pending is None


def test_a_waiting_tick_is_dropped_when_the_schedule_is_edited_or_disabled():
    spec = nightly(overlap="wait")
    state = watching(spec, "2026-01-01T00:00Z", "2026-01-05T02:00Z", pending=at("2026-01-05T02:00Z"))
    for changed, why in ((nightly(overlap="wait", timezone="Europe/Berlin"), "definition changed"),
                         (nightly(overlap="wait", enabled=False), "disabled")):
        decision = due(changed, state, at("2026-01-05T02:40Z"))
        (record,) = decision.records
        assert record.tick == at("2026-01-05T02:00Z") and record.status is TickStatus.SKIPPED and why in record.reason
        assert decision.run is None and decision.state.pending is None


def test_an_edit_at_the_instant_of_a_decided_tick_does_not_decide_it_again():
    spec = nightly()
    ran = due(spec, watching(spec, "2026-01-01T00:00Z", "2026-01-04T02:00Z"), at("2026-01-05T02:00Z"))
    assert ran.run == at("2026-01-05T02:00Z")
    edited = due(nightly(select="tag:x"), ran.state, at("2026-01-05T02:00Z"))
    assert edited.reset == "definition changed" and edited.run is None and edited.records == ()


def test_a_clock_stepped_back_makes_nothing_due_until_it_passes_the_cursor():
    state = watching(nightly(), "2026-01-01T00:00Z", "2026-01-05T02:00Z")
    assert due(nightly(), state, at("2026-01-04T23:00Z")).run is None
    assert due(nightly(), state, at("2026-01-05T03:00Z")).run is None
    assert due(nightly(), state, at("2026-01-06T02:00Z")).run == at("2026-01-06T02:00Z")


def test_iso_is_utc_with_a_z():
    assert iso(datetime(2026, 3, 8, 3, 30, tzinfo=timezone(timedelta(hours=-4)))) == "2026-03-08T07:30:00Z"


# ---------------------------------------------------------------------------- a simulated scheduler

CRONS = ["0 * * * *", "*/20 * * * *", "30 2 * * *", "30 1 * * *", "0 0 * * 0"]
steps = st.lists(st.tuples(st.integers(0, 60 * 72),        # minutes until the loop looks again
                           st.booleans(),                   # another run holds the project
                           st.sampled_from(["keep"] * 8 + ["edit", "disable", "enable"])),
                 min_size=1, max_size=40)


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(CRONS), st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"]),
       st.sampled_from(list(Overlap)), st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1)), steps)
def test_no_tick_is_decided_twice_and_none_is_lost(cron, zone, overlap, start, plan):
    spec = parse_schedule("s", {"cron": cron, "timezone": zone, "overlap": overlap.value})
    now = start.replace(tzinfo=UTC)
    state, decided, watched_from, edits = None, {}, now, 0
    for minutes, held, action in plan:
        if action == "edit":
            edits += 1
            spec = replace(spec, select=f"tag:v{edits}")
        elif action in ("disable", "enable"):
            spec = replace(spec, enabled=action == "enable")
        decision = due(spec, state, now, holder=HOLDER if held else None)
        if decision.reset is not None:
            watched_from = now
        outcome = [(r.tick, r.status) for r in decision.records] + \
                  ([(decision.run, TickStatus.STARTED)] if decision.run else [])
        for tick, status in outcome:
            assert tick not in decided, f"{tick} decided twice: {decided[tick]} and {status}"
            assert tick <= now
            decided[tick] = status
        assert decision.run is None or not held
        # nothing from before the cursor last started over (first sight, edit, re-enable) runs
        assert all(tick >= watched_from for tick, status in outcome if status is not TickStatus.SKIPPED)
        assert (decision.state.pending is not None) <= (spec.overlap is Overlap.WAIT and spec.enabled)
        if decision.state.pending is not None:
            assert decision.state.pending not in decided
        covering = {r.covered_by for r in decision.records if r.status is TickStatus.MISSED}
        assert covering <= {decision.run, decision.state.pending} | {
            r.tick for r in decision.records if r.status is TickStatus.SKIPPED}
        if spec.enabled:
            # every tick since the cursor last started over is decided, or is the one waiting
            expected = set(ticks_between(spec, watched_from - timedelta(microseconds=1), now))
            assert expected <= set(decided) | {decision.state.pending}
        state = decision.state
        now += timedelta(minutes=minutes)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CRONS), st.sampled_from(["UTC", "America/New_York", "Australia/Lord_Howe"]),
       st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1)), st.integers(1, 60 * 24 * 20))
def test_after_any_downtime_exactly_one_run_at_the_latest_tick(cron, zone, start, down_minutes):
    spec = parse_schedule("s", {"cron": cron, "timezone": zone})
    first = due(spec, None, start.replace(tzinfo=UTC)).state
    now = first.since + timedelta(minutes=down_minutes)
    decision = due(spec, first, now)
    missed = ticks_between(spec, first.since, now)
    if not missed:
        assert decision.run is None and decision.records == ()
        return
    assert decision.run == missed[-1]
    assert [r.tick for r in decision.records] == missed[:-1]
    assert all(r.status is TickStatus.MISSED and r.covered_by == missed[-1] for r in decision.records)
