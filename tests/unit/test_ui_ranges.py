"""The UI's run-length partition ranges and strip buckets (assetflow/ui/ranges.py), and the
request guard of `assetflow serve` (assetflow/ui/server.py)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from assetflow.ui.ranges import FRESH, status_ranges, strip, worst
from assetflow.ui.server import Guard

CATEGORIES = ("stale", "failed", "blocked")


@st.composite
def asset_plans(draw):
    n = draw(st.integers(0, 300))
    keys = [f"k{i:04d}" for i in range(n)]
    problems = draw(st.dictionaries(st.integers(0, max(n - 1, 0)), st.tuples(
        st.sampled_from(CATEGORIES), st.sampled_from([(), ("code changed",), ("never materialized",)])),
        max_size=n)) if n else {}
    return keys, problems


def expand(ranges, keys):
    out = []
    for r in ranges:
        assert keys[r.start] == r.first and keys[r.start + r.count - 1] == r.last
        out += [(r.category, r.reasons)] * r.count
    return out


@settings(deadline=None, max_examples=200)
@given(asset_plans())
def test_ranges_cover_every_partition_once_in_order_and_are_maximal(plan):
    keys, problems = plan
    ranges = status_ranges(keys, problems)
    assert expand(ranges, keys) == [problems.get(i, (FRESH, ())) for i in range(len(keys))]
    for a, b in zip(ranges, ranges[1:]):
        assert a.start + a.count == b.start
        assert (a.category, a.reasons) != (b.category, b.reasons)      # nothing left to merge


@settings(deadline=None, max_examples=200)
@given(asset_plans(), st.integers(1, 50))
def test_a_strip_has_at_most_limit_segments_and_keeps_the_worst_status(plan, limit):
    keys, problems = plan
    ranges = status_ranges(keys, problems)
    drawn = strip(ranges, keys, limit)
    if len(ranges) <= limit:
        assert drawn == ranges
        return
    assert len(drawn) <= limit
    assert sum(d.count for d in drawn) == len(keys)
    for d in drawn:
        inside = [problems.get(i, (FRESH, ()))[0] for i in range(d.start, d.start + d.count)]
        assert d.category == worst(inside)
        assert (d.first, d.last) == (keys[d.start], keys[d.start + d.count - 1])


def test_a_year_of_one_status_is_one_range():
    keys = [f"2024-{i:03d}" for i in range(365)]
    assert [(r.count, r.category) for r in status_ranges(keys, {})] == [(365, FRESH)]
    assert status_ranges([], {}) == []


def test_the_guard_wants_the_token_a_json_body_and_no_foreign_origin():
    guard = Guard("s3cret", "127.0.0.1", 8765)
    good = {"X-Assetflow-Token": "s3cret", "Content-Type": "application/json", "Origin": "http://127.0.0.1:8765"}
    assert guard.post_ok(good) is None
    assert guard.post_ok({**good, "Origin": "http://localhost:8765"}) is None
    assert "X-Assetflow-Token" in guard.post_ok({k: v for k, v in good.items() if k != "X-Assetflow-Token"})
    assert "X-Assetflow-Token" in guard.post_ok({**good, "X-Assetflow-Token": "s3cre"})
    assert "cross-origin" in guard.post_ok({**good, "Origin": "http://evil.example:8765"})
    assert "cross-origin" in guard.post_ok({**good, "Origin": "null"})
    assert "cross-site" in guard.post_ok({**good, "Sec-Fetch-Site": "cross-site"})
    assert "JSON" in guard.post_ok({**good, "Content-Type": "application/x-www-form-urlencoded"})


def test_on_loopback_the_host_header_must_name_this_server():
    guard = Guard("t", "127.0.0.1", 8765)
    assert guard.host_ok("127.0.0.1:8765") and guard.host_ok("localhost:8765") and guard.host_ok("[::1]:8765")
    assert not guard.host_ok("evil.example:8765")        # DNS rebinding: the page must not load
    assert not guard.host_ok("127.0.0.1:9999") and not guard.host_ok(None)
    assert Guard("t", "0.0.0.0", 8765).host_ok("my-host.example:8765")
