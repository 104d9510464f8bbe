"""RFC 9457 problem documents: every problem type the API answers with, and building them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

from ingest.exceptions import IngestError, RateLimited, RequestTimeout, ServiceUnavailable

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPES",
    "ProblemType",
    "problem_document",
    "problem_for_error",
    "problem_response",
    "problem_type_uri",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its status, a fixed title, and when it happens."""

    status: int
    title: str
    description: str


PROBLEM_TYPES: Mapping[str, ProblemType] = {
    "malformed_json": ProblemType(400, "Malformed JSON", "The body is not valid JSON."),
    "malformed_ndjson": ProblemType(
        400, "Malformed NDJSON", "A line of the NDJSON body is not valid JSON."
    ),
    "not_utf8": ProblemType(400, "Body is not UTF-8", "The body is not valid UTF-8 text."),
    "duplicate_key": ProblemType(
        400, "Duplicate key", "A JSON object in the body names the same member twice."
    ),
    "non_finite_number": ProblemType(
        400, "Non-finite number", "The body contains NaN or Infinity, which JSON does not allow."
    ),
    "bad_body_shape": ProblemType(
        400,
        "Body has the wrong shape",
        'A JSON body must be an object with exactly one member, "events", holding a list.',
    ),
    "incomplete_body": ProblemType(
        400,
        "Incomplete body",
        "The connection closed before the whole body arrived; nothing was accepted.",
    ),
    "bad_gzip": ProblemType(
        400, "Broken gzip data", "The body is declared gzip but does not decompress."
    ),
    "unauthorized": ProblemType(
        401,
        "Missing or invalid API key",
        "Send your partner API key as 'Authorization: Bearer <key>'; it is missing, "
        "unknown or revoked.",
    ),
    "platform_mismatch": ProblemType(
        403,
        "Platform does not match the API key",
        "An event's platform field names a partner other than the one the key belongs to; "
        "nothing in the request was accepted.",
    ),
    "not_found": ProblemType(404, "Not found", "There is no such path."),
    "request_timeout": ProblemType(
        408,
        "Request too slow",
        "The request's headers or body did not arrive in time; the connection is closed and "
        "nothing was accepted. Retrying is safe.",
    ),
    "headers_too_large": ProblemType(
        431,
        "Request headers too large",
        "The request line and headers together exceed 16 KiB; the connection is closed and "
        "nothing was accepted.",
    ),
    "method_not_allowed": ProblemType(
        405, "Method not allowed", "The path exists but not with this method."
    ),
    "body_too_large": ProblemType(
        413, "Body too large", "The body is over 1 MiB (after gzip decompression)."
    ),
    "too_many_events": ProblemType(
        413, "Too many events", "The body holds more than 1000 events; split it."
    ),
    "unsupported_media_type": ProblemType(
        415,
        "Unsupported content type",
        "Content-Type must be application/json or application/x-ndjson (charset utf-8).",
    ),
    "unsupported_encoding": ProblemType(
        415, "Unsupported content encoding", "Content-Encoding must be gzip or identity."
    ),
    "all_rejected": ProblemType(
        422,
        "Every event was rejected",
        "No event in the request passed validation; see the rejected list.",
    ),
    "rate_limited": ProblemType(
        429,
        "Rate limit exceeded",
        "The partner is over its event rate or its request rate; retry after Retry-After "
        "seconds (safe).",
    ),
    "kafka_unavailable": ProblemType(
        503,
        "Events not stored",
        "Kafka did not acknowledge the events in time; retry after Retry-After seconds "
        "(safe: counting is duplicate-proof).",
    ),
    "not_ready": ProblemType(
        503,
        "Not ready",
        "The partner registry is still loading or Kafka does not accept writes (for /readyz "
        "also: too many unexpected errors in the last minute); retry after Retry-After seconds.",
    ),
    "internal_error": ProblemType(
        500,
        "Internal error",
        "A fault in the service, logged under error_id. The same request is likely to fail "
        "the same way: retry at most twice, then report the error_id.",
    ),
}


def problem_type_uri(code: str) -> str:
    """The ``type`` of a problem: a link to its entry on the API's docs page."""
    return f"/docs#problem-{code}"


def problem_document(code: str, detail: str, **extensions: Any) -> dict[str, Any]:
    """The RFC 9457 body for a problem code, with extension members after the standard ones."""
    kind = PROBLEM_TYPES[code]
    return {
        "type": problem_type_uri(code),
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        "code": code,
        **extensions,
    }


def problem_response(
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An ``application/problem+json`` response for a problem code."""
    doc = problem_document(code, detail, **extensions)
    return Response(
        orjson.dumps(doc),
        status_code=doc["status"],
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def problem_for_error(error: IngestError) -> Response:
    """The response for a refused request."""
    headers: dict[str, str] = {}
    extensions: dict[str, Any] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
        extensions["retry_after"] = error.retry_after_s
    if isinstance(error, RequestTimeout):
        headers["Connection"] = "close"  # the rest of a slow body is not worth waiting for
    if error.code == "unauthorized":
        headers["WWW-Authenticate"] = 'Bearer realm="livetally"'
    if isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = "1"
        extensions["retry_after"] = 1
    return problem_response(error.code, error.detail, headers=headers, **extensions)
