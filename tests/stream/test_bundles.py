"""A bundle of batches counts exactly as its batches would as records of their own."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.events import MAX_FUTURE_MS, MAX_PAST_MS
from contract.records import encode_bundle
from stream.partition_state import PartitionState

NOW = 1_734_778_800_000

strings = st.sampled_from(["s", "t", "v-1", "v-2", "观众"]) | st.sampled_from(["", "tab\there"])
events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["join", "heartbeat", "leave", "count"]),
        "stream": st.sampled_from(["s", "s", "t", "new"]),
        "ts": st.sampled_from([NOW - MAX_PAST_MS - 1, NOW + MAX_FUTURE_MS + 1])
        | st.integers(NOW - 90_000, NOW + 90_000),
        "session_id": strings,
    },
    optional={"viewer_id": strings, "concurrent": st.integers(0, 50)},
) | st.just(7)  # not an object: a dead letter, and its batch takes the plain path
batches = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "platform": st.sampled_from(["web", "app", "tv"]),
        "received_at": st.integers(NOW - 5, NOW + 5),
        "timeout_ms": st.sampled_from([20_000, 30_000, 45_000]),
        "events": st.lists(events, max_size=6),
    }
)


def counted(records: list[bytes]):
    """What one partition makes of ``records`` at offsets 1, 2, …"""
    state = PartitionState(0)
    # Teach the state the streams "s" and "t" (later events of them skip the full check).
    warmup = [{"type": "join", "stream": name, "ts": NOW, "session_id": "w"} for name in "st"]
    state.apply_record(
        0, orjson.dumps({"v": 1, "platform": "web", "received_at": NOW, "events": warmup})
    )
    totals = [state.apply_record(offset, value) for offset, value in enumerate(records, 1)]
    chunks, stats, dead = state.drain()
    return totals, chunks, stats, dead, state


@settings(max_examples=300, deadline=None)
@given(st.lists(batches, min_size=1, max_size=5))
def test_a_bundle_counts_exactly_as_its_batches_as_records_of_their_own(docs):
    values = [orjson.dumps(doc) for doc in docs]
    alone, chunks, stats, dead, _ = counted(values)
    [together], bundle_chunks, bundle_stats, bundle_dead, _ = counted([encode_bundle(values)])
    assert together == sum(alone)
    assert (bundle_chunks, bundle_stats) == (chunks, stats)
    # The same refusals, each placed among all the bundle's events.
    starts = [sum(len(doc["events"]) for doc in docs[:i]) for i in range(len(docs))]
    expected = [(starts[d.offset - 1] + d.index, d.code, d.value) for d in dead]
    assert [(d.offset, d.index, d.code, d.value) for d in bundle_dead] == [
        (1, *letter) for letter in expected
    ]


def test_a_batch_of_a_bundle_that_is_no_batch_is_refused_alone():
    good = {"v": 1, "platform": "web", "received_at": NOW, "events": []}
    join = {"type": "join", "stream": "s", "ts": NOW, "session_id": "a"}
    values = [
        orjson.dumps({**good, "events": [join]}),
        orjson.dumps({**good, "v": 3}),
        encode_bundle([orjson.dumps({**good, "events": [join]})]),  # no bundle in a bundle
        orjson.dumps({**good, "platform": "app", "events": [join, 7]}),
    ]
    [total], _, stats, dead, state = counted([encode_bundle(values)])
    assert total == 2
    # The warm-up counted one event of each stream for "web".
    assert {(s.stream, s.platform, s.events) for s in stats} == {
        ("s", "web", 2),
        ("t", "web", 1),
        ("s", "app", 1),
    }
    assert [(d.offset, d.index, d.code) for d in dead] == [
        (1, None, "bad_record"),
        (1, None, "bad_record"),
        (1, 2, "not_an_object"),
    ]
    assert "after event 1" in dead[0].detail and "version" in dead[0].detail
    assert state.next_offset == 2


def test_a_bundle_of_many_thousand_events_from_many_partners_is_counted_whole():
    values = [
        orjson.dumps(
            {
                "v": 1,
                "platform": f"p{partner}",
                "received_at": NOW,
                "events": [
                    {"type": "join", "stream": "s", "ts": NOW + i, "session_id": f"{partner}-{i}"}
                    for i in range(500)
                ],
            }
        )
        for partner in range(20)
    ]
    [total], _, stats, dead, state = counted([encode_bundle(values)])
    assert (total, dead) == (10_000, [])
    assert sorted((s.platform, s.events) for s in stats if s.platform != "web") == [
        (f"p{partner}", 500) for partner in sorted(range(20), key=str)
    ]
    assert sum(len(p.sessions) for p in state.iter_platforms()) == 10_000 + 2
