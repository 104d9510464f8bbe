"""A small partner SDK for the ingest API, and the ``livetally send`` command built on it.

Retrying is always safe: counting is duplicate-proof, so an event sent twice counts once.
"""

from __future__ import annotations

import gzip as gzip_module
import logging
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

import httpx
import orjson

from contract.kafka_auth import KafkaSecurity
from livetally.exceptions import LivetallyError

__all__ = [
    "BatchResult",
    "Client",
    "ClientError",
    "KafkaClient",
    "LineError",
    "RejectedEvent",
    "backoff_delay",
    "iter_ndjson",
    "parse_result",
    "parse_retry_after",
    "partner_key",
    "send_file",
]

RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 502, 503, 504})
"""Statuses that mean "try again later" (too slow a link, overload, rate limit, Kafka
briefly away)."""
MAX_500_RETRIES = 2
"""A 500 is a fault of the service that usually fails the same way again: it is retried
this many times per batch (in case it was a one-off), then reported with its error id."""


class ClientError(LivetallyError):
    """The ingest API refused a request, or could not be reached after every retry."""

    def __init__(self, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem: dict[str, Any] = problem if isinstance(problem, dict) else {}


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """One event the API refused: its position, a stable code, a sentence for people."""

    index: int
    code: str
    detail: str


@dataclass(slots=True)
class BatchResult:
    """What the API did with some events."""

    accepted: int = 0
    rejected: list[RejectedEvent] = field(default_factory=list)

    def add(self, other: BatchResult, offset: int = 0) -> None:
        """Add ``other``'s outcome, shifting its indexes by ``offset``."""
        self.accepted += other.accepted
        self.rejected.extend(
            RejectedEvent(r.index + offset, r.code, r.detail) for r in other.rejected
        )


# --- pure helpers -------------------------------------------------------------------------


def parse_result(doc: Any) -> BatchResult:
    """Read the API's answer ``{"accepted": n, "rejected": [{index, code, detail}, ...]}``."""
    if not isinstance(doc, dict):
        raise ClientError("the ingest API answered with something other than a JSON object")
    accepted = doc.get("accepted", 0)
    rejected_raw = doc.get("rejected", [])
    if isinstance(accepted, bool) or not isinstance(accepted, int):
        raise ClientError("the ingest API's answer has no integer 'accepted' count")
    if not isinstance(rejected_raw, list):
        rejected_raw = []
    rejected = [
        RejectedEvent(
            index=int(item.get("index", -1)),
            code=str(item.get("code", "rejected")),
            detail=str(item.get("detail", "")),
        )
        for item in rejected_raw
        if isinstance(item, dict)
    ]
    return BatchResult(accepted=accepted, rejected=rejected)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    base_s: float = 0.25,
    cap_s: float = 30.0,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based).

    Exponential back-off with "full jitter" (a random delay up to the exponential bound),
    so many clients refused at once do not come back at once; a server's ``Retry-After``
    is a floor.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    bound = min(cap_s, base_s * (2**attempt))
    jittered = (rng or random).uniform(bound / 2, bound)
    if retry_after is not None:
        return max(min(retry_after, cap_s * 4), jittered)
    return jittered


def _problem_message(status: int, doc: Any, text: str) -> str:
    if isinstance(doc, dict):
        title = str(doc.get("title") or "").strip()
        detail = str(doc.get("detail") or "").strip()
        parts = [p for p in (title, detail) if p]
        if parts:
            return f"ingest API refused the request ({status}): {': '.join(parts)}"
    snippet = text.strip()[:200]
    return f"ingest API refused the request ({status})" + (f": {snippet}" if snippet else "")


def _with_error_id(message: str, doc: Any) -> str:
    """``message`` naming the problem's ``error_id`` (a 500's), unless it already does."""
    error_id = doc.get("error_id") if isinstance(doc, dict) else None
    if not isinstance(error_id, str) or not error_id or error_id in message:
        return message
    return f"{message} (error id {error_id})"


def _is_outcome(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("rejected"), list) and "accepted" in doc


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


# --- the client ---------------------------------------------------------------------------


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


