"""The HTTP layer on a stand-in sink: statuses, shapes, and no 500 for any body."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import logging
import re

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from contract.records import decode_batch
from ingest.app import create_app
from ingest.openapi import ROUTE_STATUSES

from .helpers import (
    KEY,
    REPORTS_KEY,
    REVOKED_KEY,
    AcknowledgingSink,
    StaticRegistry,
    auth,
    join,
    make_registry,
    now_ms,
)

JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def post(client, events=None, *, body=None, headers=None, path="/v1/events", key=KEY):
    data = orjson.dumps({"events": events}) if body is None else body
    return client.post(path, content=data, headers={**auth(key), **JSON, **(headers or {})})


def assert_declared(response, method: str, path: str) -> None:
    assert response.status_code in ROUTE_STATUSES[(method, path)]
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


def test_all_valid_events_are_202_and_reach_the_sink(client, sink):
    response = post(client, [join("a"), join("b")])
    assert (response.status_code, response.json()) == (202, {"accepted": 2})
    stored = [e for _, r in sink.sent for e in decode_batch(r.value).events]
    assert sorted(e["session_id"] for e in stored) == ["a", "b"]


def test_empty_batch_is_202_with_nothing_accepted(client, sink):
    assert post(client, []).json() == {"accepted": 0}
    assert sink.sent == []


def test_some_rejected_is_207_listing_them(client):
    response = post(client, [join("a"), {"type": "join"}, join("c", stream="nope")])
    assert response.status_code == 207
    assert response.json()["accepted"] == 1
    assert [(r["index"], r["code"]) for r in response.json()["rejected"]] == [
        (1, "missing_field"),
        (2, "unknown_stream"),
    ]


def test_all_rejected_is_a_422_problem_with_the_list(client, sink):
    response = post(client, [join("a", ts=now_ms() + 3_600_000)])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["rejected"][0]["code"] == "ts_in_future"
    assert sink.sent == []


def test_a_partner_limited_to_streams_may_post_only_to_them(config, sink):
    from contract.registry import Registry, Stream

    base = make_registry()
    limited = dataclasses.replace(base.partners["douyu"], streams=("encore",))
    registry = Registry.of(
        [*base.streams.values(), Stream("encore", "Encore"), limited, base.partners["cctv"]]
    )
    client = TestClient(create_app(config, producer=sink, registry=StaticRegistry(registry)))
    ok = post(client, [join("a", stream="encore"), join("b", stream="encore")])
    assert (ok.status_code, ok.json()) == (202, {"accepted": 2})  # the fast path
    mixed = post(client, [join("c", stream="encore"), join("d"), join("e", stream="nope")])
    assert mixed.status_code == 207
    assert [(r["index"], r["code"]) for r in mixed.json()["rejected"]] == [
        (1, "stream_not_allowed"),
        (2, "unknown_stream"),
    ]
    assert "may not post to stream 'carnival'" in mixed.json()["rejected"][0]["detail"]
    stored = [e["stream"] for _, r in sink.sent for e in decode_batch(r.value).events]
    assert stored == ["encore"] * 3
    # An unlimited partner still posts anywhere registered.
    count = {"type": "count", "stream": "carnival", "ts": now_ms(), "concurrent": 7}
    assert post(client, [count], key=REPORTS_KEY).status_code == 202


def test_reports_partner_sends_count_events(client):
    count = {"type": "count", "stream": "carnival", "ts": now_ms(), "concurrent": 7}
    assert post(client, [count], key=REPORTS_KEY).status_code == 202
    assert post(client, [join("a")], key=REPORTS_KEY).json()["rejected"][0]["code"] == "wrong_mode"


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": ""}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}],
)
def test_missing_or_unknown_keys_are_401(client, headers):
    response = client.post("/v1/events", content=b'{"events": []}', headers={**JSON, **headers})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_revoked_key_is_401(client):
    assert post(client, [], key=REVOKED_KEY).status_code == 401


def test_platform_of_another_partner_is_403_for_the_whole_request(client, sink):
    response = post(client, [join("a", platform="douyu"), join("b", platform="huya")])
    assert (response.status_code, response.json()["code"]) == (403, "platform_mismatch")
    assert sink.sent == []


def test_ndjson_and_gzip_bodies_are_read(client):
    lines = b"\n".join(orjson.dumps(join(s)) for s in "abc") + b"\n\n"
    response = post(
        client, body=gzip.compress(lines), headers={**NDJSON, "Content-Encoding": "gzip"}
    )
    assert response.json() == {"accepted": 3}


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{", {}, 400, "malformed_json"),
        (b'{"events": [], "events": []}', {}, 400, "duplicate_key"),
        (b'{"events": [{"ts": NaN}]}', {}, 400, "non_finite_number"),
        (b'{"events": ["\xff"]}', {}, 400, "not_utf8"),
        (b"x" * (1024 * 1024 + 1), {}, 413, "body_too_large"),
        (
            gzip.compress(b" " * (3 * 1024 * 1024)),
            {"Content-Encoding": "gzip"},
            413,
            "body_too_large",
        ),
        (orjson.dumps({"events": [{}] * 1001}), {}, 413, "too_many_events"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"{}", {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
        (b"{}", {"Content-Encoding": "gzip"}, 400, "bad_gzip"),
    ],
)
def test_bad_requests_get_their_status_and_code(client, body, headers, status, code):
    response = post(client, body=body, headers=headers)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert_declared(response, "post", "/v1/events")


@pytest.mark.parametrize("kind", ["json", "ndjson"])
def test_a_valid_looking_event_with_bytes_that_are_not_utf8_is_400_not_utf8(client, kind):
    event = orjson.dumps(join("s-1")).replace(b'"s-1"', b'"caf\xe9"')
    data = b'{"events": [' + event + b"]}" if kind == "json" else event + b"\n"
    headers = JSON if kind == "json" else NDJSON
    response = post(client, body=data, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "not_utf8")


def test_validate_checks_like_events_but_stores_nothing(client, sink):
    response = post(client, [join("a"), {"type": 1}], path="/v1/events/validate")
    assert response.status_code == 207
    assert response.json()["rejected"][0]["code"] == "missing_field"
    assert sink.sent == []


def test_over_the_rate_is_429_with_retry_after(config, sink):
    app = create_app(config, producer=sink, registry=StaticRegistry(make_registry(rate=10)))
    client = TestClient(app)
    assert post(client, [join(f"s{i}") for i in range(20)]).status_code == 202
    response = post(client, [join("x")])
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert_declared(response, "post", "/v1/events")


def test_kafka_not_acknowledging_is_503_with_retry_after(config):
    from ingest.exceptions import KafkaNotAcknowledged

    class Refusing:
        async def partitions(self, topic):
            return 4

        async def send(self, topic, records):
            raise KafkaNotAcknowledged("Kafka did not acknowledge within 5 s")

        async def ready(self, topic):
            return False

        async def close(self):
            return None

    client = TestClient(
        create_app(config, producer=Refusing(), registry=StaticRegistry(make_registry()))
    )
    response = post(client, [join("a")])
    assert (response.status_code, response.headers["Retry-After"]) == (503, "1")
    assert client.get("/readyz").status_code == 503


class Broken:
    """A sink with a bug: every call that stores events raises."""

    async def partitions(self, topic):
        raise RuntimeError("bug")

    async def send(self, topic, records):
        return None

    async def ready(self, topic):
        return True

    async def close(self):
        return None


def test_an_unexpected_failure_is_a_500_with_an_error_id_logged_with_its_traceback(config, caplog):
    client = TestClient(
        create_app(config, producer=Broken(), registry=StaticRegistry(make_registry()))
    )
    with caplog.at_level(logging.ERROR, logger="ingest.routes"):
        response = post(client, [join("a")])
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")
    assert response.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in response.headers
    error_id = response.json()["error_id"]
    assert re.fullmatch(r"[0-9a-f]{12}", error_id)
    assert error_id in response.json()["detail"]
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert "douyu" in record.getMessage()
    assert_declared(response, "post", "/v1/events")
    assert client.get("/v1/stats", headers=auth()).json()["unexpected_errors"] == 1


def test_each_unexpected_failure_gets_its_own_error_id(config):
    client = TestClient(
        create_app(config, producer=Broken(), registry=StaticRegistry(make_registry()))
    )
    ids = {post(client, [join("a")]).json()["error_id"] for _ in range(5)}
    assert len(ids) == 5


def test_readyz_turns_unready_past_the_unexpected_errors_per_minute(config):
    config = dataclasses.replace(config, max_errors_per_min=3)
    client = TestClient(
        create_app(config, producer=Broken(), registry=StaticRegistry(make_registry()))
    )
    for _ in range(3):
        assert post(client, [join("a")]).status_code == 500
    assert client.get("/readyz").status_code == 200  # three is not more than three
    assert post(client, [join("a")]).status_code == 500
    response = client.get("/readyz")
    assert (response.status_code, response.json()["code"]) == (503, "not_ready")
    assert "failed unexpectedly in the last minute" in response.json()["detail"]
    assert response.headers["retry-after"] == "1"


def test_a_failure_outside_the_endpoints_is_a_500_counted_like_the_others(config):
    app = create_app(config, producer=AcknowledgingSink(), registry=StaticRegistry(make_registry()))

    class BrokenMiddleware:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                raise RuntimeError("bug in a middleware")
            await self.app(scope, receive, send)

    app.add_middleware(BrokenMiddleware)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/healthz")
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")
    assert response.json()["error_id"]
    assert app.state.ingest.stats.unexpected_total == 1
    assert app.state.ingest.errors.count() == 1


def test_the_request_rate_is_checked_before_the_body_is_read(config, sink):
    config = dataclasses.replace(config, partner_requests_per_s=1)  # bursts of 2
    app = create_app(config, producer=sink, registry=StaticRegistry(make_registry()))
    client = TestClient(app)
    assert post(client, [join("a")]).status_code == 202
    assert post(client, [join("b")]).status_code == 202
    read = []

    def body():  # a body nobody must read
        read.append(True)
        yield orjson.dumps({"events": [join("c")]})

    response = client.post("/v1/events", content=body(), headers={**auth(), **JSON})
    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")
    assert "requests/s" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) >= 1
    assert read == []
    assert_declared(response, "post", "/v1/events")
    # validate has a request bucket of its own
    assert post(client, [join("d")], path="/v1/events/validate").status_code == 202


def test_a_partner_with_no_event_left_is_refused_before_the_body_is_read(config, sink):
    app = create_app(config, producer=sink, registry=StaticRegistry(make_registry(rate=10)))
    client = TestClient(app)
    assert post(client, [join(f"s{i}") for i in range(50)]).status_code == 202  # in debt now
    read = []

    def body():
        read.append(True)
        yield orjson.dumps({"events": [join("x")]})

    response = client.post("/v1/events", content=body(), headers={**auth(), **JSON})
    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")
    assert "events/s" in response.json()["detail"]
    assert read == []


async def test_a_body_slower_than_the_body_timeout_is_a_408_that_closes_the_connection(
    config, sink
):
    config = dataclasses.replace(config, body_timeout_s=0.2)
    app = create_app(config, producer=sink, registry=StaticRegistry(make_registry()))
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(3600)  # the rest of the body never comes

    async def send(message):
        sent.append(message)

    headers = [(b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/v1/events",
        "raw_path": b"/v1/events",
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "server": ("test", 80),
        "client": ("test", 1),
        "root_path": "",
        "app": app,
    }
    await asyncio.wait_for(app(scope, receive, send), 30)
    start = sent[0]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert orjson.loads(sent[1]["body"])["code"] == "request_timeout"


async def test_a_client_gone_mid_body_is_named_incomplete_body():
    from starlette.requests import ClientDisconnect, Request

    from ingest.routes import guarded

    async def endpoint(request: Request):
        raise ClientDisconnect()

    scope = {"type": "http", "method": "POST", "path": "/v1/events", "headers": []}
    response = await guarded(endpoint)(Request(scope))
    assert response.status_code == 400
    assert orjson.loads(response.body)["code"] == "incomplete_body"


def test_stats_count_accepted_and_rejected_per_code_for_the_callers_partner(client):
    post(client, [join("a"), {"type": "join"}, {"type": "join"}])
    stats = client.get("/v1/stats", headers=auth()).json()
    assert stats == {
        "partner": "douyu",
        "accepted": 1,
        "rejected": {"missing_field": 2},
        "rejected_total": 2,
        "unexpected_errors": 0,
    }
    assert client.get("/v1/stats", headers=auth(REPORTS_KEY)).json()["accepted"] == 0
    assert client.get("/v1/stats").status_code == 401


def test_health_ready_and_docs_routes(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/openapi.json").json()["openapi"] == "3.1.0"
    page = client.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text and "http" not in page.text.replace("http://127.0.0.1", "")


def test_unknown_path_and_wrong_method_are_problems(client):
    assert client.get("/v2/nothing").json()["code"] == "not_found"
    response = client.get("/v1/events")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")


event_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
raw_events = st.one_of(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "stream",
                "ts",
                "session_id",
                "viewer_id",
                "platform",
                "event_id",
                "concurrent",
                "cumulative",
                "uniques",
                "x",
            ]
        ),
        st.one_of(event_values, st.sampled_from(["join", "leave", "count", "carnival", "douyu"])),
        max_size=8,
    ),
    event_values,
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.lists(raw_events, max_size=8).map(lambda evs: orjson.dumps({"events": evs})),
    st.lists(raw_events, max_size=8).map(lambda evs: b"\n".join(orjson.dumps(e) for e in evs)),
    st.text(max_size=200).map(str.encode),
)
header_sets = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            [
                "application/json",
                "application/x-ndjson",
                "text/plain",
                "application/json; charset=x",
                "",
            ]
        ),
        "Content-Encoding": st.sampled_from(["gzip", "identity", "br", ""]),
        "Authorization": st.sampled_from([f"Bearer {KEY}", "Bearer wrong", "", "Bearer"]),
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=bodies,
    headers=header_sets,
    gzipped=st.booleans(),
    path=st.sampled_from(["/v1/events", "/v1/events/validate"]),
)
def test_no_body_or_header_combination_yields_a_500(client, body, headers, gzipped, path):
    if gzipped:
        body = gzip.compress(body)
    response = client.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text  # the catch-all must never trigger
    assert_declared(response, "post", path)
