"""Bad input at the running ingest API: schemathesis fuzzing from /openapi.json and explicit
hostile bodies. Never a 5xx; every error is ``application/problem+json``."""

from __future__ import annotations

import gzip
import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.reliability.conftest import RStack

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

STREAM = "rel-fuzz"
PROBLEM = "application/problem+json"


def _assert_clean(response: Any, what: str) -> None:
    status = response.status_code
    assert status < 500 or status == 503, f"{what}: {status} {response.text[:300]}"
    if status >= 400:
        ctype = response.headers.get("content-type", "")
        if isinstance(ctype, list):  # schemathesis' responses keep every value of a header
            ctype = ctype[0] if ctype else ""
        assert ctype.startswith(PROBLEM), f"{what}: {status} with {ctype!r}"
        doc = response.json() if callable(response.json) else response.json
        assert doc["status"] == status and doc["title"] and doc["detail"], doc


def test_schemathesis_never_a_5xx(rel: RStack) -> None:
    """Every operation of the live /openapi.json, fuzzed with a valid partner key."""
    schema = schemathesis.openapi.from_url(rel.stack.ingest_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/events", "/v1/events/validate"}
    key = rel.keys.partners["p11"]
    calls: dict[str, int] = {}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def fuzz(case: Any) -> None:
            label = case.operation.label
            headers = dict(case.headers or {})
            headers.setdefault("Authorization", f"Bearer {key}")
            response = case.call(headers=headers, timeout=30)
            calls[label] = calls.get(label, 0) + 1
            _assert_clean(response, f"{label}: {case.body!r:.200}")

        fuzz()
    assert all(n >= 1 for n in calls.values()) and len(calls) == len(operations), calls
    print(f"schemathesis: {sum(calls.values())} calls over {len(calls)} operations, no 5xx")


def _post(rel: RStack, body: bytes, **headers: str) -> httpx.Response:
    hdrs = {"Authorization": f"Bearer {rel.keys.partners['p11']}"}
    hdrs.setdefault("Content-Type", "application/json")
    hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
    return httpx.post(f"{rel.stack.ingest_url}/v1/events", content=body, headers=hdrs, timeout=60)


def _event(**extra: object) -> str:
    ts = int(time.time() * 1000) - 60_000
    fields = {"type": "join", "stream": STREAM, "ts": ts, "session_id": "s1", **extra}
    return "{" + ",".join(f'"{k}":{_lit(v)}' for k, v in fields.items()) + "}"


def _lit(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


CASES: dict[str, tuple[bytes, dict[str, str], int]] = {
    "over the body limit": (b'{"events": [' + b" " * (2 * 1024 * 1024) + b"]}", {}, 413),
    "over the event limit": (
        ('{"events": [' + ",".join([_event()] * 1001) + "]}").encode(),
        {},
        413,
    ),
    "100,000 nested arrays": (b"[" * 100_000 + b"]" * 100_000, {}, 400),
    "100,000 nested objects": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, {}, 400),
    "NaN": (
        ('{"events": [' + _event(concurrent="NaN").replace('"NaN"', "NaN") + "]}").encode(),
        {},
        400,
    ),  # fmt: skip
    "Infinity": (
        ('{"events": [' + _event(x="I").replace('"I"', "Infinity") + "]}").encode(),
        {},
        400,
    ),  # fmt: skip
    "-Infinity": (
        ('{"events": [' + _event(x="I").replace('"I"', "-Infinity") + "]}").encode(),
        {},
        400,
    ),  # fmt: skip
    "invalid UTF-8": (b'{"events": [{"type": "join", "stream": "\xff\xfe"}]}', {}, 400),
    "lone surrogate": (b'{"events": [{"type": "join", "stream": "\\ud800"}]}', {}, 400),
    "duplicate keys": (('{"events": [' + _event()[:-1] + ',"type":"leave"}]}').encode(), {}, 400),
    "duplicate top-level keys": (b'{"events": [], "events": []}', {}, 400),
    "text/plain": (b'{"events": []}', {"Content-Type": "text/plain"}, 415),
    "form": (b"events=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    "latin-1 charset": (
        b'{"events": []}',
        {"Content-Type": "application/json; charset=latin-1"},
        415,
    ),  # fmt: skip
    "brotli": (b'{"events": []}', {"Content-Encoding": "br"}, 415),
    "gzip bomb": (
        gzip.compress(b'{"events": [' + b" " * (200 * 1024 * 1024) + b"]}", 9),
        {"Content-Encoding": "gzip"},
        413,
    ),
    "broken gzip": (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400),
    "empty body": (b"", {}, 400),
    "not an object": (b"42", {}, 400),
    "events not a list": (b'{"events": {"a": 1}}', {}, 400),
    "huge number": (('{"events": [' + _event(concurrent=10**400) + "]}").encode(), {}, 400),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_bodies_get_a_specific_problem(rel: RStack, name: str) -> None:
    body, headers, status = CASES[name]
    response = _post(rel, body, **headers)
    _assert_clean(response, name)
    assert response.status_code in (status, 422), f"{name}: {response.status_code} {response.text}"
