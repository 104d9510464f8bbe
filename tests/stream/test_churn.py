"""Recently started offline sessions and single-event ones: tables, a brute-force oracle, and
the figures in the stats record."""

from __future__ import annotations

import random
from dataclasses import replace

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contract.events import Event
from contract.records import encode_batch
from contract.stats import encode_stats, parse_stats
from stream.churn import WINDOW_S, ChurnCounter, RecentFigures, combine
from stream.partition_state import Freezing, PartitionState, PlatformState
from stream.snapshot import dump_state, load_state
from tests.stream.conftest import EAGER_FREEZING

T0 = 1_734_778_800_000  # a whole second
TIMEOUT = 30_000

Ev = tuple[str, int, str]
"""(kind, ts, session id)"""


def hb(ts: int, session_id: str) -> Event:
    return Event("heartbeat", "s", ts, session_id=session_id)


def feed(events: list[Ev], state: PlatformState | None = None) -> PlatformState:
    """Apply events as the worker does (each through ``apply_session``, one fold after)."""
    state = state or PlatformState("s", "web", TIMEOUT)
    for kind, ts, session_id in events:
        state.apply_session(kind, ts, session_id, None, TIMEOUT)
    state.fold()
    return state


def figures(events: list[Ev], now: int) -> tuple[int, int]:
    """(offline, single) of the events' recent sessions, with "now" at ``now``."""
    got = feed(events).churn.figures(now)
    assert got.as_of == now
    return got.offline, got.single


LATE = T0 + 60_000
"""A "now" when sessions started at T0 are offline and still in the window."""


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        pytest.param([], T0, (0, 0), id="nothing"),
        # A single heartbeat is online for the timeout, offline from h + timeout on.
        pytest.param([("heartbeat", T0, "a")], T0 + 29_999, (0, 0), id="online-to-timeout"),
        pytest.param([("heartbeat", T0, "a")], T0 + 30_000, (1, 1), id="offline-at-timeout"),
        # "Now" is the whole second at or before it.
        pytest.param([("join", T0 + 500, "a")], T0 + 30_999, (0, 0), id="ms-not-yet"),
        pytest.param([("join", T0 + 500, "a")], T0 + 31_000, (1, 1), id="ms-offline"),
        # A resent event is the same event: still single.
        pytest.param([("heartbeat", T0, "a"), ("heartbeat", T0, "a")], LATE, (1, 1), id="resent"),
        # A join and a heartbeat at one instant are one start.
        pytest.param([("join", T0, "a"), ("heartbeat", T0, "a")], LATE, (1, 1), id="one-start"),
        # A second event ends single-ness, whatever its kind or order.
        pytest.param(
            [("heartbeat", T0, "a"), ("heartbeat", T0 + 10_000, "a")], LATE, (1, 0), id="second"
        ),
        pytest.param(
            [("heartbeat", T0 + 10_000, "a"), ("join", T0, "a")], LATE, (1, 0), id="earlier"
        ),
        pytest.param(
            [("join", T0, "a"), ("heartbeat", T0 + 300, "a")], LATE, (1, 0), id="same-second"
        ),
        pytest.param(
            [("join", T0, "a"), ("leave", T0 + 5_000, "a")], T0 + 6_000, (1, 0), id="left"
        ),
        pytest.param([("leave", T0, "a")], T0 + 1_000, (1, 1), id="leave-only"),
        # Sessions still online do not count, single or not.
        pytest.param(
            [("join", T0, "a"), ("heartbeat", T0 + 50_000, "a")], LATE, (0, 0), id="still-online"
        ),
        pytest.param([("heartbeat", T0 + 59_000, "a")], LATE, (0, 0), id="just-started"),
        # Started 5 min or more before now: out of the window.
        pytest.param([("heartbeat", T0, "a")], T0 + WINDOW_S * 1000 - 1, (1, 1), id="edge-in"),
        pytest.param([("heartbeat", T0, "a")], T0 + WINDOW_S * 1000, (0, 0), id="edge-out"),
        # Several sessions add up: 30 single ones, all offline at 70 s; 10 with two
        # heartbeats, offline 40 s after their first (8 of them by 70 s).
        pytest.param(
            [("heartbeat", T0 + i * 1000, f"s{i}") for i in range(40)]
            + [("heartbeat", T0 + i * 1000 + 10_000, f"s{i}") for i in range(0, 40, 4)],
            T0 + 70_000,
            (30 + 8, 30),
            id="mixed",
        ),
    ],
)
def test_recent_figures(events, now, expected):
    assert figures(events, now) == expected


