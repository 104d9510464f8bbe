"""Ingest's fast path: it accepts exactly the requests the general path accepts whole, and
stores them in the same records."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from contract.packing import pack_events, pack_wire_events
from contract.records import decode_batch
from ingest.exceptions import IngestError
from ingest.fastpath import accept_whole
from ingest.validation import (
    check_platform,
    parse_json_events,
    parse_ndjson_events,
    validate_events,
)
from tests.contract.test_wire import schema_cases

NOW = 1_734_780_000_000
STREAMS = frozenset({"carnival", "成都"})
PLATFORM = "scnews"


def fast(data: bytes, *, kind="json", mode="sessions", max_events=1000):
    return accept_whole(
        data,
        kind=kind,
        platform=PLATFORM,
        now_ms=NOW,
        streams=STREAMS,
        mode=mode,
        max_events=max_events,
    )


def general(data: bytes, *, kind="json", mode="sessions"):
    """What the general path makes of a body: the checked batch, or the error it raises."""
    parse = parse_json_events if kind == "json" else parse_ndjson_events
    try:
        events = parse(data, max_events=1000)
        check_platform(events, PLATFORM)
    except IngestError as error:
        return error
    return validate_events(events, now_ms=NOW, streams=STREAMS, mode=mode)


def body(*events: dict, kind="json") -> bytes:
    if kind == "json":
        return orjson.dumps({"events": list(events)})
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n"


def stored(records) -> list[tuple[int, bytes, str, int, int, list]]:
    out = []
    for record in records:
        batch = decode_batch(record.value)
        out.append(
            (
                record.partition,
                record.key,
                batch.platform,
                batch.received_at,
                batch.timeout_ms,
                batch.events,
            )
        )
    return out


def same_records(whole, checked) -> None:
    options = {"platform": PLATFORM, "received_at_ms": NOW, "partitions": 4, "timeout_ms": 45_000}
    assert stored(pack_wire_events(whole, **options)) == stored(
        pack_events(checked.accepted, **options)
    )


HEARTBEAT = {"type": "heartbeat", "stream": "carnival", "ts": NOW, "session_id": "s-1"}


@pytest.mark.parametrize("kind", ["json", "ndjson"])
def test_a_valid_body_is_accepted_whole_and_stored_as_the_general_path_stores_it(kind):
    events = [
        HEARTBEAT,
        {**HEARTBEAT, "type": "join", "viewer_id": "v-9", "platform": PLATFORM, "event_id": ""},
        {"type": "leave", "stream": "成都", "ts": NOW - 86_400_000, "session_id": "观众 1"},
        {**HEARTBEAT, "ts": NOW + 300_000, "concurrent": 0, "uniques": 10**12},
    ]
    data = body(*events, kind=kind)
    whole = fast(data, kind=kind)
    assert whole is not None
    assert all(event.platform is UNSET for event in whole)
    checked = general(data, kind=kind)
    assert not checked.rejected
    assert len(whole) == len(checked.accepted) == 4
    same_records(whole, checked)


def test_a_reports_partner_count_is_accepted_whole():
    data = body(
        {"type": "count", "stream": "carnival", "ts": NOW, "concurrent": 7, "cumulative": 9}
    )
    whole = fast(data, mode="reports")
    assert whole is not None
    same_records(whole, general(data, mode="reports"))


def test_whitespace_around_colons_does_not_matter():
    data = body(HEARTBEAT).replace(b'":', b'" :\n ').replace(b"{", b"{ ")
    whole = fast(data)
    assert whole is not None
    same_records(whole, general(data))


@pytest.mark.parametrize(
    "data",
    [
        body({**HEARTBEAT, "ts": "2024-12-21T19:30:00+08:00"}),  # RFC 3339: general path
        body({**HEARTBEAT, "session_id": "a\\"}),  # an escape: quotes are not countable
        body(HEARTBEAT)[:-3] + f', "ts": {NOW}}}]}}'.encode(),  # a member named twice
        body(HEARTBEAT)[:-3] + b', "session_id": "s-2"}]}',
        body(HEARTBEAT)[:-1] + b', "events": [' + orjson.dumps(HEARTBEAT) + b"]}",
        body(HEARTBEAT).replace(b'"s-1"', b'"caf\xe9"'),  # not UTF-8: a 400 on the general path
        body(HEARTBEAT).replace(b'"session_id"', b'"s\xe9ssion_id"'),
        body({**HEARTBEAT, "platform": "other"}),
        body({**HEARTBEAT, "stream": "elsewhere"}),
        body({**HEARTBEAT, "type": "count", "concurrent": 1}),
        body({k: v for k, v in HEARTBEAT.items() if k != "session_id"}),
        body({**HEARTBEAT, "session_id": "tab\there"}),
        body({**HEARTBEAT, "viewer_id": "\x00"}),
        # not printable, and written as they are (not escaped) in JSON
        body({**HEARTBEAT, "session_id": "del\x7f"}),
        body({**HEARTBEAT, "session_id": "nb\u00a0sp"}),
        body({**HEARTBEAT, "viewer_id": "line\u2028sep"}),
        body({**HEARTBEAT, "viewer_id": "soft\u00adhyphen"}),
        body({**HEARTBEAT, "stream": "car\u00adnival"}),
        body({**HEARTBEAT, "stream": ""}),
        body({**HEARTBEAT, "session_id": "x" * 129}),
        body({**HEARTBEAT, "event_id": "x" * 129}),
        body({**HEARTBEAT, "ts": NOW - 86_400_001}),
        body({**HEARTBEAT, "ts": NOW + 300_001}),
        body({**HEARTBEAT, "viewer_id": None}),
        body({**HEARTBEAT, "concurrent": -1}),
        body({**HEARTBEAT, "concurrent": 1.0}),
        body({**HEARTBEAT, "cumulative": 10**12 + 1}),
        body({**HEARTBEAT, "extra": 1}),
        body({**HEARTBEAT, "type": "pause"}),
        body(),
        body(HEARTBEAT, 3),
        b'{"events": [], "more": 1}',
        b"[]",
        b"{",
    ],
)
def test_anything_the_general_path_might_refuse_takes_the_general_path(data):
    assert fast(data) is None


@pytest.mark.parametrize(
    ("field", "event"),
    [(field, {**event, "stream": "carnival"}) for field, event, fits in schema_cases() if fits],
)
def test_every_value_the_schema_takes_is_accepted_whole_when_the_general_path_takes_it(
    field, event
):
    # A field added to the schema and forgotten here would send every event with it to the
    # general path: the fast path must know each one.
    mode = "reports" if event["type"] == "count" else "sessions"
    data = body(event)
    checked = general(data, mode=mode)
    whole = fast(data, mode=mode)
    if isinstance(checked, IngestError) or checked.rejected:
        assert whole is None
    else:
        assert whole is not None, (field, event)
        same_records(whole, checked)


def test_count_events_need_reports_mode_and_a_concurrent():
    count = {"type": "count", "stream": "carnival", "ts": NOW, "concurrent": 1}
    assert fast(body(count), mode="reports") is not None
    assert fast(body({**count, "type": "join", "session_id": "s"}), mode="reports") is None
    assert fast(body({k: v for k, v in count.items() if k != "concurrent"}), mode="reports") is None


def test_more_events_than_allowed_take_the_general_path():
    assert fast(body(HEARTBEAT, HEARTBEAT), max_events=2) is not None
    assert fast(body(HEARTBEAT, HEARTBEAT, HEARTBEAT), max_events=2) is None
    assert (
        fast(body(HEARTBEAT, HEARTBEAT, HEARTBEAT, kind="ndjson"), kind="ndjson", max_events=2)
        is None
    )


def test_platform_is_left_out_of_the_stored_events():
    whole = fast(body({**HEARTBEAT, "platform": PLATFORM}))
    assert whole is not None
    assert (
        "platform"
        not in decode_batch(
            pack_wire_events(
                whole, platform=PLATFORM, received_at_ms=NOW, partitions=1, timeout_ms=1
            )[0].value
        ).events[0]
    )


texts = st.sampled_from(["s-1", "v", "成都", "", "x" * 129, "tab\t", "a\\b", 'q"', "{", ":"])
values = texts | st.sampled_from(
    [
        None,
        0,
        -1,
        7,
        1.5,
        True,
        NOW,
        NOW - 86_400_001,
        NOW + 300_001,
        10**12 + 1,
        "2024-12-21T19:30:00Z",
    ]
)
events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["join", "heartbeat", "leave", "count", "pause"]),
        "stream": st.sampled_from(["carnival", "成都", "elsewhere"]),
        "ts": st.sampled_from([NOW, NOW - 1000, NOW + 1000]),
    },
    optional={name: texts for name in ("session_id", "viewer_id", "event_id")}
    | {"platform": st.sampled_from([PLATFORM, "other"])}
    | {name: st.integers(0, 100) for name in ("concurrent", "cumulative", "uniques")}
    | {"junk": values},
)
# Valid events whose JSON has no backslash (an escape makes the quotes uncountable, so such
# a body takes the general path).
mostly_valid = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["join", "heartbeat", "leave"]),
        "stream": st.sampled_from(["carnival", "成都"]),
        "ts": st.integers(NOW - 86_400_000, NOW + 300_000),
        "session_id": st.text(
            st.characters(codec="utf-8", exclude_categories=["C", "Z"], exclude_characters='"\\'),
            min_size=1,
            max_size=20,
        ),
    },
    optional={"viewer_id": st.sampled_from(["v-1", "观众"]), "platform": st.just(PLATFORM)},
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(events | mostly_valid, min_size=0, max_size=6),
    st.sampled_from(["json", "ndjson"]),
    st.sampled_from(["sessions", "reports"]),
    st.sampled_from([None, b"\n", b" ", b'"', b"\\"]),
)
def test_the_fast_path_only_ever_accepts_what_the_general_path_accepts_whole(
    generated, kind, mode, noise
):
    data = body(*generated, kind=kind)
    if noise is not None:
        data = data.replace(b",", b"," + noise, 1)
    whole = fast(data, kind=kind, mode=mode)
    if whole is None:
        return
    checked = general(data, kind=kind, mode=mode)
    assert not isinstance(checked, IngestError)
    assert checked.rejected == []
    assert len(checked.accepted) == len(whole)
    same_records(whole, checked)


@given(st.lists(mostly_valid, min_size=1, max_size=20), st.sampled_from(["json", "ndjson"]))
def test_valid_bodies_in_epoch_milliseconds_take_the_fast_path(generated, kind):
    assert fast(body(*generated, kind=kind), kind=kind) is not None
