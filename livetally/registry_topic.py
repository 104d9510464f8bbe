"""The registry topic as the CLI uses it: topics made first, Kafka's failures explained."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Protocol, TypeVar

from contract.kafka_login import explain
from contract.registry import Item, Registry
from contract.settings import KafkaSettings, Settings
from livetally.exceptions import KafkaUnavailable

__all__ = ["KafkaRegistry", "RegistryIO", "load_registry", "register"]

_T = TypeVar("_T")


def _kafka_call(kafka: KafkaSettings, action: Callable[[], _T]) -> _T:
    from kafka.errors import KafkaError

    try:
        return action()
    except (KafkaError, TimeoutError) as exc:
        reason = explain(exc, kafka)
        if reason is not None:
            raise KafkaUnavailable(reason) from None
        raise KafkaUnavailable(
            f"Kafka is not reachable at {kafka.bootstrap} ({type(exc).__name__}): "
            "run `livetally up` or `livetally kafka start`"
        ) from None


def _probe(kafka: KafkaSettings, timeout_s: float = 3.0) -> None:
    """Fail fast when no bootstrap server accepts a connection (kafka-python waits ~30 s)."""
    for server in kafka.servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout_s):
                return
        except (OSError, ValueError):
            continue
    raise KafkaUnavailable(
        f"Kafka is not reachable at {kafka.bootstrap}: "
        "run `livetally up` or `livetally kafka start`"
    )


def _prepare(settings: Settings) -> None:
    from contract.kafka_login import check_login
    from contract.topics import ensure_topics

    _probe(settings.kafka)
    if settings.kafka.security.sasl or settings.kafka.security.tls:
        # A refused login would otherwise surface as kafka-python's 30 s timeout.
        check_login(settings.kafka, timeout_s=10.0)
    _kafka_call(settings.kafka, lambda: ensure_topics(settings.kafka))


def _put(settings: Settings, item: Item) -> None:
    from contract.registry_store import RegistryStore

    store = RegistryStore(settings.kafka)
    _kafka_call(settings.kafka, lambda: store.put(item))


def _delete(settings: Settings, key: str) -> None:
    from contract.registry_store import RegistryStore

    store = RegistryStore(settings.kafka)
    _kafka_call(settings.kafka, lambda: store.delete(key))


def _load(settings: Settings) -> Registry:
    from contract.registry_store import RegistryStore

    store = RegistryStore(settings.kafka)
    return _kafka_call(settings.kafka, store.load)


def load_registry(settings: Settings) -> Registry:
    """Make sure the topics exist and read the whole registry."""
    _prepare(settings)
    return _load(settings)


def register(settings: Settings, *items: Item) -> None:
    """Make sure the topics exist and write ``items`` to the registry, in order."""
    _prepare(settings)
    for item in items:
        _put(settings, item)


class RegistryIO(Protocol):
    """Where a command reads the registry and writes its record (Kafka, or a test's list)."""

    def load(self) -> Registry:
        """The whole registry as it is now."""
        ...

    def put(self, item: Item) -> None:
        """Write one record and wait until it is stored."""
        ...

    def delete(self, key: str) -> None:
        """Delete the record with this key (a tombstone) and wait until it is stored."""
        ...


class KafkaRegistry:
    """The registry topic, with the topics made first and Kafka's failures explained."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def load(self) -> Registry:
        """Make sure the topics exist and read the whole registry."""
        return load_registry(self._settings)

    def put(self, item: Item) -> None:
        """Write one record (acks=all)."""
        _put(self._settings, item)

    def delete(self, key: str) -> None:
        """Write a tombstone for ``key`` (acks=all)."""
        _delete(self._settings, key)