def test_a_late_event_moving_a_start_before_the_window_takes_the_session_out():
    state = feed([("heartbeat", T0 + 100_000, "a"), ("heartbeat", T0 + 100_000, "b")])
    now = T0 + WINDOW_S * 1000
    assert state.churn.figures(now) == RecentFigures(now, 2, 2)
    feed([("join", T0 - 1_000, "a")], state)
    assert state.churn.figures(now) == RecentFigures(now, 1, 1)
    # And an event older than the window never enters it.
    feed([("heartbeat", T0, "c")], state)
    assert state.churn.figures(now) == RecentFigures(now, 1, 1)


def test_a_session_gaining_a_second_event_stops_being_single():
    state = feed([("heartbeat", T0, "a")])
    assert state.churn.figures(T0 + 40_000) == RecentFigures(T0 + 40_000, 1, 1)
    # Back online with a second heartbeat: neither offline nor single.
    feed([("heartbeat", T0 + 41_000, "a")], state)
    assert state.churn.figures(T0 + 41_000) == RecentFigures(T0 + 41_000, 0, 0)
    # Offline again later: counted, but not as single.
    assert state.churn.figures(T0 + 80_000) == RecentFigures(T0 + 80_000, 1, 0)


def test_the_window_slides_with_the_clock_and_keeps_only_its_own_seconds():
    """One single-heartbeat session every second for 20 minutes, the clock at the newest:
    once the window is full, 270 of its 300 seconds' sessions are offline (the last 30 are
    still online), and nothing older is kept."""
    state = PlatformState("s", "web", TIMEOUT)
    for i in range(1200):
        now = T0 + i * 1000
        feed([("heartbeat", now, f"s{i}")], state)
        churn = state.churn
        churn.slide(now)
        assert all(now // 1000 - WINDOW_S < start <= now // 1000 for start in churn.cells)
        assert sum(len(ids) for ids in churn.singles.values()) <= WINDOW_S
        got = churn.figures(now)
        if i >= WINDOW_S:
            assert (got.offline, got.single) == (WINDOW_S - 30, WINDOW_S - 30)
    assert len(state.churn.ends) <= WINDOW_S + TIMEOUT // 1000 + 1


def test_the_worker_slides_the_window_once_per_record():
    state = PartitionState(0)
    for n in range(900):
        ts = T0 + n * 1000
        state.apply_record(n, encode_batch("web", ts, [hb(ts, f"s{n}")], timeout_ms=TIMEOUT))
    churn = state.platforms[("s", "web")].churn
    assert min(churn.cells) == (T0 + 899_000) // 1000 - WINDOW_S + 1


def online_at(events: set[tuple[str, int, str, int]], t: int) -> bool:
    """docs/metrics.md, by brute force, for one session's (kind, ts, id, timeout) events."""
    leaves = [ts for kind, ts, _, _ in events if kind == "leave"]
    return any(
        kind != "leave" and h <= t < h + timeout and not any(h <= leave <= t for leave in leaves)
        for kind, h, _, timeout in events
    )


def oracle(events: list[tuple[str, int, str, int]], now_ms: int) -> RecentFigures:
    """The figures from their definition: sessions whose first event is in the 5 min before
    now, online at no whole second from now on, with one distinct instant."""
    now = now_ms // 1000
    by_session: dict[str, set[tuple[str, int, str, int]]] = {}
    for event in events:
        by_session.setdefault(event[2], set()).add(event)
    offline = single = 0
    for evs in by_session.values():
        first = min(ts for _, ts, _, _ in evs)
        if not now - WINDOW_S < first // 1000 <= now:
            continue
        if any(online_at(evs, s * 1000) for s in range(now, now + 62)):
            continue
        offline += 1
        single += len({ts for _, ts, _, _ in evs}) == 1
    return RecentFigures(now_ms, offline, single)


session_events = st.tuples(
    st.sampled_from(["join", "heartbeat", "leave"]),
    st.integers(T0, T0 + 700_000) | st.integers(T0, T0 + 700).map(lambda s: s * 1000),
    st.sampled_from([f"s{i}" for i in range(15)]),
    st.sampled_from([TIMEOUT, 10_000, 60_000]),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(session_events, min_size=1, max_size=40),
    st.randoms(use_true_random=False),
    st.integers(0, 120_000),
)
def test_figures_equal_the_definition_in_any_order(events, rnd, lag):
    """Whatever the order, and wherever the window was slid on the way (the worker slides
    it to the newest event time after each record), the figures are the definition's."""
    now = max(ts for _, ts, _, _ in events) + lag
    want = oracle(events, now)
    for order in (events, rnd.sample(events, len(events))):
        state = PlatformState("s", "web", TIMEOUT)
        newest = order[0][1]
        for kind, ts, session_id, timeout in order:
            state.apply_session(kind, ts, session_id, None, timeout)
            newest = max(newest, ts)
            if rnd.random() < 0.3:
                state.churn.slide(newest)
        assert state.churn.figures(now) == want
    # A restored state (sessions without their counter, instants folded) catches up to
    # exactly the same figures.
    restored = ChurnCounter()
    restored.catch_up(state.sessions, now)
    assert restored.figures(now) == want


def test_catch_up_is_a_no_op_once_the_window_has_slid():
    state = feed([("heartbeat", T0, "a")])
    state.churn.slide(T0)
    state.churn.catch_up({"x": state.sessions["a"]}, T0 + 60_000)
    assert state.churn.figures(T0 + 60_000) == RecentFigures(T0 + 60_000, 1, 1)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([], RecentFigures(None)),
        ([RecentFigures(None)], RecentFigures(None)),
        (
            [RecentFigures(T0, 10, 8), RecentFigures(T0 + 2_000, 5, 5), RecentFigures(None)],
            RecentFigures(T0 + 2_000, 15, 13),
        ),
        # A partition a whole window behind describes sessions that have left the window.
        (
            [RecentFigures(T0, 10, 8), RecentFigures(T0 + WINDOW_S * 1000, 5, 5)],
            RecentFigures(T0 + WINDOW_S * 1000, 5, 5),
        ),
        (
            [RecentFigures(T0 + 1, 10, 8), RecentFigures(T0 + WINDOW_S * 1000, 5, 5)],
            RecentFigures(T0 + WINDOW_S * 1000, 15, 13),
        ),
    ],
)
def test_partitions_combine_as_of_the_newest(parts, expected):
    assert combine(parts) == expected


