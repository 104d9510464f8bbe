"""The event shortcuts: the exact events join, heartbeat, leave and count hand to send."""

from __future__ import annotations

import msgspec
import pytest

from contract.events import Event, parse_event
from contract.wire import WireEvent
from livetally.client.events import EventShortcuts
from tests.livetally.client.fakes import FakeIngest, make_client

NOW_MS = 1_734_780_000_000
RFC3339 = "2024-12-21T19:20:00+08:00"


class Recorder(EventShortcuts):
    """Shortcuts whose ``send`` records each event and answers ``accept``."""

    def __init__(self, clock=lambda: NOW_MS, accept=True):
        self._now_ms = clock
        self.sent = []
        self.accept = accept

    def send(self, event):
        self.sent.append(event)
        return self.accept


@pytest.mark.parametrize("kind", ["join", "heartbeat", "leave"])
def test_a_session_event_has_type_stream_ts_and_session_only_by_default(kind):
    shortcuts = Recorder()
    assert getattr(shortcuts, kind)("carnival", "s1") is True
    assert shortcuts.sent == [
        {"type": kind, "stream": "carnival", "ts": NOW_MS, "session_id": "s1"}
    ]


@pytest.mark.parametrize("kind", ["join", "heartbeat", "leave"])
def test_a_session_event_carries_viewer_id_event_id_and_ts_when_given(kind):
    shortcuts = Recorder()
    getattr(shortcuts, kind)("carnival", "s1", viewer_id="v1", ts=RFC3339, event_id="e-1")
    assert shortcuts.sent == [
        {
            "type": kind,
            "stream": "carnival",
            "ts": RFC3339,  # kept as the string given, not converted
            "session_id": "s1",
            "viewer_id": "v1",
            "event_id": "e-1",
        }
    ]


def test_an_epoch_ms_ts_is_kept_even_zero_and_the_clock_is_not_read():
    reads = []
    shortcuts = Recorder(clock=lambda: reads.append(1) or NOW_MS)
    shortcuts.join("carnival", "s1", ts=0)
    shortcuts.count("carnival", 3, ts=1_000)
    assert [e["ts"] for e in shortcuts.sent] == [0, 1_000]
    assert reads == []


def test_ts_defaults_to_now_ms_read_at_each_call():
    ticks = iter([NOW_MS, NOW_MS + 1_000, NOW_MS + 2_000, NOW_MS + 3_000])
    shortcuts = Recorder(clock=lambda: next(ticks))
    shortcuts.join("carnival", "s1")
    shortcuts.heartbeat("carnival", "s1")
    shortcuts.leave("carnival", "s1")
    shortcuts.count("carnival", 1)
    assert [e["ts"] for e in shortcuts.sent] == [NOW_MS + i * 1_000 for i in range(4)]


def test_an_empty_viewer_id_is_sent_not_dropped():
    shortcuts = Recorder()
    shortcuts.heartbeat("carnival", "s1", viewer_id="")
    assert shortcuts.sent[0]["viewer_id"] == ""


def test_count_sends_concurrent_and_leaves_out_what_was_not_given():
    shortcuts = Recorder()
    shortcuts.count("carnival", 7)
    assert shortcuts.sent == [
        {"type": "count", "stream": "carnival", "ts": NOW_MS, "concurrent": 7}
    ]


def test_count_sends_every_field_given_zero_included():
    shortcuts = Recorder()
    shortcuts.count("carnival", 0, cumulative=0, uniques=0, ts=RFC3339, event_id="c-1")
    assert shortcuts.sent == [
        {
            "type": "count",
            "stream": "carnival",
            "ts": RFC3339,
            "concurrent": 0,
            "cumulative": 0,
            "uniques": 0,
            "event_id": "c-1",
        }
    ]
    assert "session_id" not in shortcuts.sent[0]


def test_each_shortcut_answers_what_send_answered():
    shortcuts = Recorder(accept=False)
    assert shortcuts.join("carnival", "s1") is False
    assert shortcuts.heartbeat("carnival", "s1") is False
    assert shortcuts.leave("carnival", "s1") is False
    assert shortcuts.count("carnival", 1) is False
    assert len(shortcuts.sent) == 4


def test_the_mixin_alone_has_no_send():
    class Bare(EventShortcuts):
        _now_ms = staticmethod(lambda: NOW_MS)

    with pytest.raises(NotImplementedError):
        Bare().join("carnival", "s1")


@pytest.mark.parametrize(
    ("call", "mode"),
    [
        (lambda c: c.join("carnival", "s1", viewer_id="v1", event_id="e-1"), "sessions"),
        (lambda c: c.heartbeat("carnival", "s1", ts=RFC3339), "sessions"),
        (lambda c: c.leave("carnival", "s1", ts=NOW_MS - 5_000), "sessions"),
        (lambda c: c.count("carnival", 4, cumulative=10, uniques=6, event_id="c"), "reports"),
        (lambda c: c.count("carnival", 0, ts=RFC3339), "reports"),
    ],
)
def test_every_shortcut_builds_an_event_the_contract_accepts(call, mode):
    shortcuts = Recorder()
    call(shortcuts)
    [event] = shortcuts.sent
    parsed = parse_event(event, now_ms=NOW_MS, streams={"carnival"}, mode=mode)
    assert isinstance(parsed, Event), parsed


def test_close_posts_what_is_queued_and_the_helpers_write_events_the_contract_accepts():
    fake = FakeIngest()
    client, _ = make_client(fake, background=True, now_ms=lambda: 1_734_780_000_000)
    with client:
        client.join("carnival", "s1", viewer_id="v1")
        client.heartbeat("carnival", "s1", event_id="e-2")
        client.leave("carnival", "s1", ts="2024-12-21T19:20:00+08:00")
        client.count("carnival", 7, uniques=9)
    [events] = fake.bodies()
    assert [e["type"] for e in events] == ["join", "heartbeat", "leave", "count"]
    assert events[0] == {
        "type": "join",
        "stream": "carnival",
        "ts": 1_734_780_000_000,
        "session_id": "s1",
        "viewer_id": "v1",
    }
    assert events[3] == {
        "type": "count",
        "stream": "carnival",
        "ts": 1_734_780_000_000,
        "concurrent": 7,
        "uniques": 9,
    }
    for event in events:
        if isinstance(event["ts"], int):
            msgspec.convert(event, WireEvent)  # the schema's fields and types
        mode = "reports" if event["type"] == "count" else "sessions"
        parsed = parse_event(event, now_ms=1_734_780_000_000, streams={"carnival"}, mode=mode)
        assert isinstance(parsed, Event), parsed
