"""The HTTP endpoints of the ingest API and the state they share."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from contract.registry import Partner, Registry
from ingest.auth import authenticate
from ingest.body import BodyReader, body_kind, is_gzip
from ingest.config import IngestConfig
from ingest.exceptions import BodyTooLarge, IngestError, KafkaNotAcknowledged, RateLimited
from ingest.fastpath import accept_whole
from ingest.packing import OutRecord, pack_events, pack_wire_events
from ingest.problems import problem_for_error, problem_response
from ingest.producer import EventSink
from ingest.ratelimit import RateLimiter
from ingest.stats import IngestStats
from ingest.validation import (
    RejectedEvent,
    check_platform,
    parse_json_events,
    parse_ndjson_events,
    validate_events,
)

__all__ = ["IngestState", "RegistrySource", "guarded", "routes"]

logger = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


class RegistrySource(Protocol):
    """Anything holding the current registry snapshot (a ``RegistryFollower``)."""

    @property
    def snapshot(self) -> Registry:
        """The latest registry."""
        ...


@dataclass
class IngestState:
    """What the endpoints share; built by ``create_app``."""

    config: IngestConfig
    producer: EventSink
    registry: RegistrySource
    topic: str
    registry_ready: Callable[[], bool] = lambda: True
    limiter: RateLimiter = field(default_factory=RateLimiter)
    stats: IngestStats = field(default_factory=IngestStats)
    spec: dict[str, Any] = field(default_factory=dict)
    spec_json: bytes = b""
    docs_html: str = ""


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _state(request: Request) -> IngestState:
    state: IngestState = request.app.state.ingest
    return state


def guarded(endpoint: Endpoint) -> Endpoint:
    """Turn any unexpected exception into a logged 503 problem instead of a 500."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ClientDisconnect:
            # Nobody reads this answer; the code keeps the access log and metrics honest.
            return problem_response("incomplete_body", "the client disconnected mid-body")
        except Exception:
            logger.exception("unexpected failure on %s %s", request.method, request.url.path)
            return problem_response(
                "internal_error",
                "the request failed unexpectedly; it was logged, and retrying is safe",
                headers={"Retry-After": "1"},
                retry_after=1,
            )

    return run


def _partner(request: Request, state: IngestState) -> Partner:
    try:
        return authenticate(state.registry.snapshot, request.headers.get("authorization"))
    except IngestError:
        if not state.registry_ready():
            raise KafkaNotAcknowledged(
                "the partner registry is still loading", code="not_ready"
            ) from None
        raise


async def _read_body(request: Request, max_bytes: int, *, gzip: bool) -> bytes:
    declared = request.headers.get("content-length", "")
    limit = max_bytes * 2 if gzip else max_bytes
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is over {max_bytes} bytes")
    reader = BodyReader(max_bytes, gzip=gzip)
    async for chunk in request.stream():
        reader.feed(chunk)
    return reader.finish()


def _outcome(accepted: int, rejected_events: list[RejectedEvent]) -> Response:
    if not rejected_events:
        return _json({"accepted": accepted}, 202)
    rejected = [item.to_json() for item in rejected_events]
    if accepted == 0:
        return problem_response(
            "all_rejected",
            f"all {len(rejected)} events were rejected; nothing was stored",
            accepted=0,
            rejected=rejected,
        )
    return _json({"accepted": accepted, "rejected": rejected}, 207)


def _take_rate(state: IngestState, partner: Partner, events: int, *, write: bool) -> None:
    bucket = partner.id if write else f"{partner.id}/validate"
    # Each worker process has its own buckets: share the partner's rate between them.
    decision = state.limiter.take(bucket, partner.rate / state.config.workers, events)
    if not decision.allowed:
        raise RateLimited(
            f"over the rate of {partner.rate} events/s; retry in {decision.retry_after_header} s",
            retry_after_s=decision.retry_after_header,
        )


async def _ingest(request: Request, *, write: bool) -> Response:
    state = _state(request)
    config = state.config
    try:
        partner = _partner(request, state)
        kind = body_kind(request.headers.get("content-type"))
        gzip = is_gzip(request.headers.get("content-encoding"))
        data = await _read_body(request, config.max_body_bytes, gzip=gzip)
        received_at_ms = time.time_ns() // 1_000_000
        streams = state.registry.snapshot.streams
        whole = accept_whole(
            data,
            kind=kind,
            platform=partner.id,
            now_ms=received_at_ms,
            streams=streams,
            mode=partner.mode,
            max_events=config.max_events,
        )
        pack: Callable[..., list[OutRecord]]
        if whole is not None:
            _take_rate(state, partner, len(whole), write=write)
            accepted, rejected = len(whole), []
            pack = partial(pack_wire_events, whole)
        else:
            parse = parse_json_events if kind == "json" else parse_ndjson_events
            events = parse(data, max_events=config.max_events)
            check_platform(events, partner.id)
            _take_rate(state, partner, len(events), write=write)
            checked = validate_events(
                events, now_ms=received_at_ms, streams=streams, mode=partner.mode
            )
            accepted, rejected = len(checked.accepted), checked.rejected
            pack = partial(pack_events, checked.accepted)
        if write and accepted:
            partitions = await state.producer.partitions(state.topic)
            records = pack(
                platform=partner.id,
                received_at_ms=received_at_ms,
                partitions=partitions,
                timeout_ms=partner.session_timeout_s * 1000,
            )
            await state.producer.send(state.topic, records)
        if write:
            state.stats.record(partner.id, accepted, (r.code for r in rejected))
    except IngestError as error:
        return problem_for_error(error)
    return _outcome(accepted, rejected)


@guarded
async def post_events(request: Request) -> Response:
    """Validate events and store the accepted ones in Kafka."""
    return await _ingest(request, write=True)


@guarded
async def validate_only(request: Request) -> Response:
    """Validate events exactly as ``post_events`` does, storing nothing."""
    return await _ingest(request, write=False)


@guarded
async def healthz(request: Request) -> Response:
    """The process is alive."""
    return _json({"status": "ok"})


@guarded
async def readyz(request: Request) -> Response:
    """200 only while the registry is loaded and Kafka accepts writes."""
    state = _state(request)
    if not state.registry_ready():
        return problem_response(
            "not_ready", "the partner registry is still loading", headers={"Retry-After": "1"}
        )
    if not await state.producer.ready(state.topic):
        return problem_response(
            "not_ready", "Kafka does not accept writes right now", headers={"Retry-After": "1"}
        )
    return _json({"status": "ready"})


@guarded
async def stats(request: Request) -> Response:
    """The calling partner's accepted and rejected counts since the process started."""
    state = _state(request)
    try:
        partner = _partner(request, state)
    except IngestError as error:
        return problem_for_error(error)
    return _json(state.stats.for_partner(partner.id))


@guarded
async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document."""
    return Response(_state(request).spec_json, media_type="application/json")


@guarded
async def docs(request: Request) -> Response:
    """The human-readable API reference."""
    return HTMLResponse(_state(request).docs_html)


routes = [
    Route("/v1/events", post_events, methods=["POST"]),
    Route("/v1/events/validate", validate_only, methods=["POST"]),
    Route("/v1/stats", stats, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
