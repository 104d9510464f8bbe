"""One batch posted over httpx.MockTransport: gzip, outcomes, retries and refusals."""

from __future__ import annotations

import httpx
import orjson
import pytest

from livetally.client import ClientError
from tests.livetally.client.fakes import FakeIngest, make_client


def test_plain_json_when_gzip_is_off():
    fake = FakeIngest()
    client, _ = make_client(fake, gzip=False)
    client.post_batch([{"type": "join"}])
    assert "content-encoding" not in fake.requests[0].headers
    assert orjson.loads(fake.requests[0].content) == {"events": [{"type": "join"}]}


def test_all_rejected_problem_is_an_outcome_not_an_error():
    problem = {
        "type": "about:blank",
        "title": "Every event was rejected",
        "status": 422,
        "accepted": 0,
        "rejected": [{"index": 0, "code": "unknown_stream", "detail": "not registered"}],
    }
    fake = FakeIngest((422, problem, {}))
    client, _ = make_client(fake)
    result = client.post_batch([{"type": "join"}])
    assert result.accepted == 0 and result.rejected[0].code == "unknown_stream"


def test_429_and_503_are_retried_honouring_retry_after():
    fake = FakeIngest(
        (429, {"title": "Rate limit exceeded"}, {"Retry-After": "2"}),
        (503, {"title": "Events not stored"}, {}),
        None,
    )
    client, sleeps = make_client(fake)
    assert client.post_batch([{"a": 1}]).accepted == 1
    assert len(fake.requests) == 3
    assert sleeps[0] == 2.0  # the server's Retry-After, above the 0.25 s back-off
    assert 0.25 <= sleeps[1] <= 0.5  # second attempt's jittered back-off
    assert client.retries == 2


def test_network_errors_and_timeouts_are_retried():
    fake = FakeIngest(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), None)
    client, sleeps = make_client(fake)
    assert client.post_batch([{"a": 1}, {"b": 2}]).accepted == 2
    assert len(sleeps) == 2


def test_gives_up_after_max_retries():
    fake = FakeIngest(*[httpx.ConnectError("refused")] * 4)
    client, sleeps = make_client(fake, max_retries=3)
    with pytest.raises(ClientError, match="after 4 attempts.*ConnectError"):
        client.post_batch([{"a": 1}])
    assert len(sleeps) == 3


def _internal_error(error_id: str) -> tuple[int, dict, dict]:
    problem = {
        "title": "Internal error",
        "status": 500,
        "code": "internal_error",
        "detail": "the request failed unexpectedly",
        "error_id": error_id,
    }
    return (500, problem, {})


def test_a_500_is_retried_at_most_twice_then_raised_with_its_error_id():
    fake = FakeIngest(*[_internal_error(f"e{i}") for i in range(5)])
    client, sleeps = make_client(fake)  # max_retries=8: the 500 limit is what stops it
    with pytest.raises(ClientError, match=r"500.*Internal error.*error id e2") as info:
        client.post_batch([{"a": 1}])
    assert len(fake.requests) == 3
    assert len(sleeps) == 2 and client.retries == 2
    assert info.value.status == 500
    assert info.value.problem["error_id"] == "e2"


def test_a_500_that_goes_away_on_retry_is_an_outcome():
    fake = FakeIngest(_internal_error("e0"), None)
    client, sleeps = make_client(fake)
    assert client.post_batch([{"a": 1}]).accepted == 1
    assert len(sleeps) == 1


def test_503_429_and_network_errors_between_500s_do_not_earn_500s_more_retries():
    fake = FakeIngest(
        _internal_error("e0"),
        (503, {"title": "Events not stored"}, {}),
        httpx.ConnectError("refused"),
        _internal_error("e1"),
        (429, {"title": "Rate limit exceeded"}, {"Retry-After": "1"}),
        _internal_error("e2"),
        None,
    )
    client, sleeps = make_client(fake)
    with pytest.raises(ClientError, match="error id e2"):
        client.post_batch([{"a": 1}])
    assert len(fake.requests) == 6 and len(sleeps) == 5


@pytest.mark.parametrize("status", [503, 408])
def test_503_and_408_are_retried_up_to_max_retries(status):
    fake = FakeIngest(*[(status, {"title": "Not now"}, {})] * 6, None)
    client, sleeps = make_client(fake)
    assert client.post_batch([{"a": 1}]).accepted == 1
    assert len(sleeps) == 6


def test_other_4xx_raise_with_the_problem_document():
    problem = {"title": "Unauthorized", "detail": "the API key is unknown or revoked"}
    fake = FakeIngest((401, problem, {}))
    client, sleeps = make_client(fake)
    with pytest.raises(ClientError, match="401.*unknown or revoked") as info:
        client.post_batch([{"a": 1}])
    assert info.value.status == 401
    assert info.value.problem == problem
    assert sleeps == []
