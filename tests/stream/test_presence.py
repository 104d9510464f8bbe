"""The counting definitions, table by table, and their invariance to order and duplicates."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.presence import Session, ceil_second, merge_ranges, online_ranges
from tests.oracle import Accepted, numbers
from tests.stream.conftest import run_pipeline

T0 = 1_734_778_800_000  # 2024-12-21 19:00 +08:00, a whole second


def hb(ts: int, sid: str = "a", kind: str = "heartbeat", viewer: str | None = None, p="x"):
    return Accepted(platform=p, type=kind, ts=T0 + ts, session_id=sid, viewer_id=viewer)


def at(diffs, platform: str, ms: int):
    n = diffs[platform].steps().at((T0 + ms) // 1000) if platform in diffs else None
    return (n.concurrent, n.views, n.uniques) if n else (0, 0, 0)


@pytest.mark.parametrize(
    ("events", "t_ms", "expected"),
    [
        # A join alone is online for exactly the timeout.
        ([hb(0, kind="join")], 0, (1, 1, 1)),
        ([hb(0, kind="join")], 29_000, (1, 1, 1)),
        ([hb(0, kind="join")], 30_000, (0, 1, 1)),
        # A heartbeat exactly at the timeout keeps the session online without a gap.
        ([hb(0, kind="join"), hb(30_000)], 30_000, (1, 1, 1)),
        # A leave ends it at the leave instant.
        ([hb(0, kind="join"), hb(5_000, kind="leave")], 5_000, (0, 1, 1)),
        ([hb(0, kind="join"), hb(5_000, kind="leave")], 4_000, (1, 1, 1)),
        # Leave then heartbeat: online again from the heartbeat.
        ([hb(0, kind="join"), hb(5_000, kind="leave"), hb(9_000)], 9_000, (1, 1, 1)),
        ([hb(0, kind="join"), hb(5_000, kind="leave"), hb(9_000)], 7_000, (0, 1, 1)),
        # A heartbeat at the very instant of a leave is cancelled by it.
        ([hb(0, kind="join"), hb(5_000, kind="leave"), hb(5_000)], 5_000, (0, 1, 1)),
        # Reconnect under the same session id: still one view.
        ([hb(0, kind="join"), hb(40_000, kind="join")], 41_000, (1, 1, 1)),
        # Two sessions of one viewer: two views, one unique.
        ([hb(0, "a", "join", "v1"), hb(1_000, "b", "join", "v1")], 2_000, (2, 2, 1)),
        # Views count sessions with any event at ts <= t, even a lone leave.
        ([hb(3_000, kind="leave")], 3_000, (0, 1, 1)),
        ([hb(3_000, kind="leave")], 2_000, (0, 0, 0)),
    ],
)
def test_session_definitions(events, t_ms, expected):
    diffs = run_pipeline(events)
    assert at(diffs, "x", t_ms) == expected
    assert numbers(events, "x", T0 + t_ms) == expected


def report(ts: int, concurrent: int, cumulative=None, uniques=None):
    return Accepted(
        platform="r",
        type="count",
        ts=T0 + ts,
        concurrent=concurrent,
        cumulative=cumulative,
        uniques=uniques,
    )


@pytest.mark.parametrize(
    ("events", "t_ms", "expected"),
    [
        ([report(0, 50, 100, 80)], 0, (50, 100, 80)),
        ([report(0, 50, 100, 80)], 119_000, (50, 100, 80)),
        # A report goes stale after 120 s: concurrency 0, cumulative figures stay.
        ([report(0, 50, 100, 80)], 120_000, (0, 100, 80)),
        # The latest report wins for concurrency, the largest for cumulative figures.
        ([report(0, 50, 100, 80), report(10_000, 20, 90, 70)], 10_000, (20, 100, 80)),
        # Same ts twice: field-wise maximum, whatever the arrival order.
        ([report(0, 50, 100), report(0, 60, 90)], 0, (60, 100, 0)),
        ([report(500, 5)], 0, (0, 0, 0)),
        ([report(500, 5)], 1_000, (5, 0, 0)),
    ],
)
def test_report_definitions(events, t_ms, expected):
    diffs = run_pipeline(events)
    assert at(diffs, "r", t_ms) == expected
    assert numbers(events, "r", T0 + t_ms) == expected


def test_ceil_second_rounds_up_only_partial_seconds():
    assert ceil_second(2000) == 2
    assert ceil_second(2001) == 3
    assert ceil_second(-1) == 0


def test_merge_ranges_joins_touching_and_drops_empty():
    assert merge_ranges([(5, 7), (1, 3), (3, 4), (9, 9)]) == [(1, 4), (5, 7)]


def test_session_fast_paths_match_full_recompute():
    session = Session(0)
    for ts in range(0, 100_000, 10_000):
        session.add("heartbeat", ts, 30_000, 30_000)
    session.add("leave", 95_500, 30_000, 30_000)
    assert session.ranges == online_ranges(
        session.start_times(), session.leave_times(), None, 30_000
    )
    assert session.ranges == [(0, 96)]


def test_duplicate_event_reports_no_change():
    session = Session(0)
    assert session.add("join", 0, 30_000, 30_000)
    assert not session.add("join", 0, 30_000, 30_000)


session_event = st.tuples(
    st.sampled_from(["join", "heartbeat", "heartbeat", "leave"]),
    st.integers(-60_000, 120_000),
    st.sampled_from([30_000, 30_000, 10_000, 45_000]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(session_event, max_size=30))
def test_session_kept_ranges_and_changes_match_a_full_recompute(events):
    # Every incremental path (in-order appends, out-of-order unions, leaves) must leave the
    # same ranges as recomputing from all times, and the reported changes must add up to them.
    session = Session(T0 + events[0][1]) if events else Session(T0)
    totals: dict[int, int] = {}
    for kind, offset, timeout in events:
        for second, delta in session.add(kind, T0 + offset, timeout, 30_000):
            totals[second] = totals.get(second, 0) + delta
        assert session.ranges == online_ranges(
            session.start_times(), session.leave_times(), session.timeout_of, 30_000
        )
        level, previous, covered = 0, 0, []
        for second in sorted(totals):
            if level > 0:
                covered.append((previous, second))
            level += totals[second]
            assert level in (0, 1)
            previous = second
        assert merge_ranges(covered) == session.ranges


# Small generated evening: a few platforms, sessions, viewers, reports.
event_strategy = st.one_of(
    st.builds(
        Accepted,
        platform=st.sampled_from(["p1", "p2"]),
        type=st.sampled_from(["join", "heartbeat", "heartbeat", "leave"]),
        ts=st.integers(T0, T0 + 90_000),
        session_id=st.sampled_from(["s1", "s2", "s3", "s4", "s5"]),
        viewer_id=st.sampled_from([None, "v1", "v2"]),
        timeout_ms=st.sampled_from([30_000, 30_000, 10_000]),
    ),
    st.builds(
        Accepted,
        platform=st.just("rep"),
        type=st.just("count"),
        ts=st.integers(T0, T0 + 200_000),
        concurrent=st.integers(0, 100),
        cumulative=st.none() | st.integers(0, 1000),
        uniques=st.none() | st.integers(0, 1000),
    ),
)


def _consistent(events: list[Accepted]) -> list[Accepted]:
    # One viewer identity per session, as partners are asked to send (docs/metrics.md).
    viewer_of: dict[tuple[str, str | None], str | None] = {}
    out = []
    for e in events:
        if e.type != "count":
            key = (e.platform, e.session_id)
            viewer_of.setdefault(key, e.viewer_id)
            e = Accepted(**{**e.__dict__, "viewer_id": viewer_of[key]})
        out.append(e)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(event_strategy, max_size=25), st.randoms(use_true_random=False))
def test_shuffling_and_duplicating_never_changes_a_number(events, rnd: random.Random):
    events = _consistent(events)
    noisy = events + rnd.sample(events, k=len(events) // 2)
    rnd.shuffle(noisy)
    first = run_pipeline(events, partitions=1, drain_every=1)
    second = run_pipeline(noisy, partitions=3, drain_every=5)
    unique = set(events)
    for platform in ("p1", "p2", "rep"):
        for s in range(T0 // 1000, T0 // 1000 + 215, 1):
            expected = numbers(unique, platform, s * 1000)
            assert at(first, platform, s * 1000 - T0) == expected, (platform, s)
            assert at(second, platform, s * 1000 - T0) == expected, (platform, s)
