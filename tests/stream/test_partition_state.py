"""The worker counts typed records (msgspec) exactly as it counts plain ones, and refuses what
``parse_event`` refuses."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.events import MAX_FUTURE_MS, MAX_PAST_MS, Rejection, parse_event
from contract.records import decode_wire_batch
from stream.partition_state import PartitionState
from stream.presence import Session, online_ranges

NOW = 1_734_778_800_000


class _Any:
    def __contains__(self, item: object) -> bool:
        return True


texts = st.one_of(
    st.sampled_from(["s", "a" * 128, "a" * 129, "", "tab\there", "观众"]),
    st.integers(0, 3),
    st.none(),
    st.booleans(),
)
times = st.one_of(
    st.sampled_from(
        [
            NOW,
            NOW - MAX_PAST_MS,
            NOW - MAX_PAST_MS - 1,
            NOW + MAX_FUTURE_MS,
            NOW + MAX_FUTURE_MS + 1,
            2**53,
        ]
    ),
    st.integers(NOW - 2 * MAX_PAST_MS, NOW + 2 * MAX_FUTURE_MS),
    st.sampled_from(["2024-12-21T19:00:00+08:00", "yesterday", 1.5, True]),
)
raw_events = st.dictionaries(
    st.sampled_from(["type", "stream", "ts", "session_id", "viewer_id", "event_id", "x"]),
    st.one_of(st.sampled_from(["join", "heartbeat", "leave", "count"]), texts, times),
    max_size=6,
) | st.fixed_dictionaries(
    {
        "type": st.sampled_from(["join", "heartbeat", "leave"]),
        "stream": texts,
        "ts": times,
        "session_id": texts,
    },
    optional={"viewer_id": texts},
)


@settings(max_examples=300, deadline=None)
@given(st.lists(raw_events, min_size=1, max_size=8))
def test_the_worker_refuses_exactly_what_parse_event_refuses(events):
    state = PartitionState(0)
    # A first valid event teaches the state the stream id (later ones skip its full check).
    warmup = {"type": "join", "stream": "s", "ts": NOW, "session_id": "w"}
    value = orjson.dumps(
        {"v": 1, "platform": "web", "received_at": NOW, "events": [warmup, *events]}
    )
    counted = state.apply_record(0, value)
    _, _, dead = state.drain()
    expected_dead = []
    for index, raw in enumerate(events, start=1):
        mode = "reports" if isinstance(raw, dict) and raw.get("type") == "count" else "sessions"
        parsed = parse_event(raw, now_ms=NOW, streams=_Any(), mode=mode)
        if isinstance(parsed, Rejection):
            expected_dead.append((index, parsed.code))
    assert [(d.index, d.code) for d in dead] == expected_dead
    assert counted == len(events) + 1 - len(expected_dead)


def test_session_far_from_its_first_event_widens_and_stays_exact():
    session = Session(0)
    times = [0, 10_000, 40 * 24 * 3600 * 1000, 20_000, -40 * 24 * 3600 * 1000]
    for ts in times:
        session.add("heartbeat", ts, 30_000, 30_000)
    session.add("leave", 15_000, 30_000, 30_000)
    assert session.starts.typecode == "q"
    assert session.start_times() == sorted(times)
    assert session.ranges == online_ranges(sorted(times), [15_000], None, 30_000)


# Mostly schema-valid strings, so most records take the typed path; the rest are not
# printable (written as they are in JSON), empty or too long.
strings = st.sampled_from(["s", "t", "观众", "a" * 128, "v-1", "v-2"]) | st.sampled_from(
    ["tab\there", "del\x7f", "nb\u00a0sp", "", "a" * 129]
)
typed_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["join", "heartbeat", "leave", "count"]),
        "stream": st.sampled_from(["s", "s", "t", "new"]),
        "ts": st.sampled_from([NOW - MAX_PAST_MS - 1, NOW + MAX_FUTURE_MS + 1])
        | st.integers(NOW - 90_000, NOW + 90_000),
        "session_id": strings,
    },
    optional={
        "viewer_id": strings,
        "event_id": strings,
        "platform": strings,
        "concurrent": st.integers(0, 50),
        "cumulative": st.integers(0, 50),
    },
)


def record(events: list) -> bytes:
    return orjson.dumps(
        {"v": 1, "platform": "web", "received_at": NOW, "timeout_ms": 20_000, "events": events}
    )


def drained(records: list[bytes]):
    state = PartitionState(0)
    # Teach the state the streams "s" and "t" (later events of them skip the full check).
    warmup = [{"type": "join", "stream": name, "ts": NOW, "session_id": "w"} for name in "st"]
    state.apply_record(0, record(warmup))
    counted = [state.apply_record(offset, value) for offset, value in enumerate(records, 1)]
    chunks, stats, dead = state.drain()
    return counted, chunks, stats, [(d.offset, d.index, d.code) for d in dead]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(typed_events, min_size=1, max_size=6), min_size=1, max_size=4))
def test_records_msgspec_types_count_exactly_as_plain_records(batches):
    """A record whose events all fit the schema takes the typed path; the same record with
    one event that does not (a bare number: a dead letter either way) takes the plain one."""
    typed = drained([record(events) for events in batches])
    counted, chunks, stats, dead = drained([record([*events, 7]) for events in batches])
    extra = [(offset, len(events), "not_an_object") for offset, events in enumerate(batches, 1)]
    assert typed == (counted, chunks, stats, [d for d in dead if d not in extra])


def test_the_records_ingest_writes_take_the_typed_path():
    events = [{"type": "heartbeat", "stream": "s", "ts": NOW, "session_id": "a", "event_id": ""}]
    assert decode_wire_batch(record(events)) is not None
    assert decode_wire_batch(record([*events, 7])) is None


@pytest.mark.parametrize(
    "value",
    [
        record([{"type": "join", "stream": "s", "ts": NOW, "session_id": "x"}]).replace(
            b'"x"', b'"caf\xe9"'
        ),
        record([]).replace(b'"v":1', b'"v":1,"x":' + b"[" * 3000 + b"]" * 3000),
        record([]).replace(b'"v":1', b'"v":1,"x":"\xff"'),
        record([]).replace(b"20000", str(2**64).encode()),
        record([]).replace(str(NOW).encode(), str(2**64).encode()),
    ],
)
def test_a_poison_record_is_a_dead_letter_not_a_crash(value):
    state = PartitionState(0)
    assert state.apply_record(5, value) == 0
    assert [(d.offset, d.index, d.code) for d in state.drain()[2]] == [(5, None, "bad_record")]


def test_a_record_ingest_writes_is_counted_without_the_full_check_per_event(monkeypatch):
    state = PartitionState(0)
    events = [{"type": "join", "stream": "s", "ts": NOW, "session_id": "a"}]
    state.apply_record(0, record(events))  # the first event of a stream is checked in full

    def refuse(*args, **kwargs):
        raise AssertionError("parse_event was called")

    monkeypatch.setattr("stream.partition_state.parse_event", refuse)
    events = [
        {"type": "heartbeat", "stream": "s", "ts": NOW + 1000 * i, "session_id": "b"}
        for i in range(3)
    ]
    assert state.apply_record(1, record(events)) == 3


def test_a_count_naming_a_session_is_a_report_not_a_session():
    state = PartitionState(0)
    count = {"type": "count", "stream": "s", "ts": NOW, "concurrent": 40, "session_id": "x"}
    for value in (record([count]), record([count, 7])):  # typed, then plain
        state.apply_record(0, value)
    platform = state.platforms[("s", "web")]
    assert platform.sessions == {}
    assert platform.reports == {NOW: (40, None, None)}
