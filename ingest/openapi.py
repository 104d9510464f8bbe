"""The OpenAPI 3.1 description of the ingest API and the /docs page made from it.

The ``Event`` component is generated from the event schema (``contract.wire``); only the
prose and what the schema cannot state (a ``ts`` may also be an RFC 3339 string) is added.
"""

from __future__ import annotations

import html
from typing import Any, get_args

import msgspec

from contract.events import REQUIRED_FIELDS, RejectionCode
from contract.wire import MAX_FUTURE_MS, MAX_PAST_MS, SessionType, WireEvent
from ingest.config import IngestConfig
from ingest.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES, problem_type_uri

__all__ = ["REJECTION_CODES", "ROUTE_STATUSES", "docs_html", "event_schema", "openapi_spec"]

_SESSION_TYPES = "/".join(get_args(SessionType))
_WINDOW_FUTURE = f"{MAX_FUTURE_MS // 60_000} minutes"
_WINDOW_PAST = f"{MAX_PAST_MS // 3_600_000} hours"

REJECTION_CODES: dict[str, str] = {
    "not_an_object": "The event is not a JSON object.",
    "missing_field": f"A required field is missing ({', '.join(REQUIRED_FIELDS)}; session_id "
    f"for {_SESSION_TYPES}; concurrent for count).",
    "unknown_field": "The event has a field the contract does not define.",
    "bad_type": "A field has the wrong JSON type (e.g. a number where a string is needed).",
    "bad_value": "A field has the right type but a value out of range or badly formed.",
    "ts_in_future": f"ts is more than {_WINDOW_FUTURE} ahead of the server clock.",
    "ts_too_old": f"ts is more than {_WINDOW_PAST} old.",
    "unknown_stream": "stream names no registered stream.",
    "stream_not_allowed": "this partner is limited to other streams (partner add --streams).",
    "wrong_mode": f"The event type does not fit the partner's mode (sessions: {_SESSION_TYPES}; "
    "reports: count).",
}
assert set(REJECTION_CODES) == set(get_args(RejectionCode))  # noqa: S101 - kept in step

_FIELD_TEXT: dict[str, str] = {
    "type": f"{_SESSION_TYPES} for partners in sessions mode; count in reports mode. Required.",
    "stream": "Id of a registered stream. Required.",
    "ts": "When it happened: RFC 3339 with offset (2024-12-21T19:30:00+08:00) or epoch "
    f"milliseconds. At most {_WINDOW_FUTURE} ahead of and {_WINDOW_PAST} behind the server "
    "clock. Required.",
    "session_id": f"One viewing session (printable). Required for {_SESSION_TYPES}.",
    "viewer_id": "Stable viewer identity for uniques (printable); defaults to session_id.",
    "event_id": "Optional id of your own, for tracing.",
    "concurrent": "Viewers watching now. Required for count.",
    "cumulative": "Views so far (count events).",
    "uniques": "Unique viewers so far (count events).",
    "platform": "Optional; if present it must equal your partner id, else the whole request "
    "is 403.",
}
"""What each field of the schema means to a partner (every field, in no other order)."""


def event_schema() -> dict[str, Any]:
    """The ``Event`` component: ``WireEvent``'s JSON Schema, with the prose for partners.

    The schema's ``ts`` is the integer form; the API also takes an RFC 3339 string, which
    the general path converts (``contract.events.parse_ts``).
    """
    generated = msgspec.json.schema(WireEvent)
    event: dict[str, Any] = generated["$defs"][WireEvent.__name__]
    properties: dict[str, dict[str, Any]] = event["properties"]
    if set(properties) != set(_FIELD_TEXT):
        raise ValueError(f"describe exactly the schema's fields: {sorted(properties)}")
    properties["type"] = {"type": "string", **properties["type"]}
    properties["ts"] = {"oneOf": [{"type": "string", "format": "date-time"}, properties["ts"]]}
    return {
        "type": "object",
        "required": event["required"],
        "additionalProperties": event["additionalProperties"],
        "properties": {
            name: {**schema, "description": _FIELD_TEXT[name]}
            for name, schema in properties.items()
        },
    }


