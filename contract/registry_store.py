"""The registry kept in Kafka: a compacted topic written by the CLI, followed by every service."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson

from contract.registry import (
    Item,
    Registry,
    RegistryError,
    from_record,
    record_key,
    to_record,
)
from contract.settings import KafkaSettings
from contract.topics import REGISTRY

__all__ = ["RegistryFollower", "RegistryStore"]

logger = logging.getLogger(__name__)


def _consumer(kafka: KafkaSettings) -> Any:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        **kafka.client_options(),
        enable_auto_commit=False,
        client_id="livetally-registry",
    )
    tp = TopicPartition(kafka.topic(REGISTRY), 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    return consumer


def _decode(value: bytes | None, key: bytes | None) -> Item | None:
    if value is None:
        return None
    try:
        return from_record(orjson.loads(value))
    except (orjson.JSONDecodeError, RegistryError, TypeError) as exc:
        logger.warning("ignoring bad registry record %r: %s", key, exc)
        return None


class RegistryStore:
    """Reads and writes registry records; each call opens and closes its own clients."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka

    def put(self, item: Item) -> None:
        """Write one record and wait until Kafka has it (acks=all)."""
        self._write(record_key(item), orjson.dumps(to_record(item)))

    def delete(self, key: str) -> None:
        """Write a tombstone for a record key (``record_key``) and wait until Kafka has it."""
        self._write(key, None)

    def _write(self, key: str, value: bytes | None) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(**self._kafka.client_options(), acks="all")
        try:
            producer.send(self._kafka.topic(REGISTRY), key=key.encode(), value=value).get(
                timeout=30
            )
        finally:
            producer.close()

    def load(self, timeout_s: float = 30.0) -> Registry:
        """Read the whole registry topic up to its current end (a tombstone removes its key,
        as for the follower)."""
        items: dict[str, Item] = {}
        for key, item in self._read(timeout_s):
            if item is None:
                items.pop(key, None)
            else:
                items[key] = item
        return Registry.of(items.values())

    def _read(self, timeout_s: float) -> Iterator[tuple[str, Item | None]]:
        from kafka import TopicPartition

        consumer = _consumer(self._kafka)
        tp = TopicPartition(self._kafka.topic(REGISTRY), 0)
        try:
            end = consumer.end_offsets([tp])[tp]
            deadline = time.monotonic() + timeout_s
            while consumer.position(tp) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError("timed out reading the registry from Kafka")
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        key = (record.key or b"").decode(errors="replace")
                        yield key, _decode(record.value, record.key)
        finally:
            consumer.close()


class RegistryFollower:
    """Keeps an up-to-date registry snapshot by following the registry topic in a thread."""

    def __init__(self, kafka: KafkaSettings, poll_interval_s: float = 0.5) -> None:
        self._kafka = kafka
        self._poll_ms = int(poll_interval_s * 1000)
        self._items: dict[str, Item] = {}
        self._snapshot = Registry()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry", daemon=True)

    @property
    def snapshot(self) -> Registry:
        """The latest registry seen."""
        return self._snapshot

    def start(self) -> None:
        """Start following in the background."""
        self._thread.start()

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Wait until the registry has been read up to its end once."""
        return self._ready.wait(timeout_s)

    def stop(self) -> None:
        """Stop following."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception:
                logger.exception("registry follower failed; retrying in 1 s")
                self._stop.wait(1.0)

    def _follow(self) -> None:
        from kafka import TopicPartition

        consumer = _consumer(self._kafka)
        tp = TopicPartition(self._kafka.topic(REGISTRY), 0)
        try:
            end = consumer.end_offsets([tp])[tp]
            while not self._stop.is_set():
                batches = consumer.poll(timeout_ms=self._poll_ms)
                changed = False
                for records in batches.values():
                    for record in records:
                        key = (record.key or b"").decode(errors="replace")
                        item = _decode(record.value, record.key)
                        if item is None:
                            self._items.pop(key, None)
                        else:
                            self._items[key] = item
                        changed = True
                if changed:
                    self._snapshot = Registry.of(self._items.values())
                if not self._ready.is_set() and consumer.position(tp) >= end:
                    self._ready.set()
        finally:
            consumer.close()
