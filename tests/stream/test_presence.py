"""The counting definitions, table by table, and their invariance to order and duplicates."""

from __future__ import annotations

import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.presence import Session, ceil_second, merge_ranges, online_ranges
from tests.oracle import Accepted, numbers
from tests.stream.conftest import EAGER_FREEZING, run_pipeline

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
    # Offline sessions packed at once: every later event for them goes through unpacking.
    second = run_pipeline(noisy, partitions=3, drain_every=5, freezing=EAGER_FREEZING)
    unique = set(events)
    for platform in ("p1", "p2", "rep"):
        for s in range(T0 // 1000, T0 // 1000 + 215, 1):
            expected = numbers(unique, platform, s * 1000)
            assert at(first, platform, s * 1000 - T0) == expected, (platform, s)
            assert at(second, platform, s * 1000 - T0) == expected, (platform, s)


# --- Folding and bounded leaves -------------------------------------------------------------

DEFAULT = 30_000


def full_ranges(events: list[tuple[str, int, int]], default: int = DEFAULT) -> list:
    """The online seconds of every event added, nothing folded (the definition)."""
    timeout_of: dict[int, int] = {}
    leaves: set[int] = set()
    for kind, ts, timeout in events:
        if kind == "leave":
            leaves.add(ts)
        else:
            timeout_of[ts] = max(timeout_of.get(ts, 0), timeout)
    return online_ranges(sorted(timeout_of), sorted(leaves), timeout_of, default)


def replay(events: list[tuple[str, int, int]], default: int = DEFAULT) -> Session:
    session = Session(events[0][1] if events else 0)
    for kind, ts, timeout in events:
        session.add(kind, ts, timeout, default)
    return session


def assert_folded(session: Session, default: int = DEFAULT) -> None:
    """At most one leave per second; per second, starts that each reach further than every
    later one; no start at or before a leave of its own second."""
    leaves = session.leave_times()
    assert len({ceil_second(t) for t in leaves}) == len(leaves)
    leave_of = {ceil_second(t): t for t in leaves}
    groups: dict[int, list[int]] = {}
    for h in session.start_times():
        groups.setdefault(ceil_second(h), []).append(h)
        assert h > leave_of.get(ceil_second(h), h - 1)
    for group in groups.values():
        reaches = [ceil_second(h + session._timeout(h, default)) for h in group]
        assert reaches == sorted(reaches, reverse=True)
        assert len(set(reaches)) == len(reaches)


@pytest.mark.parametrize(
    ("events", "starts", "leaves"),
    [
        # Two heartbeats of one second: the later one covers every second the first could.
        ([("heartbeat", 1_100, DEFAULT), ("heartbeat", 1_900, DEFAULT)], [1_900], []),
        ([("heartbeat", 1_900, DEFAULT), ("heartbeat", 1_100, DEFAULT)], [1_900], []),
        # A whole second closes its group: 2,000 and 2,001 are in different ones.
        ([("heartbeat", 2_000, DEFAULT), ("heartbeat", 2_001, DEFAULT)], [2_000, 2_001], []),
        ([("heartbeat", 1_001, DEFAULT), ("heartbeat", 2_000, DEFAULT)], [2_000], []),
        # A later start with a shorter timeout that ends a second earlier: both matter.
        ([("join", 1_100, 45_000), ("heartbeat", 1_900, DEFAULT)], [1_100, 1_900], []),
        ([("heartbeat", 1_900, DEFAULT), ("join", 1_100, 45_000)], [1_100, 1_900], []),
        # ... but not if it still ends in the same second (31.1 s vs 31.9 s: both 32).
        ([("join", 1_100, 30_500), ("heartbeat", 1_900, DEFAULT)], [1_900], []),
        # The same instant under a longer timeout replaces the shorter one.
        ([("join", 1_100, DEFAULT), ("join", 1_100, 45_000)], [1_100], []),
        # Two leaves of one second: the later one cuts all the earlier one does.
        ([("leave", 5_200, DEFAULT), ("leave", 5_700, DEFAULT)], [], [5_700]),
        ([("leave", 5_700, DEFAULT), ("leave", 5_200, DEFAULT)], [], [5_700]),
        ([("leave", 5_000, DEFAULT), ("leave", 5_001, DEFAULT)], [], [5_000, 5_001]),
        # A start at or before a leave of its own second is never online at a whole second.
        ([("heartbeat", 5_100, DEFAULT), ("leave", 5_200, DEFAULT)], [], [5_200]),
        ([("leave", 5_200, DEFAULT), ("heartbeat", 5_100, DEFAULT)], [], [5_200]),
        ([("leave", 5_200, DEFAULT), ("heartbeat", 5_200, DEFAULT)], [], [5_200]),
        # A start after it is.
        ([("leave", 5_200, DEFAULT), ("heartbeat", 5_300, DEFAULT)], [5_300], [5_200]),
    ],
)
def test_instants_that_cannot_change_a_whole_second_are_folded(events, starts, leaves):
    session = replay(events)
    assert session.start_times() == starts
    assert session.leave_times() == leaves
    assert session.ranges == full_ranges(events)
    assert set(session.timeout_of or {}) <= set(starts)


def test_a_session_grows_with_the_seconds_it_spans_not_the_events_sent():
    session = Session(T0)
    for ms in range(0, 60_000, 7):
        session.add("heartbeat", T0 + ms, DEFAULT, DEFAULT)
    for ms in range(3, 60_000, 11):
        session.add("leave", T0 + ms, DEFAULT, DEFAULT)
    assert len(session.starts) <= 61 and len(session.leaves or ()) <= 61
    assert session.first == T0


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # A leave inside a run of heartbeats splits it; the next heartbeat starts it again.
        (
            [("heartbeat", ms, DEFAULT) for ms in range(0, 100_000, 10_000)]
            + [("leave", 45_500, DEFAULT)],
            [(0, 46), (50, 120)],
        ),
        # A leave reaches back only as far as the longest timeout of the session.
        (
            [("heartbeat", 0, 60_000), ("heartbeat", 40_000, DEFAULT), ("leave", 55_000, DEFAULT)],
            [(0, 55)],
        ),
        (
            [("heartbeat", 0, 60_000), ("leave", 55_000, DEFAULT), ("heartbeat", 56_000, DEFAULT)],
            [(0, 55), (56, 86)],
        ),
        # A leave before the next leave cuts only up to it.
        (
            [
                ("heartbeat", 0, DEFAULT),
                ("leave", 20_000, DEFAULT),
                ("heartbeat", 21_000, DEFAULT),
                ("leave", 10_000, DEFAULT),
            ],
            [(0, 10), (21, 51)],
        ),
        # A leave at a whole second cuts that second; one just after it does not.
        (
            [("heartbeat", 0, DEFAULT), ("leave", 5_000, DEFAULT), ("heartbeat", 9_000, DEFAULT)],
            [(0, 5), (9, 39)],
        ),
        (
            [("heartbeat", 0, DEFAULT), ("heartbeat", 9_000, DEFAULT), ("leave", 5_001, DEFAULT)],
            [(0, 6), (9, 39)],
        ),
    ],
)
def test_out_of_order_leaves_patch_only_their_window(events, expected):
    session = replay(events)
    assert session.ranges == expected == full_ranges(events)


