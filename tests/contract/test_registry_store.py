"""The registry kept in Kafka, on stand-in clients: how records are written, read to the end,
followed, and how a bad record is passed over. The real topic is exercised by the
integration tests of ``livetally admin`` and the services."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import orjson
import pytest

from contract import registry_store
from contract.registry import (
    Partner,
    Registry,
    Segment,
    Stream,
    Token,
    hash_secret,
    to_record,
)
from contract.registry_store import RegistryFollower, RegistryStore, _decode
from contract.settings import KafkaSettings

KAFKA = KafkaSettings(bootstrap="127.0.0.1:1", topic_prefix="t.")
STREAM = Stream("carnival", "嘉年华")
PARTNER = Partner("kandu", "看度", key_hash=hash_secret("ltk_k"))
TOKEN = Token("wall", "viewer", token_hash="h" * 64)
SEGMENT = Segment("opening", "carnival", 1734778800, "开幕式", "Opening")


def value(item) -> bytes:
    return orjson.dumps(to_record(item))


@pytest.mark.parametrize("item", [STREAM, PARTNER, TOKEN, SEGMENT])
def test_a_stored_record_decodes_to_its_item(item):
    assert _decode(value(item), b"key") == item


def test_a_tombstone_is_no_item_and_no_complaint(caplog):
    with caplog.at_level(logging.WARNING, logger="contract.registry_store"):
        assert _decode(None, b"stream/carnival") is None
    assert caplog.records == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "unexpected end of data"),
        (b"\xff", "not valid UTF-8"),
        (b'{"kind": "channel", "id": "x"}', "unknown registry record kind 'channel'"),
        (b'{"kind": "stream", "id": "Bad Id!", "title": "t"}', "stream id 'Bad Id!' must be"),
        (b'{"kind": "stream", "id": "s"}', "missing 1 required positional argument: 'title'"),
        (b'{"kind": "partner", "id": "p", "name": "P", "mode": "both"}', "mode must be sessions"),
        (
            b'{"kind": "partner", "id": "p", "name": "P", "rate": null}',
            "a partner's rate must be a whole number, not NoneType",
        ),
        # A hash that is not a string (or not ASCII) would fail every sign-in comparing it.
        (
            b'{"kind": "token", "id": "t", "role": "viewer", "token_hash": 5}',
            "a token's token_hash must be a string, not int",
        ),
        (
            b'{"kind": "token", "id": "t", "role": "viewer", "token_hash": "\xc3\xa9"}',
            "a token's token_hash must be a hex digest",
        ),
        (
            b'{"kind": "partner", "id": "p", "name": "P", "key_hash": ["x"]}',
            "a partner's key_hash must be a string, not list",
        ),
        (
            b'{"kind": "token", "id": "t", "role": "viewer", "revoked": "no"}',
            "a token's revoked must be true or false, not str",
        ),
        (
            b'{"kind": "token", "id": "t", "role": "viewer", "expires_at": "soon"}',
            "a token's expires_at must be a whole number, not str",
        ),
    ],
)
def test_a_bad_record_is_passed_over_with_a_warning_naming_its_key(caplog, raw, reason):
    with caplog.at_level(logging.WARNING, logger="contract.registry_store"):
        assert _decode(raw, b"stream/x") is None
    (warning,) = caplog.records
    assert warning.getMessage().startswith("ignoring bad registry record b'stream/x': ")
    assert reason in warning.getMessage()


@pytest.mark.parametrize("raw", [b"[1]", b'"stream"', b"null"])
def test_a_record_that_is_json_but_not_an_object_is_passed_over(raw, caplog):
    assert _decode(raw, b"stream/x") is None
    assert "must be a JSON object" in caplog.text


@dataclass
class Record:
    key: bytes | None
    value: bytes | None


class FakeConsumer:
    """The registry partition: ``records`` up to ``end``, handed out ``batch`` at a time."""

    def __init__(self, records: list[Record], *, batch: int = 2, end: int | None = None):
        self.records = records
        self.batch = batch
        self.end = len(records) if end is None else end
        self.offset = 0
        self.closed = False

    def end_offsets(self, partitions):
        return {tp: self.end for tp in partitions}

    def position(self, tp) -> int:
        return self.offset

    def poll(self, timeout_ms: int):
        taken = self.records[self.offset : self.offset + self.batch]
        if not taken:
            time.sleep(0.005)
            return {}
        self.offset += len(taken)
        return {"tp": taken}

    def close(self) -> None:
        self.closed = True


def serve(monkeypatch, *consumers: FakeConsumer | Exception) -> list[KafkaSettings]:
    """Hand out the consumers (or raise the errors) in turn, one per ``_consumer`` call."""
    pending = list(consumers)
    asked: list[KafkaSettings] = []

    def consumer(kafka):
        asked.append(kafka)
        next_one = pending.pop(0)
        if isinstance(next_one, Exception):
            raise next_one
        return next_one

    monkeypatch.setattr(registry_store, "_consumer", consumer)
    return asked


def records(*pairs) -> list[Record]:
    return [
        Record(key.encode(), item if item is None or isinstance(item, bytes) else value(item))
        for key, item in pairs
    ]


def test_load_reads_the_topic_to_its_end_with_later_records_winning(monkeypatch):
    renamed = Stream("carnival", "嘉年华 2024")
    consumer = FakeConsumer(
        records(
            ("stream/carnival", STREAM),
            ("partner/kandu", PARTNER),
            ("stream/carnival", renamed),
            ("token/wall", TOKEN),
            ("stream/bad", b"{"),
        )
    )
    asked = serve(monkeypatch, consumer)
    registry = RegistryStore(KAFKA).load()
    assert registry == Registry.of([renamed, PARTNER, TOKEN])
    assert asked == [KAFKA]
    assert consumer.closed


def test_load_drops_a_record_a_later_tombstone_deletes(monkeypatch):
    later = Segment("dance", "carnival", 1734780600, "街舞")
    consumer = FakeConsumer(
        records(
            ("segment/carnival/opening", SEGMENT),
            ("segment/carnival/dance", later),
            ("segment/carnival/opening", None),
        )
    )
    serve(monkeypatch, consumer)
    assert RegistryStore(KAFKA).load().programme("carnival") == (later,)


def test_load_stops_at_the_end_it_saw_when_it_started(monkeypatch):
    consumer = FakeConsumer(
        records(("stream/carnival", STREAM), ("partner/kandu", PARTNER)), batch=1, end=1
    )
    serve(monkeypatch, consumer)
    assert RegistryStore(KAFKA).load() == Registry.of([STREAM])


def test_an_empty_registry_loads_empty(monkeypatch):
    serve(monkeypatch, FakeConsumer([]))
    assert RegistryStore(KAFKA).load() == Registry()


def test_load_gives_up_when_the_end_is_not_reached_in_time(monkeypatch):
    consumer = FakeConsumer([], end=3)
    serve(monkeypatch, consumer)
    with pytest.raises(TimeoutError, match="timed out reading the registry from Kafka"):
        RegistryStore(KAFKA).load(timeout_s=0.05)
    assert consumer.closed


class FakeFuture:
    def __init__(self, sent: list) -> None:
        self.sent = sent

    def get(self, timeout: float):
        self.sent.append(("waited", timeout))


def fake_producer(monkeypatch, *, fail: bool = False) -> list:
    import kafka

    calls: list = []

    class Producer:
        def __init__(self, **options) -> None:
            calls.append(("options", options))

        def send(self, topic, *, key, value):
            if fail:
                raise RuntimeError("broker gone")
            calls.append(("send", topic, key, value))
            return FakeFuture(calls)

        def close(self) -> None:
            calls.append(("closed",))

    monkeypatch.setattr(kafka, "KafkaProducer", Producer)
    return calls


@pytest.mark.parametrize(
    ("item", "key"),
    [
        (STREAM, b"stream/carnival"),
        (PARTNER, b"partner/kandu"),
        (TOKEN, b"token/wall"),
        (SEGMENT, b"segment/carnival/opening"),
    ],
)
def test_put_writes_the_item_under_its_key_and_waits_for_every_replica(monkeypatch, item, key):
    calls = fake_producer(monkeypatch)
    RegistryStore(KAFKA).put(item)
    assert calls == [
        ("options", {**KAFKA.client_options(), "acks": "all"}),
        ("send", "t.registry", key, value(item)),
        ("waited", 30),
        ("closed",),
    ]


def test_delete_writes_a_tombstone_under_the_key(monkeypatch):
    calls = fake_producer(monkeypatch)
    RegistryStore(KAFKA).delete("segment/carnival/opening")
    assert calls[1:] == [
        ("send", "t.registry", b"segment/carnival/opening", None),
        ("waited", 30),
        ("closed",),
    ]


def test_put_closes_its_producer_when_sending_fails(monkeypatch):
    calls = fake_producer(monkeypatch, fail=True)
    with pytest.raises(RuntimeError, match="broker gone"):
        RegistryStore(KAFKA).put(STREAM)
    assert calls[-1] == ("closed",)


@pytest.fixture
def follow():
    followers: list[RegistryFollower] = []

    def start(**options) -> RegistryFollower:
        follower = RegistryFollower(KAFKA, poll_interval_s=0.01, **options)
        followers.append(follower)
        follower.start()
        return follower

    yield start
    for follower in followers:
        follower.stop()


def until(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_the_follower_is_ready_once_it_has_read_to_the_end(monkeypatch, follow):
    consumer = FakeConsumer(
        records(("stream/carnival", STREAM), ("partner/kandu", PARTNER), ("token/wall", TOKEN)),
        batch=1,
    )
    serve(monkeypatch, consumer)
    follower = follow()
    assert follower.wait_ready(5)
    assert follower.snapshot == Registry.of([STREAM, PARTNER, TOKEN])


def test_a_tombstone_or_a_bad_record_removes_what_its_key_held(monkeypatch, follow):
    consumer = FakeConsumer(
        records(
            ("stream/carnival", STREAM),
            ("partner/kandu", PARTNER),
            ("token/wall", TOKEN),
            ("stream/carnival", None),
            ("token/wall", b'{"kind": "token"}'),
        )
    )
    serve(monkeypatch, consumer)
    follower = follow()
    assert follower.wait_ready(5)
    assert follower.snapshot == Registry.of([PARTNER])


def test_records_after_the_end_keep_the_snapshot_current(monkeypatch, follow):
    consumer = FakeConsumer(records(("stream/carnival", STREAM)))
    serve(monkeypatch, consumer)
    follower = follow()
    assert follower.wait_ready(5)
    renamed = Stream("carnival", "嘉年华 2024")
    consumer.records += records(("stream/carnival", renamed), ("partner/kandu", PARTNER))
    assert until(lambda: follower.snapshot == Registry.of([renamed, PARTNER]))


def test_the_follower_is_not_ready_before_the_end(monkeypatch, follow):
    serve(monkeypatch, FakeConsumer(records(("stream/carnival", STREAM)), end=2))
    follower = follow()
    assert not follower.wait_ready(0.1)
    assert until(lambda: follower.snapshot == Registry.of([STREAM]))


def test_a_follower_that_fails_starts_over_from_the_beginning(monkeypatch, follow):
    consumer = FakeConsumer(records(("stream/carnival", STREAM)))
    asked = serve(monkeypatch, ConnectionError("broker gone"), consumer)
    follower = follow()
    assert follower.wait_ready(5)
    assert follower.snapshot == Registry.of([STREAM])
    assert len(asked) == 2


def test_stopping_closes_the_consumer_and_the_thread(monkeypatch, follow):
    consumer = FakeConsumer([])
    serve(monkeypatch, consumer)
    follower = follow()
    assert follower.wait_ready(5)
    follower.stop()
    assert consumer.closed
    assert not follower._thread.is_alive()