def test_the_stats_record_carries_the_figures_and_an_older_record_still_parses():
    state = PartitionState(3)
    events = [Event("heartbeat", "s", T0 + i * 100, session_id=f"x{i}") for i in range(50)]
    events.append(Event("heartbeat", "s", T0 + 40_000, session_id="late"))
    state.apply_record(0, encode_batch("web", T0 + 40_000, events, timeout_ms=TIMEOUT))
    _, stats, _ = state.drain()
    doc = orjson.loads(encode_stats(stats[0]))
    assert doc["recent_as_of"] == T0 + 40_000
    assert doc["recent_offline_sessions"] == 50
    assert doc["recent_single_event_offline"] == 50
    record = parse_stats(doc)
    assert record == stats[0]
    assert (record.stream, record.platform, record.partition, record.events) == ("s", "web", 3, 51)
    # A record from before the figures existed still parses, without them.
    old = {k: v for k, v in doc.items() if not k.startswith("recent_")}
    assert parse_stats(old) == replace(
        record, recent_as_of=None, recent_offline_sessions=0, recent_single_event_offline=0
    )


def test_a_restored_partition_publishes_the_same_figures():
    rnd = random.Random(5)
    state = PartitionState(0)
    for n in range(30):
        ts = T0 + n * 5_000
        events = [
            Event("heartbeat", "s", ts + rnd.randrange(1000), session_id=f"s{n}-{k}")
            for k in range(rnd.randrange(1, 5))
        ]
        events.append(Event("heartbeat", "s", ts, session_id="steady"))
        state.apply_record(n, encode_batch("web", ts, events, timeout_ms=TIMEOUT))
    _, before, _ = state.drain()
    restored = load_state(dump_state(state))
    _, after, _ = restored.drain()
    assert before[0].recent_single_event_offline > 0
    assert after == before


