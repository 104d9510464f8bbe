"""The operator's backfill client: one partner's events produced straight to Kafka.

kafka-python and the contract's packing are imported on first use, so the partner SDK
around it stays importable with httpx alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from livetally.client.codec import dumps
from livetally.client.exceptions import ClientError

if TYPE_CHECKING:
    from contract.kafka_auth import KafkaSecurity

__all__ = ["KafkaClient"]


class _FlushOnExit:
    """``with client:`` flushes what is buffered when the block ends cleanly, then closes."""

    def flush(self) -> object:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.close()


class KafkaClient(_FlushOnExit):
    """An operator's tool: produces one partner's events straight to the events topic, for
    a bulk backfill of a log by whoever holds an operator Kafka user (one with Write on the
    events topic). Partners post over HTTP (``Client``); they are never given Kafka.

    It writes the same records ingest writes (``contract.packing``), one per partition per
    flush, produced with ``acks=all`` and an idempotent producer. Whatever it writes is
    trusted as accepted by ingest, so it is only for the operator.

    Events are not checked here: the stream app checks every event when it reads the record
    (the same rules as ``POST /v1/events``, against the time the record was produced) and
    puts each invalid one on the dead-letter topic with its reason. Check a sample first
    with ``POST /v1/events/validate`` if in doubt. ``timeout_ms`` must be the session
    timeout registered for the partner (``livetally partner add --session-timeout``).
    """

    def __init__(
        self,
        bootstrap: str | list[str],
        partner_id: str,
        timeout_ms: int = 30_000,
        *,
        topic_prefix: str = "livetally.",
        batch_size: int = 500,
        ack_timeout_s: float = 10.0,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        security: KafkaSecurity | None = None,
    ) -> None:
        """``security`` is how to log in (``Settings.from_env().kafka.security`` reads it
        from the ``LIVETALLY_KAFKA_*`` variables); PLAINTEXT when None."""
        if not partner_id:
            raise ValueError("partner_id must not be empty")
        if timeout_ms <= 0:
            raise ValueError("timeout_ms must be positive")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        from contract.kafka_auth import KafkaSecurity
        from contract.topics import EVENTS

        servers = bootstrap.split(",") if isinstance(bootstrap, str) else list(bootstrap)
        self._servers = [s.strip() for s in servers if s.strip()]
        self._security = security or KafkaSecurity()
        self._partner = partner_id
        self._timeout_ms = timeout_ms
        self._topic = f"{topic_prefix}{EVENTS}"
        self._batch_size = batch_size
        self._ack_timeout_s = ack_timeout_s
        self._clock_ms = clock_ms
        self._producer: Any = None
        self._buffer: list[Mapping[str, Any]] = []
        self.produced = 0
        """Events Kafka has acknowledged so far."""

    @property
    def pending(self) -> int:
        """Events buffered and not yet produced."""
        return len(self._buffer)

    def _client(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer
            from kafka.errors import KafkaError

            from contract.producing import producer_options

            options = {
                **producer_options(self._ack_timeout_s),
                "client_id": f"livetally-client-{self._partner}",
            }
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self._servers, **self._security.kafka_python(), **options
                )
            except KafkaError as exc:
                raise ClientError(
                    f"cannot reach Kafka at {','.join(self._servers)}: {exc}"
                ) from None
        return self._producer

    def send(self, event: Mapping[str, Any]) -> None:
        """Buffer one event; produces a batch once ``batch_size`` events are waiting.

        An event naming another ``platform`` is refused here, as ingest refuses it (403).
        """
        if not isinstance(event, Mapping):
            raise ClientError("an event must be a JSON object (a mapping)")
        platform = event.get("platform")
        if isinstance(platform, str) and platform != self._partner:
            raise ClientError(
                f"event has platform {platform!r} but this client produces for {self._partner!r}"
            )
        try:
            dumps(event)
        except (TypeError, ValueError) as exc:
            raise ClientError(f"event is not JSON: {exc}") from None
        self._buffer.append(event)
        if len(self._buffer) >= self._batch_size:
            self.flush()

    def flush(self) -> int:
        """Produce every buffered event and wait for Kafka; return how many were produced."""
        if not self._buffer:
            return 0
        from kafka.errors import KafkaError

        from contract.packing import pack_raw_events

        events, self._buffer = self._buffer, []
        try:
            producer = self._client()
            partitions = producer.partitions_for(self._topic)
            if not partitions:
                raise ClientError(f"topic {self._topic} does not exist")
            records = pack_raw_events(
                events,
                platform=self._partner,
                received_at_ms=self._clock_ms(),
                partitions=len(partitions),
                timeout_ms=self._timeout_ms,
            )
            futures = [
                producer.send(self._topic, key=r.key, value=r.value, partition=r.partition)
                for r in records
            ]
            producer.flush(timeout=self._ack_timeout_s)
            for future in futures:
                future.get(timeout=self._ack_timeout_s)
        except KafkaError as exc:
            self._buffer = events + self._buffer  # keep them for a retry: duplicates are safe
            raise ClientError(f"Kafka did not take the events: {type(exc).__name__}") from None
        except ClientError:
            self._buffer = events + self._buffer
            raise
        self.produced += len(events)
        return len(events)

    def close(self) -> None:
        """Close the producer (does not flush)."""
        if self._producer is not None:
            self._producer.close(timeout=self._ack_timeout_s)
            self._producer = None