_INGEST_STATUSES = (202, 207, 400, 401, 403, 408, 413, 415, 422, 429, 500, 503)
ROUTE_STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/events"): _INGEST_STATUSES,
    ("post", "/v1/events/validate"): _INGEST_STATUSES,
    ("get", "/v1/stats"): (200, 401, 500, 503),
    ("get", "/healthz"): (200, 500),
    ("get", "/readyz"): (200, 500, 503),
    ("get", "/openapi.json"): (200, 500),
    ("get", "/docs"): (200, 500),
}
"""Every status each route can answer (besides 404/405 from routing)."""

_STATUS_TEXT = {
    200: "OK.",
    202: "Every event was accepted (and, for /v1/events, acknowledged by Kafka).",
    207: "Some events were accepted (and stored), the others are listed in rejected.",
    400: "The body is malformed: not JSON/NDJSON, not UTF-8, duplicate keys, NaN/Infinity, "
    "broken gzip, or the wrong shape.",
    401: "The API key is missing, unknown or revoked.",
    403: "An event's platform is not the API key's partner; nothing was accepted.",
    408: "The body did not arrive within the body timeout (headers that arrive too slowly "
    "get the same answer on any path); the connection is closed. Retrying is safe.",
    413: "Over 1 MiB after decompression, or over 1000 events.",
    415: "Unsupported Content-Type or Content-Encoding.",
    422: "Every event was rejected; see rejected.",
    429: "Over the partner's request rate or event rate (checked before the body is read); "
    "wait Retry-After seconds.",
    500: "A fault in the service, logged under the problem's error_id; retrying is likely to "
    "fail the same way (retry at most twice).",
    503: "Kafka did not acknowledge in time, or the service is not ready; wait Retry-After "
    "seconds and retry.",
}


def _problem_codes(status: int) -> list[str]:
    return [code for code, kind in PROBLEM_TYPES.items() if kind.status == status]


def _problem_response(status: int) -> dict[str, Any]:
    codes = _problem_codes(status)
    schema: dict[str, Any] = {"$ref": "#/components/schemas/Problem"}
    if status == 422:
        schema = {"$ref": "#/components/schemas/RejectedProblem"}
    out: dict[str, Any] = {
        "description": f"{_STATUS_TEXT[status]} Problem codes: {', '.join(codes)}.",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
    }
    if status in (429, 503):
        out["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    if status == 401:
        out["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return out


def _responses(method: str, path: str, ok: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in ROUTE_STATUSES[(method, path)]:
        if status < 300:
            out[str(status)] = ok[str(status)]
        else:
            out[str(status)] = _problem_response(status)
    out["default"] = {
        "description": "404/405 from routing and 408 when headers arrive too slowly, as "
        "problem documents; 503 in plain text when the process is at its connection limit.",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    return out


def _ingest_operation(summary: str, description: str, path: str, op_id: str) -> dict[str, Any]:
    ok = {
        "202": {
            "description": _STATUS_TEXT[202],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
        },
        "207": {
            "description": _STATUS_TEXT[207],
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/PartlyAccepted"}}
            },
        },
    }
    return {
        "operationId": op_id,
        "summary": summary,
        "description": description,
        "security": [{"apiKey": []}],
        "parameters": [
            {
                "name": "Content-Encoding",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "enum": ["gzip", "identity"]},
                "description": "gzip bodies are inflated incrementally; the 1 MiB cap applies "
                "after decompression.",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}},
                "application/x-ndjson": {
                    "schema": {"type": "string"},
                    "description": "One event object per line; blank lines are ignored.",
                },
            },
        },
        "responses": _responses("post", path, ok),
    }


