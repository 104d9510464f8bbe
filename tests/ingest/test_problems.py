"""Problem documents (RFC 9457) and their mapping from errors."""

from __future__ import annotations

import orjson
import pytest

from ingest.exceptions import (
    BodyTooLarge,
    IngestError,
    KafkaNotAcknowledged,
    MalformedBody,
    PlatformMismatch,
    RateLimited,
    RegistryNotReady,
    RequestTimeout,
    TooManyEvents,
    Unauthorized,
    UnsupportedMediaType,
)
from ingest.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES, problem_document, problem_for_error


@pytest.mark.parametrize("code", sorted(PROBLEM_TYPES))
def test_every_problem_document_has_the_standard_members(code):
    doc = problem_document(code, "why", extra=1)
    assert doc["type"] == f"/docs#problem-{code}"
    assert doc["status"] == PROBLEM_TYPES[code].status
    assert doc["title"] == PROBLEM_TYPES[code].title
    assert (doc["detail"], doc["code"], doc["extra"]) == ("why", code, 1)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (MalformedBody("x"), 400),
        (MalformedBody("x", code="duplicate_key"), 400),
        (Unauthorized("x"), 401),
        (PlatformMismatch("x"), 403),
        (BodyTooLarge("x"), 413),
        (TooManyEvents("x"), 413),
        (UnsupportedMediaType("x"), 415),
        (UnsupportedMediaType("x", code="unsupported_encoding"), 415),
        (RateLimited("x", retry_after_s=3), 429),
        (RequestTimeout("x"), 408),
        (KafkaNotAcknowledged("x"), 503),
        (RegistryNotReady("x"), 503),
    ],
)
def test_errors_map_to_their_status_as_problem_json(error: IngestError, status):
    response = problem_for_error(error)
    assert response.status_code == status
    assert response.media_type == PROBLEM_MEDIA_TYPE
    assert orjson.loads(response.body)["status"] == status


def test_rate_limited_and_unavailable_carry_retry_after():
    assert problem_for_error(RateLimited("x", retry_after_s=3)).headers["retry-after"] == "3"
    assert problem_for_error(KafkaNotAcknowledged("x")).headers["retry-after"] == "1"


def test_unauthorized_names_the_bearer_scheme():
    assert problem_for_error(Unauthorized("x")).headers["www-authenticate"].startswith("Bearer")


def test_only_unavailability_is_503_and_the_catch_all_is_500():
    assert [c for c, k in PROBLEM_TYPES.items() if k.status == 503] == [
        "kafka_unavailable",
        "not_ready",
    ]
    assert PROBLEM_TYPES["internal_error"].status == 500
    assert problem_for_error(RegistryNotReady("x")).headers["retry-after"] == "1"


def test_a_request_timeout_closes_the_connection():
    response = problem_for_error(RequestTimeout("x"))
    assert response.headers["connection"] == "close"
    assert "retry-after" not in response.headers
