"""The events topic's records: one partner's events packed in one value, bundles of such
values, and every refusal."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import UNSET

from contract.events import Event
from contract.records import (
    EventBatch,
    RecordError,
    WireBatch,
    bundle_size,
    decode_batch,
    decode_batches,
    decode_wire_batch,
    encode_batch,
    encode_bundle,
    encode_raw_batch,
    encode_wire_batch,
    partition_key,
    split_bundle,
)
from contract.wire import WireEvent

NOW = 1_734_780_000_000
JOIN = Event("join", "carnival", NOW, session_id="s1")
FULL = Event(
    "heartbeat",
    "成都",
    NOW + 1,
    session_id="s2",
    viewer_id="v2",
    event_id="e2",
    concurrent=3,
    cumulative=4,
    uniques=5,
)
COUNT = Event("count", "carnival", NOW, concurrent=120, cumulative=900)


def record(**members) -> bytes:
    base = {"v": 1, "platform": "douyu", "received_at": NOW, "timeout_ms": 45_000, "events": []}
    return orjson.dumps({k: v for k, v in {**base, **members}.items() if v is not ...})


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("carnival", "douyu", "s1"), b"carnival\x1fdouyu\x1fs1"),
        (("成都", "看度", "v"), "成都\x1f看度\x1fv".encode()),
        (("carnival", "douyu", ""), b"carnival\x1fdouyu\x1f"),
    ],
)
def test_the_partition_key_is_stream_platform_and_viewer(parts, key):
    assert partition_key(*parts) == key


@pytest.mark.parametrize("events", [[], [JOIN], [JOIN, FULL], [COUNT]])
def test_a_packed_batch_decodes_to_its_events_stored_compactly(events):
    value = encode_batch("douyu", NOW + 5, events, timeout_ms=45_000)
    assert decode_batch(value) == EventBatch(
        platform="douyu",
        received_at=NOW + 5,
        timeout_ms=45_000,
        events=[event.to_record() for event in events],
    )


def test_the_record_format_is_versioned_and_names_its_members():
    value = encode_batch("douyu", NOW, [JOIN])
    assert orjson.loads(value) == {
        "v": 1,
        "platform": "douyu",
        "received_at": NOW,
        "timeout_ms": 30_000,
        "events": [{"type": "join", "stream": "carnival", "ts": NOW, "session_id": "s1"}],
    }


def test_a_record_without_a_timeout_takes_the_default_one():
    assert decode_batch(record(timeout_ms=...)).timeout_ms == 30_000


def test_raw_events_are_packed_unchecked_from_any_iterable():
    raw = [{"type": "watch", "ts": "yesterday"}, {"anything": [1, None]}]
    value = encode_raw_batch("partner", NOW, iter(raw), timeout_ms=10)
    batch = decode_batch(value)
    assert (batch.platform, batch.timeout_ms, batch.events) == ("partner", 10, raw)


def test_raw_events_that_are_not_json_are_a_type_error():
    with pytest.raises(TypeError):
        encode_raw_batch("partner", NOW, [{"ts": object()}])


def wire(event: Event) -> WireEvent:
    return WireEvent(**event.to_record())


@pytest.mark.parametrize("events", [[JOIN], [JOIN, FULL], [COUNT]])
def test_the_fast_path_writes_the_same_record_as_the_general_path(events):
    typed = encode_wire_batch("douyu", NOW, [wire(e) for e in events], timeout_ms=45_000)
    general = encode_batch("douyu", NOW, events, timeout_ms=45_000)
    assert orjson.loads(typed) == orjson.loads(general)
    assert typed == general


def test_a_record_in_ingest_s_shape_decodes_typed():
    value = encode_batch("douyu", NOW, [JOIN, FULL], timeout_ms=45_000)
    batch = decode_wire_batch(value)
    assert isinstance(batch, WireBatch)
    assert (batch.v, batch.platform, batch.received_at, batch.timeout_ms) == (
        1,
        "douyu",
        NOW,
        45_000,
    )
    assert batch.events[0] == WireEvent("join", "carnival", NOW, session_id="s1")
    assert batch.events[0].viewer_id is UNSET
    assert batch.events[1].uniques == 5


def test_a_typed_record_without_a_timeout_takes_the_default_one():
    batch = decode_wire_batch(record(timeout_ms=...))
    assert batch is not None and batch.timeout_ms == 30_000


@pytest.mark.parametrize(
    "value",
    [
        record(
            events=[
                {"type": "join", "stream": "s", "ts": "2024-12-21T19:30:00Z", "session_id": "x"}
            ]
        ),
        record(events=[{"type": "join", "stream": "s", "ts": NOW, "surplus": 1}]),
        record(events=[{"type": "watch", "stream": "s", "ts": NOW}]),
        record(events=[{"type": "join", "stream": "", "ts": NOW}]),
        record(events=[1]),
        record(surplus=True),
        record(v=2),
        record(platform=""),
        record(received_at=1.5),
        b'{"v":1,"platform":"douyu","received_at":18446744073709551616,"events":[]}',
        record(timeout_ms=0),
        record(events=...),
        b"not json",
        b"\xff\xfe",
        b"[" * 100_000,
        b"",
    ],
)
def test_a_record_of_any_other_shape_is_left_to_the_general_decoder(value):
    assert decode_wire_batch(value) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "record has no value"),
        (b"[1, 2]", "record is not a JSON object"),
        (b'"batch"', "record is not a JSON object"),
        (record(v=...), "record version must be 1"),
        (record(v=2), "record version must be 1"),
        (record(v="1"), "record version must be 1"),
        (record(platform=...), "record platform must be a non-empty string"),
        (record(platform=""), "record platform must be a non-empty string"),
        (record(platform=7), "record platform must be a non-empty string"),
        (record(received_at=...), "record received_at must be integer epoch milliseconds"),
        (record(received_at="now"), "record received_at must be integer epoch milliseconds"),
        (record(received_at=1.5), "record received_at must be integer epoch milliseconds"),
        (record(received_at=True), "record received_at must be integer epoch milliseconds"),
        (record(events=...), "record events must be a list"),
        (record(events={"type": "join"}), "record events must be a list"),
        (record(timeout_ms=0), "record timeout_ms must be a positive integer"),
        (record(timeout_ms=-5), "record timeout_ms must be a positive integer"),
        (record(timeout_ms=1.5), "record timeout_ms must be a positive integer"),
        (record(timeout_ms=True), "record timeout_ms must be a positive integer"),
        (record(timeout_ms=None), "record timeout_ms must be a positive integer"),
    ],
)
def test_a_value_that_is_not_a_batch_is_refused_saying_why(value, message):
    with pytest.raises(RecordError) as refused:
        decode_batch(value)
    assert str(refused.value) == message


@pytest.mark.parametrize("value", [b"", b"{", b"\xff"])
def test_a_value_that_is_not_json_is_refused_as_such(value):
    with pytest.raises(RecordError, match="^record is not JSON: "):
        decode_batch(value)


def test_a_record_error_is_a_value_error():
    with pytest.raises(ValueError, match="record has no value"):
        decode_batch(None)


def test_the_general_decoder_leaves_the_events_unchecked():
    events = [{"type": "join", "stream": "s", "ts": "2024-12-21T19:30:00Z"}, 1, None]
    assert decode_batch(record(events=events)).events == events


ids = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=8)
events = st.builds(
    Event,
    type=st.sampled_from(["join", "heartbeat", "leave"]),
    stream=ids,
    ts=st.integers(min_value=0, max_value=2**53 - 1),
    session_id=ids,
    viewer_id=st.none() | ids,
    event_id=st.none() | ids,
    concurrent=st.none() | st.integers(min_value=0, max_value=10**9),
)


@given(
    st.lists(events, max_size=5),
    ids,
    st.integers(min_value=0, max_value=2**53),
    st.integers(1, 10**9),
)
def test_every_packed_batch_decodes_back_both_ways(batch, platform, received_at, timeout_ms):
    value = encode_batch(platform, received_at, batch, timeout_ms=timeout_ms)
    decoded = decode_batch(value)
    assert decoded == EventBatch(platform, received_at, timeout_ms, [e.to_record() for e in batch])
    typed = decode_wire_batch(value)
    assert typed is not None
    again = encode_wire_batch(platform, received_at, typed.events, timeout_ms=timeout_ms)
    assert again == value


def test_a_bundle_holds_whole_batch_values_under_its_own_version():
    first = encode_batch("douyu", NOW, [JOIN], timeout_ms=45_000)
    second = encode_raw_batch("huya", NOW + 3, [{"ts": "yesterday"}])
    value = encode_bundle([first, second])
    assert orjson.loads(value) == {"v": 2, "batches": [orjson.loads(first), orjson.loads(second)]}
    assert split_bundle(value) == [first, second]
    assert decode_batches(value) == [decode_batch(first), decode_batch(second)]
    assert decode_wire_batch(value) is None


@given(st.lists(st.lists(events, max_size=3), min_size=1, max_size=6))
def test_a_bundle_s_size_is_known_before_it_is_made(groups):
    values = [encode_batch("p", NOW, group) for group in groups]
    assert bundle_size([len(v) for v in values]) == len(encode_bundle(values))
    assert split_bundle(encode_bundle(values)) == values


def test_an_empty_bundle_is_a_programming_error():
    with pytest.raises(ValueError, match="at least one batch"):
        encode_bundle([])


@pytest.mark.parametrize(
    "value",
    [
        record(),
        b'{"v":2,"batches":{}}',
        b'{"v":2,"batches":[1],"x":1}',
        b'{"v":3,"batches":[]}',
        b'{"v":2,"batches":[{"a":}]}',
        b"[" * 100_000,
        b"\xff",
        b"",
    ],
)
def test_anything_else_is_no_bundle(value):
    assert split_bundle(value) is None


def test_a_bundle_of_something_else_than_batches_splits_but_does_not_decode():
    value = b'{"v":2,"batches":[1,"x"]}'
    assert split_bundle(value) == [b"1", b'"x"']
    with pytest.raises(RecordError, match="not a JSON object"):
        decode_batches(value)


def test_a_plain_record_decodes_as_its_one_batch():
    assert decode_batches(record()) == [decode_batch(record())]
    with pytest.raises(RecordError, match="no value"):
        decode_batches(None)
