"""Requests generated from the OpenAPI document (schemathesis), against the app in-process:
none yields a 5xx, and every error is an RFC 9457 problem document."""

from __future__ import annotations

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from contract.settings import KafkaSettings, Settings
from ingest.app import create_app
from ingest.config import IngestConfig

from .helpers import KEY, AcknowledgingSink, StaticRegistry, make_registry

# NDJSON bodies are covered by the hypothesis test of test_routes; schemathesis has no
# serializer for them and says so.
pytestmark = pytest.mark.filterwarnings("ignore:Skipped test cases with unsupported payload")

app = create_app(
    IngestConfig(shared=Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1"))),
    producer=AcknowledgingSink(),
    registry=StaticRegistry(make_registry()),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_fail_the_server(case):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {KEY}"}
    response = case.call()
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"][0] == "application/problem+json"
        doc = orjson.loads(response.content)
        assert doc["status"] == response.status_code and doc["code"] and doc["detail"]