def _json_ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_spec(config: IngestConfig) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the ingest API."""
    rejected_item = {
        "type": "object",
        "required": ["index", "code", "detail"],
        "properties": {
            "index": {"type": "integer", "description": "Position of the event in the request."},
            "code": {"type": "string", "enum": list(REJECTION_CODES)},
            "detail": {"type": "string"},
        },
    }
    problem = {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": list(PROBLEM_TYPES)},
            "retry_after": {"type": "integer", "description": "Seconds, as in Retry-After."},
            "error_id": {
                "type": "string",
                "description": "internal_error only: the id the failure is logged under.",
            },
        },
    }
    write_description = (
        "Validates every event and stores the accepted ones. 202/207 are sent only after "
        "Kafka acknowledged every accepted event; on 503 or a timeout nothing is lost by "
        "retrying the same request (counting is duplicate-proof). An empty events list is "
        f'202 {{"accepted": 0}}. At most {config.max_events} events and '
        f"{config.max_body_bytes} bytes (after gzip) per request. Each event costs one token "
        "of the partner's rate limit (rate events/s, burst 2 x rate), and each request one "
        f"token of its request limit ({config.partner_requests_per_s:g} requests/s, burst "
        f"{config.default_burst_factor:g} x that), checked before the body is read. The body "
        f"must arrive within {config.body_timeout_s:g} s (408 otherwise)."
    )
    validate_description = (
        "Same input, same checks and same response shapes as POST /v1/events, but nothing is "
        "stored. Rate-limited with its own bucket of the same size."
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "livetally ingest API",
            "version": "1.0.0",
            "description": "Partners post viewer events (join/heartbeat/leave, or their own "
            "counts) for live streams. Errors are RFC 9457 application/problem+json.",
        },
        "servers": [{"url": config.base_url}],
        "paths": {
            "/v1/events": {
                "post": _ingest_operation(
                    "Post viewer events", write_description, "/v1/events", "postEvents"
                )
            },
            "/v1/events/validate": {
                "post": _ingest_operation(
                    "Validate events without storing them",
                    validate_description,
                    "/v1/events/validate",
                    "validateEvents",
                )
            },
            "/v1/stats": {
                "get": {
                    "operationId": "getStats",
                    "summary": "Your accepted and rejected event counts since the process started",
                    "security": [{"apiKey": []}],
                    "responses": _responses(
                        "get",
                        "/v1/stats",
                        {"200": _json_ok("Counts.", {"$ref": "#/components/schemas/Stats"})},
                    ),
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "The process is alive",
                    "responses": _responses(
                        "get",
                        "/healthz",
                        {"200": _json_ok("Alive.", {"$ref": "#/components/schemas/Status"})},
                    ),
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "200 only while Kafka accepts writes and unexpected errors are rare",
                    "responses": _responses(
                        "get",
                        "/readyz",
                        {"200": _json_ok("Ready.", {"$ref": "#/components/schemas/Status"})},
                    ),
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": _responses(
                        "get",
                        "/openapi.json",
                        {"200": _json_ok("OpenAPI 3.1.", {"type": "object"})},
                    ),
                }
            },
            "/docs": {
                "get": {
                    "operationId": "docs",
                    "summary": "Human-readable reference",
                    "responses": _responses(
                        "get",
                        "/docs",
                        {
                            "200": {
                                "description": "HTML.",
                                "content": {"text/html": {"schema": {"type": "string"}}},
                            }
                        },
                    ),
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Your partner API key: Authorization: Bearer <key>.",
                }
            },
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
            "schemas": {
                "Event": event_schema(),
                "EventBatch": {
                    "type": "object",
                    "required": ["events"],
                    "additionalProperties": False,
                    "properties": {
                        "events": {
                            "type": "array",
                            "maxItems": config.max_events,
                            "items": {"$ref": "#/components/schemas/Event"},
                        }
                    },
                },
                "Accepted": {
                    "type": "object",
                    "required": ["accepted"],
                    "properties": {"accepted": {"type": "integer", "minimum": 0}},
                },
                "PartlyAccepted": {
                    "type": "object",
                    "required": ["accepted", "rejected"],
                    "properties": {
                        "accepted": {"type": "integer", "minimum": 1},
                        "rejected": {"type": "array", "items": rejected_item},
                    },
                },
                "Problem": problem,
                "RejectedProblem": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Problem"},
                        {
                            "type": "object",
                            "required": ["rejected"],
                            "properties": {"rejected": {"type": "array", "items": rejected_item}},
                        },
                    ]
                },
                "Stats": {
                    "type": "object",
                    "properties": {
                        "partner": {"type": "string"},
                        "accepted": {"type": "integer"},
                        "rejected": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "rejected_total": {"type": "integer"},
                        "unexpected_errors": {
                            "type": "integer",
                            "description": "Your requests answered 500.",
                        },
                    },
                },
                "Status": {
                    "type": "object",
                    "properties": {"status": {"type": "string"}},
                },
            },
        },
        "x-problem-types": {
            code: {
                "type": problem_type_uri(code),
                "status": kind.status,
                "title": kind.title,
                "description": kind.description,
            }
            for code, kind in PROBLEM_TYPES.items()
        },
        "x-rejection-codes": REJECTION_CODES,
    }


_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1d2330;line-height:1.45}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
td,th{border:1px solid #dde;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f8}code{background:#f2f4f8;padding:0 .2rem;border-radius:3px}
.m{font-weight:bold;color:#fff;border-radius:3px;padding:0 .4rem}
.post{background:#2a7d4f}.get{background:#2a5d9f}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def docs_html(spec: dict[str, Any]) -> str:
    """A self-contained HTML page (no scripts, no CDN) rendering the spec."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(spec['info']['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(spec['info']['title'])} {_e(spec['info']['version'])}</h1>",
        f"<p>{_e(spec['info']['description'])}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI 3.1).</p>",
        "<h2 id='endpoints'>Endpoints</h2>",
    ]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            parts.append(
                f"<h3 id='{_e(op['operationId'])}'>"
                f"<span class='m {method}'>{method.upper()}</span> "
                f"<code>{_e(path)}</code> {_e(op['summary'])}</h3>"
            )
            if "description" in op:
                parts.append(f"<p>{_e(op['description'])}</p>")
            if "security" in op:
                parts.append("<p>Needs <code>Authorization: Bearer &lt;API key&gt;</code>.</p>")
            parts.append("<table><tr><th>Status</th><th>Meaning</th></tr>")
            for status, response in op["responses"].items():
                parts.append(
                    f"<tr><td>{_e(status)}</td><td>{_e(response['description'])}</td></tr>"
                )
            parts.append("</table>")
    parts.append(
        "<h2 id='event'>Event fields</h2><table><tr><th>Field</th><th>Type</th>"
        "<th>Meaning</th></tr>"
    )
    for name, schema in spec["components"]["schemas"]["Event"]["properties"].items():
        kind = schema.get("type") or " or ".join(
            s.get("format", s["type"]) for s in schema["oneOf"]
        )
        if "enum" in schema:
            kind = f"{kind}: {', '.join(schema['enum'])}"
        parts.append(
            f"<tr><td><code>{_e(name)}</code></td><td>{_e(kind)}</td>"
            f"<td>{_e(schema['description'])}</td></tr>"
        )
    parts.append(
        "</table><h2 id='rejections'>Rejection codes (per event)</h2>"
        "<table><tr><th>Code</th><th>Meaning</th></tr>"
    )
    for code, text in spec["x-rejection-codes"].items():
        parts.append(
            f"<tr><td id='rejection-{_e(code)}'><code>{_e(code)}</code></td>"
            f"<td>{_e(text)}</td></tr>"
        )
    parts.append(
        "</table><h2 id='problems'>Problem types (whole request)</h2>"
        "<p>Error bodies are <code>application/problem+json</code> with "
        "<code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code> "
        "and <code>code</code>.</p><table><tr><th>Code</th><th>Status</th><th>Title</th>"
        "<th>Meaning</th></tr>"
    )
    for code, kind in spec["x-problem-types"].items():
        parts.append(
            f"<tr id='problem-{_e(code)}'><td><code>{_e(code)}</code></td><td>{kind['status']}</td>"
            f"<td>{_e(kind['title'])}</td><td>{_e(kind['description'])}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)