class Client(_FlushOnExit):
    """Posts a partner's events to ``POST {base_url}/v1/events`` in batches.

    ``send`` buffers, ``flush`` posts what is buffered; ``result`` accumulates the
    outcome of every event sent, indexed in the order they were given to ``send``.
    """

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        batch_size: int = 500,
        gzip: bool = True,
        max_retries: int = 8,
        timeout_s: float = 10,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size must be 1 to 1000")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._url = base_url.rstrip("/") + "/v1/events"
        self._gzip = gzip
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._http = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "User-Agent": "livetally-client/0.1",
            },
        )
        self._buffer: list[Mapping[str, Any]] = []
        self._sent = 0
        self.result = BatchResult()
        """Outcome of every event flushed so far."""
        self.retries = 0
        """How many requests were retried."""

    @property
    def pending(self) -> int:
        """Events buffered and not yet posted."""
        return len(self._buffer)

    def send(self, event: Mapping[str, Any]) -> None:
        """Buffer one event; posts a batch once ``batch_size`` events are waiting."""
        self._buffer.append(event)
        if len(self._buffer) >= self._batch_size:
            self.flush()

    def flush(self) -> BatchResult:
        """Post every buffered event; return the outcome of those events."""
        out = BatchResult()
        while self._buffer:
            batch = self._buffer[: self._batch_size]
            del self._buffer[: self._batch_size]
            result = self.post_batch(batch)
            out.add(result, offset=self._sent)
            self.result.add(result, offset=self._sent)
            self._sent += len(batch)
        return out

    def post_batch(self, events: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Post one batch now; rejection indexes are within the batch.

        408, 429, 502-504 and network errors are retried up to ``max_retries`` times with
        back-off; a 500 at most ``MAX_500_RETRIES`` times; anything else is not retried.
        """
        body = orjson.dumps({"events": list(events)})
        headers = {}
        if self._gzip:
            body = gzip_module.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        server_errors = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._http.post(self._url, content=body, headers=headers)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return parse_result(_json_or_none(response))
                doc = _json_or_none(response)
                if _is_outcome(doc):
                    # 422 "all_rejected": a problem document that still lists each rejection.
                    return parse_result(doc)
                if response.status_code == 500:
                    server_errors += 1
                    if server_errors > MAX_500_RETRIES or attempt >= self._max_retries:
                        message = _with_error_id(_problem_message(500, doc, response.text), doc)
                        raise ClientError(
                            f"{message}; gave up after {server_errors} such answers",
                            status=500,
                            problem=doc,
                        )
                elif response.status_code not in RETRY_STATUSES:
                    raise ClientError(
                        _problem_message(response.status_code, doc, response.text),
                        status=response.status_code,
                        problem=doc,
                    )
                reason = _with_error_id(f"HTTP {response.status_code}", doc)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt >= self._max_retries:
                raise ClientError(
                    f"gave up posting to {self._url} after {attempt + 1} attempts ({reason})"
                )
            self._sleep(backoff_delay(attempt, retry_after=retry_after, rng=self._rng))
            attempt += 1
            self.retries += 1

    def close(self) -> None:
        """Close the HTTP connection pool (does not flush)."""
        self._http.close()


# --- straight to Kafka ---------------------------------------------------------------------


class KafkaClient(_FlushOnExit):
    """An operator's tool: produces one partner's events straight to the events topic, for
    a bulk backfill of a log by whoever holds an operator Kafka user (one with Write on the
    events topic). Partners post over HTTP (``IngestClient``); they are never given Kafka.

    It writes the same records ingest writes (``ingest.packing``), one per partition per
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

            from ingest.producer import producer_options

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
            orjson.dumps(event)
        except TypeError as exc:
            raise ClientError(f"event is not JSON: {exc}") from None
        self._buffer.append(event)
        if len(self._buffer) >= self._batch_size:
            self.flush()

    def flush(self) -> int:
        """Produce every buffered event and wait for Kafka; return how many were produced."""
        if not self._buffer:
            return 0
        from kafka.errors import KafkaError

        from ingest.packing import pack_raw_events

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


# --- livetally send -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineError:
    """A line of an NDJSON file that is not a JSON value."""

    line: int
    detail: str


def iter_ndjson(lines: Iterable[str]) -> Iterator[tuple[int, Any] | LineError]:
    """``(line number, parsed value)`` per non-blank line, or a ``LineError`` for bad JSON."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield number, orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield LineError(number, f"not valid JSON: {exc}")


def _batches(
    items: Iterator[tuple[int, Any] | LineError], size: int
) -> Iterator[tuple[list[int], list[Any], list[LineError]]]:
    numbers: list[int] = []
    events: list[Any] = []
    errors: list[LineError] = []
    for item in items:
        if isinstance(item, LineError):
            errors.append(item)
            continue
        numbers.append(item[0])
        events.append(item[1])
        if len(events) >= size:
            yield numbers, events, errors
            numbers, events, errors = [], [], []
    if events or errors:
        yield numbers, events, errors


def partner_key(
    key: str | None, key_file: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """The API key ``livetally send`` posts with: ``--key``, else the first line of
    ``--key-file``, else ``LIVETALLY_KEY``."""
    if key:
        return key
    if key_file:
        try:
            lines = Path(key_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise LivetallyError(
                f"cannot read --key-file {key_file}: {exc.strerror or exc}"
            ) from None
        if not lines or not lines[0].strip():
            raise LivetallyError(f"--key-file {key_file} is empty")
        return lines[0].strip()
    env = os.environ if environ is None else environ
    found = env.get("LIVETALLY_KEY", "").strip()
    if not found:
        raise LivetallyError("no API key: set LIVETALLY_KEY, or pass --key-file FILE (or --key)")
    return found


def send_file(
    path: str,
    *,
    key: str,
    url: str | None = None,
    out: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Post an NDJSON file of events (``-`` = stdin) in batches of 500; report what was refused.

    Returns 0 when every event was accepted, 1 when some were rejected.
    """
    if url is None:
        from ingest.config import IngestConfig

        url = IngestConfig.from_env().base_url
    printer = out or sys.stdout
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    accepted = 0
    rejections: list[tuple[int, str, str]] = []
    try:
        handle: TextIO = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as exc:
        raise LivetallyError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        with Client(url, key, batch_size=500, transport=transport) as client:
            for numbers, events, errors in _batches(iter_ndjson(handle), 500):
                rejections.extend((e.line, "invalid_json", e.detail) for e in errors)
                if not events:
                    continue
                result = client.post_batch(events)
                accepted += result.accepted
                for rejected in result.rejected:
                    line = numbers[rejected.index] if 0 <= rejected.index < len(numbers) else 0
                    rejections.append((line, rejected.code, rejected.detail))
    except UnicodeDecodeError:
        raise LivetallyError(f"{path} is not UTF-8 text") from None
    except httpx.InvalidURL as exc:
        raise LivetallyError(f"bad ingest URL {url!r}: {exc}") from None
    finally:
        if handle is not sys.stdin:
            handle.close()
    rejections.sort()
    print(f"accepted {accepted}, rejected {len(rejections)}", file=printer)
    for line, code, detail in rejections:
        print(f"line {line}: {code}: {detail}", file=printer)
    return 0 if not rejections else 1
