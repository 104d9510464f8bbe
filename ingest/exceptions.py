"""Errors of the ingest API; ``problems.py`` maps each to an HTTP status in one place."""

from __future__ import annotations

__all__ = [
    "BodyTooLarge",
    "IngestError",
    "KafkaNotAcknowledged",
    "MalformedBody",
    "PlatformMismatch",
    "RateLimited",
    "RegistryNotReady",
    "RequestTimeout",
    "ServiceUnavailable",
    "TooManyEvents",
    "Unauthorized",
    "UnsupportedMediaType",
]


class IngestError(Exception):
    """A request the API refuses as a whole; ``code`` names the problem type."""

    code: str = "ingest_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class MalformedBody(IngestError):
    """The body is not well-formed JSON/NDJSON of the expected shape (400)."""

    code = "malformed_json"


class BodyTooLarge(IngestError):
    """The body is over the size cap after decompression (413)."""

    code = "body_too_large"


class TooManyEvents(IngestError):
    """The body holds more events than one request may carry (413)."""

    code = "too_many_events"


class UnsupportedMediaType(IngestError):
    """A content type or content encoding the API does not read (415)."""

    code = "unsupported_media_type"


class Unauthorized(IngestError):
    """No API key, or one that is unknown or revoked (401)."""

    code = "unauthorized"


class PlatformMismatch(IngestError):
    """An event names a platform other than the key's partner (403)."""

    code = "platform_mismatch"


class RateLimited(IngestError):
    """The partner is over its event rate (429)."""

    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class RequestTimeout(IngestError):
    """The body did not arrive within the body timeout (408)."""

    code = "request_timeout"


class ServiceUnavailable(IngestError):
    """A dependency is away for now and the same request can succeed later (503).

    Only its subclasses are answered with 503 and Retry-After; any other failure is a fault
    of ingest itself and answered 500, since retrying it would fail the same way.
    """

    code = "kafka_unavailable"


class KafkaNotAcknowledged(ServiceUnavailable):
    """Kafka did not acknowledge the events in time, or is unreachable (503)."""

    code = "kafka_unavailable"


class RegistryNotReady(ServiceUnavailable):
    """The partner registry has not been loaded yet (503)."""

    code = "not_ready"