@pytest.mark.parametrize(
    ("events", "single"),
    [
        ([("join", T0 + 100, "a"), ("leave", T0 + 600, "a")], 0),  # one second, two instants
        ([("join", T0 + 100, "a"), ("heartbeat", T0 + 900, "a")], 0),
        ([("leave", T0 + 100, "a"), ("leave", T0 + 900, "a")], 0),
        ([("join", T0 + 100, "a"), ("leave", T0 + 100, "a")], 1),  # one instant
        ([("join", T0 + 100, "a"), ("heartbeat", T0 + 100, "a")], 1),
        ([("heartbeat", T0 + 100, "a")], 1),
    ],
)
def test_a_restored_session_in_one_second_counts_as_it_did_live(events, single):
    """Folding keeps one instant of a second; the restored counter still tells them apart."""
    now = T0 + 60_000
    state = feed(events)
    live = state.churn.figures(now)
    restored = ChurnCounter()
    restored.catch_up(state.sessions, now)
    assert live == restored.figures(now) == RecentFigures(now, 1, single)


def _records(events: list[Ev]) -> list[bytes]:
    return [
        encode_batch("web", ts, [Event(kind, "s", ts, session_id=sid)], timeout_ms=TIMEOUT)
        for kind, ts, sid in events
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["join", "heartbeat", "leave"]),
            st.integers(T0, T0 + 900_000),
            st.sampled_from([f"s{i}" for i in range(6)]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 30),
    st.sampled_from([Freezing(), EAGER_FREEZING]),
)
# Every session restored began more than a window before the newest event, and the next
# event moves one of them on: a counter that was never slid took it for one it follows.
@example(
    [("heartbeat", T0, "a"), ("heartbeat", T0 + 400_000, "a"), ("heartbeat", T0 + 410_000, "a")],
    2,
    Freezing(),
)
def test_a_restored_partition_goes_on_counting_like_the_original(events, cut, freezing):
    """A partition restored part-way through a log (a checkpoint) and fed the rest publishes
    the same figures as one fed the whole log, however old its sessions are."""
    values = _records(events)
    cut = min(cut, len(values))
    straight = PartitionState(0, freezing)  # fed the whole log, never dumped
    original = PartitionState(0, freezing)
    for offset, value in enumerate(values[:cut]):
        original.apply_record(offset, value)
    restored = load_state(dump_state(original), freezing)
    for offset, value in enumerate(values):
        straight.apply_record(offset, value)
    for offset, value in enumerate(values[cut:], start=cut):
        original.apply_record(offset, value)
        restored.apply_record(offset, value)
    want = straight.drain()[1]
    assert original.drain()[1] == want
    assert restored.drain()[1] == want
