"""Packing offline sessions: a packed session comes back equal and counts on the same."""

from __future__ import annotations

from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.frozen import end_second, first_of, freeze, thaw
from stream.presence import Session

T0 = 1_734_778_800_000
DEFAULT = 30_000

kind = st.sampled_from(["join", "heartbeat", "heartbeat", "leave"])
offset = st.integers(-60_000, 600_000)
event = st.tuples(kind, offset, st.just(DEFAULT))
any_event = st.tuples(kind, offset, st.sampled_from([DEFAULT, DEFAULT, 10_000, 45_000]))


def fields(session: Session) -> tuple[object, ...]:
    leaves = session.leaves
    return (
        session.first,
        session.base,
        session.starts.typecode,
        session.starts.tolist(),
        None if leaves is None else (leaves.typecode, leaves.tolist()),
        session.timeout_of,
        session.longest,
        session.ranges,
    )


def built(events: list[tuple[str, int, int]]) -> Session:
    session = Session(T0 + events[0][1])
    for kind, offset, timeout in events:
        session.add(kind, T0 + offset, timeout, DEFAULT)
    return session


@settings(max_examples=400, deadline=None)
@given(st.lists(event, min_size=1, max_size=30), st.lists(any_event, max_size=10))
def test_a_packed_session_comes_back_equal_and_counts_on_the_same(events, later):
    session = built(events)
    blob = freeze(session)
    assert blob is not None
    copy = thaw(blob)
    assert fields(copy) == fields(session)
    assert first_of(blob) == session.first
    for kind, offset, timeout in later:
        ts = T0 + offset
        assert copy.add(kind, ts, timeout, DEFAULT) == session.add(kind, ts, timeout, DEFAULT)
        assert fields(copy) == fields(session)


def test_a_single_join_packs_into_a_few_dozen_bytes():
    session = Session(T0)
    session.add("join", T0, DEFAULT, DEFAULT)
    blob = freeze(session)
    assert blob is not None
    assert len(blob) <= 32
    assert end_second(session) == T0 // 1000 + 30


def test_shapes_that_do_not_pack_stay_objects():
    timed = Session(T0)
    timed.add("join", T0, 45_000, DEFAULT)  # a start under another timeout than the default
    assert timed.timeout_of is not None
    assert freeze(timed) is None
    wide = Session(T0)
    wide.add("join", T0, DEFAULT, DEFAULT)
    wide.add("heartbeat", T0 + 30 * 86_400_000, DEFAULT, DEFAULT)  # widened to 8-byte times
    assert wide.starts.typecode == "q"
    assert freeze(wide) is None
    crowded = Session(T0)
    crowded.starts = array("i", range(0, 70_000_000, 1000))  # more starts than 16 bits count
    assert freeze(crowded) is None


def test_a_session_never_online_ends_at_its_first_second():
    session = Session(T0 + 500)
    session.add("leave", T0 + 500, DEFAULT, DEFAULT)
    assert session.ranges == []
    assert end_second(session) == T0 // 1000 + 1
