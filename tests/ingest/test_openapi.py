"""The OpenAPI ``Event`` component is the event schema's: generated from it, and it accepts
and refuses the same field values as the full check."""

from __future__ import annotations

import jsonschema
import msgspec
import pytest

from contract.settings import KafkaSettings, Settings
from contract.wire import WireEvent
from ingest.config import IngestConfig
from ingest.openapi import REJECTION_CODES, docs_html, event_schema, openapi_spec
from tests.contract.test_wire import BASE, LENIENT, schema_cases

CONFIG = IngestConfig(shared=Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1")))
SPEC = openapi_spec(CONFIG)
EVENT = SPEC["components"]["schemas"]["Event"]


def _without_prose(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "description"}


def test_the_event_component_is_generated_from_the_schema():
    generated = msgspec.json.schema(WireEvent)["$defs"]["WireEvent"]
    assert EVENT == event_schema()
    assert EVENT["required"] == generated["required"]
    assert EVENT["additionalProperties"] is False
    assert list(EVENT["properties"]) == list(generated["properties"])
    for name, schema in EVENT["properties"].items():
        assert schema["description"], name
        if name == "ts":  # the integer form, or an RFC 3339 string (the general path reads)
            assert schema["oneOf"] == [
                {"type": "string", "format": "date-time"},
                generated["properties"]["ts"],
            ]
        elif name == "type":
            assert _without_prose(schema) == {"type": "string", **generated["properties"][name]}
        else:
            assert _without_prose(schema) == generated["properties"][name]


@pytest.mark.parametrize(("field", "event", "fits"), schema_cases())
def test_the_event_component_refuses_what_the_schema_refuses(field, event, fits):
    valid = jsonschema.Draft202012Validator(EVENT).is_valid(event)
    if field in event and (field, event[field]) in LENIENT:
        assert not valid  # documented strictly; the full check reads it as absent
    elif field == "ts" and isinstance(event["ts"], str):
        assert valid  # a string is a date-time by format, which the full check parses
    else:
        assert valid is fits


def test_an_rfc_3339_ts_fits_the_event_component():
    validator = jsonschema.Draft202012Validator(EVENT)
    assert validator.is_valid({**BASE, "ts": "2024-12-21T19:30:00+08:00"})
    assert not validator.is_valid({**BASE, "ts": 1.5})


def test_the_documented_limits_are_the_declared_ones():
    assert (
        "(type, stream, ts; session_id for join/heartbeat/leave" in REJECTION_CODES["missing_field"]
    )
    assert REJECTION_CODES["ts_in_future"] == "ts is more than 5 minutes ahead of the server clock."
    assert REJECTION_CODES["ts_too_old"] == "ts is more than 24 hours old."
    assert (
        "At most 5 minutes ahead of and 24 hours behind" in EVENT["properties"]["ts"]["description"]
    )
    page = docs_html(SPEC)
    assert "string: count, heartbeat, join, leave" in page
    assert "string or integer" not in page and "date-time or integer" in page