boundary_ms = st.one_of(
    st.integers(-20, 130).map(lambda s: s * 1000),
    st.tuples(st.integers(-20, 130), st.sampled_from([-1, 1, 499, 999])).map(
        lambda p: p[0] * 1000 + p[1]
    ),
    st.integers(-20_000, 130_000),
)
mixed_event = st.tuples(
    st.sampled_from(["join", "heartbeat", "heartbeat", "leave"]),
    boundary_ms,
    st.sampled_from([DEFAULT, DEFAULT, 10_000, 45_000, 30_500, 999, 1_000]),
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(mixed_event, max_size=40),
    st.randoms(use_true_random=False),
    st.sampled_from([DEFAULT, 30_500]),
)
def test_folded_session_matches_every_event_added_in_any_order(
    events, rnd: random.Random, default: int
):
    # Whatever the order, duplicates and timeouts (the partner's default one too): the kept
    # ranges are those of the whole set of events, the changes add up to them, and what is
    # kept is folded.
    noisy = events + rnd.sample(events, k=len(events) // 2)
    rnd.shuffle(noisy)
    session = Session(T0)
    totals: dict[int, int] = {}
    for n, (kind, offset, timeout) in enumerate(noisy, start=1):
        for second, delta in session.add(kind, T0 + offset, timeout, default):
            totals[second] = totals.get(second, 0) + delta
        so_far = [(k, T0 + o, t) for k, o, t in noisy[:n]]
        assert session.ranges == full_ranges(so_far, default)
    level, previous, covered = 0, 0, []
    for second in sorted(totals):
        if level > 0:
            covered.append((previous, second))
        level += totals[second]
        assert level in (0, 1)
        previous = second
    assert merge_ranges(covered) == session.ranges
    assert_folded(session, default)


def unfolded(events: list[tuple[str, int, int]], default: int = DEFAULT) -> Session:
    """A session holding every instant, as one restored from an older checkpoint can."""
    timeout_of: dict[int, int] = {}
    leaves: set[int] = set()
    for kind, ts, timeout in events:
        if kind == "leave":
            leaves.add(ts)
        else:
            timeout_of[ts] = max(timeout_of.get(ts, 0), timeout)
    session = Session(events[0][1] if events else 0)
    session.starts = array("i", [h - session.base for h in sorted(timeout_of)])
    session.leaves = array("i", [t - session.base for t in sorted(leaves)])
    odd = {h: t for h, t in timeout_of.items() if t != default}
    session.timeout_of = odd or None
    session.longest = max(odd.values(), default=0)
    session.ranges = full_ranges(events, default)
    return session


@settings(max_examples=300, deadline=None)
@given(st.lists(mixed_event, min_size=1, max_size=25), st.lists(mixed_event, max_size=25))
def test_folding_changes_no_number_now_or_after_any_later_events(past, later):
    # A folded session and one holding every instant agree now, and after any later events
    # they report the same changes second by second.
    past = [(k, T0 + o, t) for k, o, t in past]
    folded, full = replay(past), unfolded(past)
    assert folded.ranges == full.ranges
    for kind, offset, timeout in later:
        ts = T0 + offset
        assert folded.add(kind, ts, timeout, DEFAULT) == full.add(kind, ts, timeout, DEFAULT)
        assert folded.ranges == full.ranges
    assert folded.ranges == full_ranges(past + [(k, T0 + o, t) for k, o, t in later])


def test_an_in_order_heartbeat_folds_every_start_of_its_second_it_covers():
    # Under a default timeout that is not whole seconds, a later default start of the same
    # second can reach as far as an earlier one with a longer timeout.
    session = Session(T0)
    for ts, timeout in [(T0 + 1_100, 31_000), (T0 + 1_200, 30_500), (T0 + 1_900, 30_500)]:
        session.add("heartbeat", ts, timeout, 30_500)
    assert session.start_times() == [T0 + 1_900]
    assert not session.timeout_of


pipeline_event = st.builds(
    Accepted,
    platform=st.just("p1"),
    type=st.sampled_from(["join", "heartbeat", "heartbeat", "leave"]),
    ts=boundary_ms.map(lambda ms: T0 + ms),
    session_id=st.sampled_from(["s1", "s2", "s3"]),
    viewer_id=st.just(None),
    timeout_ms=st.sampled_from([DEFAULT, DEFAULT, 10_000, 45_000, 30_500, 999]),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(pipeline_event, max_size=30), st.randoms(use_true_random=False))
def test_published_session_numbers_match_the_oracle_at_second_boundaries(
    events, rnd: random.Random
):
    # Instants on and next to whole seconds, mixed timeouts, leaves before and after
    # starts, any order, duplicates, drained now and then: every published number is the
    # definition's.
    noisy = events + rnd.sample(events, k=len(events) // 2)
    rnd.shuffle(noisy)
    plain = run_pipeline(noisy, partitions=2, drain_every=rnd.randint(1, 6))
    packed = run_pipeline(noisy, 2, rnd.randint(1, 6), freezing=EAGER_FREEZING)
    unique = set(events)
    for s in range(T0 // 1000 - 21, T0 // 1000 + 180):
        expected = numbers(unique, "p1", s * 1000)
        assert at(plain, "p1", s * 1000 - T0) == expected, s
        assert at(packed, "p1", s * 1000 - T0) == expected, s


def test_a_restored_session_still_reaches_back_its_longest_timeout():
    # A checkpoint does not store how far back a leave can cut; the restore must bring it
    # back from the stored timeouts, or a late leave would leave a long start uncut.
    from contract.records import encode_batch
    from stream.partition_state import PartitionState
    from stream.snapshot import dump_state, load_state
    from tests.stream.conftest import to_event

    state = PartitionState(0)
    state.apply_record(0, encode_batch("web", T0, [to_event(hb(1_000, "b"))], timeout_ms=30_000))
    join = Accepted("web", "join", T0, "a", timeout_ms=90_000)  # not the partner's default
    state.apply_record(1, encode_batch("web", T0, [to_event(join)], timeout_ms=90_000))
    assert state.platforms[("s", "web")].default_timeout_ms == 30_000
    restored = load_state(dump_state(state))
    for copy in (state, restored):
        # A leave at 10 s must cut the join's 90 s, beyond the 30 s a default start reaches.
        copy.platforms[("s", "web")].apply_session("leave", T0 + 10_000, "a", None, 30_000)
        copy.platforms[("s", "web")].fold()
        assert copy.platforms[("s", "web")].sessions["a"].ranges == [(T0 // 1000, T0 // 1000 + 10)]
