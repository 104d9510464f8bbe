"""The ingest error tree: a detail, a problem code that a raise may narrow, and Retry-After."""

from __future__ import annotations

import pytest

import ingest.exceptions as exceptions
from ingest.exceptions import (
    IngestError,
    KafkaNotAcknowledged,
    MalformedBody,
    RateLimited,
    RegistryNotReady,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from ingest.problems import PROBLEM_TYPES

ERRORS = [getattr(exceptions, name) for name in exceptions.__all__]
RAISED = [cls for cls in ERRORS if cls is not IngestError]


def test_the_detail_is_the_message():
    error = MalformedBody("line 3 is not JSON")
    assert error.detail == str(error) == "line 3 is not JSON"


def test_a_code_given_at_the_raise_replaces_the_class_code_for_that_error_only():
    narrowed = UnsupportedMediaType("br", code="unsupported_encoding")
    assert narrowed.code == "unsupported_encoding"
    assert UnsupportedMediaType("text/csv").code == "unsupported_media_type"
    assert UnsupportedMediaType.code == "unsupported_media_type"


def test_rate_limited_carries_its_retry_after_and_its_code():
    error = RateLimited("over 100 events/s", retry_after_s=3)
    assert (error.retry_after_s, error.code, error.detail) == (
        3,
        "rate_limited",
        "over 100 events/s",
    )


def test_rate_limited_needs_its_retry_after():
    with pytest.raises(TypeError):
        RateLimited("over 100 events/s")  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", RAISED, ids=lambda cls: cls.__name__)
def test_every_error_s_code_is_a_problem_type_with_a_status(cls):
    assert issubclass(cls, IngestError)
    assert cls.code in PROBLEM_TYPES


@pytest.mark.parametrize("cls", [KafkaNotAcknowledged, RegistryNotReady])
def test_the_retryable_errors_are_service_unavailable(cls):
    assert issubclass(cls, ServiceUnavailable)
    assert PROBLEM_TYPES[cls.code].status == 503


@pytest.mark.parametrize(
    "cls",
    [cls for cls in RAISED if not issubclass(cls, ServiceUnavailable)],
    ids=lambda cls: cls.__name__,
)
def test_a_refusal_of_the_request_itself_is_not_retryable(cls):
    assert PROBLEM_TYPES[cls.code].status < 500
