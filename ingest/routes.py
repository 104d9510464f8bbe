"""The HTTP endpoints of the ingest API and the state they share."""

from __future__ import annotations

import asyncio
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

from contract.packing import OutRecord, pack_events, pack_wire_events
from contract.registry import Partner, Registry
from ingest.auth import authenticate
from ingest.body import BodyReader, body_kind, is_gzip
from ingest.config import IngestConfig
from ingest.exceptions import (
    BodyTooLarge,
    IngestError,
    RateLimited,
    RegistryNotReady,
    RequestTimeout,
)
from ingest.fastpath import accept_whole
from ingest.faults import ErrorWindow, new_error_id
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

__all__ = ["IngestState", "RegistrySource", "guarded", "routes", "unexpected_failure"]

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
    errors: ErrorWindow = field(
        default_factory=lambda: ErrorWindow(IngestConfig.max_errors_per_min)
    )
    """Unexpected failures of the last minute, for /readyz."""
    spec: dict[str, Any] = field(default_factory=dict)
    spec_json: bytes = b""
    docs_html: str = ""


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _state(request: Request) -> IngestState:
    state: IngestState = request.app.state.ingest
    return state


def unexpected_failure(request: Request, exc: BaseException) -> Response:
    """Log ``exc`` with its traceback under a new error id, count it, and answer 500.

    Not 503: a fault of ingest itself fails the same way when retried, and a 503 would
    invite every client to retry it.
    """
    error_id = new_error_id()
    partner: str | None = getattr(request.state, "partner", None)
    logger.exception(
        "unexpected failure, error id %s, on %s %s (partner %s)",
        error_id,
        request.method,
        request.url.path,
        partner or "not known",
        exc_info=exc,
    )
    state: IngestState | None = getattr(request.app.state, "ingest", None)
    if state is not None:
        state.stats.record_unexpected(partner)
        state.errors.record()
    return problem_response(
        "internal_error",
        f"the request failed unexpectedly; it was logged under error id {error_id}",
        error_id=error_id,
    )


def guarded(endpoint: Endpoint) -> Endpoint:
    """Answer refusals with their problem, and any other exception with a logged 500."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ClientDisconnect:
            # Nobody reads this answer; the code keeps the access log and metrics honest.
            return problem_response("incomplete_body", "the client disconnected mid-body")
        except IngestError as error:
            return problem_for_error(error)
        except Exception as exc:
            return unexpected_failure(request, exc)

    return run


def _partner(request: Request, state: IngestState) -> Partner:
    try:
        partner = authenticate(state.registry.snapshot, request.headers.get("authorization"))
    except IngestError:
        if not state.registry_ready():
            raise RegistryNotReady("the partner registry is still loading") from None
        raise
    request.state.partner = partner.id  # names the partner if the request fails unexpectedly
    return partner


async def _read_body(request: Request, max_bytes: int, timeout_s: float, *, gzip: bool) -> bytes:
    declared = request.headers.get("content-length", "")
    limit = max_bytes * 2 if gzip else max_bytes
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is over {max_bytes} bytes")
    reader = BodyReader(max_bytes, gzip=gzip)
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                reader.feed(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {timeout_s:g} s") from None
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


def _event_bucket(partner: Partner, *, write: bool) -> str:
    return partner.id if write else f"{partner.id}/validate"


def _take_rate(state: IngestState, partner: Partner, events: int, *, write: bool) -> None:
    # Each worker process has its own buckets: share the partner's rate between them.
    rate = partner.rate / state.config.workers
    decision = state.limiter.take(_event_bucket(partner, write=write), rate, events)
    if not decision.allowed:
        raise RateLimited(
            f"over the rate of {partner.rate} events/s; retry in {decision.retry_after_header} s",
            retry_after_s=decision.retry_after_header,
        )


def _admit(state: IngestState, partner: Partner, *, write: bool) -> None:
    """Refuse a request before its body is read: over the partner's request rate, or with
    no event left in its bucket (every request with an event would be refused anyway)."""
    config = state.config
    per_s = config.partner_requests_per_s
    requests = state.limiter.take(
        f"{_event_bucket(partner, write=write)}/requests", per_s / config.workers, 1
    )
    if not requests.allowed:
        raise RateLimited(
            f"over the rate of {per_s:g} requests/s; retry in {requests.retry_after_header} s",
            retry_after_s=requests.retry_after_header,
        )
    rate = partner.rate / config.workers
    events = state.limiter.check(_event_bucket(partner, write=write), rate, 1)
    if not events.allowed:
        raise RateLimited(
            f"over the rate of {partner.rate} events/s; retry in {events.retry_after_header} s",
            retry_after_s=events.retry_after_header,
        )


async def _ingest(request: Request, *, write: bool) -> Response:
    state = _state(request)
    config = state.config
    try:
        partner = _partner(request, state)
        _admit(state, partner, write=write)
        kind = body_kind(request.headers.get("content-type"))
        gzip = is_gzip(request.headers.get("content-encoding"))
        data = await _read_body(request, config.max_body_bytes, config.body_timeout_s, gzip=gzip)
        received_at_ms = time.time_ns() // 1_000_000
        streams = state.registry.snapshot.streams
        allowed = frozenset(partner.streams) if partner.streams else None
        whole = accept_whole(
            data,
            kind=kind,
            platform=partner.id,
            now_ms=received_at_ms,
            # A limited partner's fast path takes only its own streams; any other event
            # takes the general path, which names the rejection.
            streams=streams if allowed is None else allowed & streams.keys(),
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
                events,
                now_ms=received_at_ms,
                streams=streams,
                mode=partner.mode,
                allowed=allowed,
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
    _state(request).errors.requested()
    return await _ingest(request, write=True)


@guarded
async def validate_only(request: Request) -> Response:
    """Validate events exactly as ``post_events`` does, storing nothing."""
    _state(request).errors.requested()
    return await _ingest(request, write=False)


@guarded
async def healthz(request: Request) -> Response:
    """The process is alive."""
    return _json({"status": "ok"})


@guarded
async def readyz(request: Request) -> Response:
    """200 only while the registry is loaded, Kafka accepts writes and unexpected errors
    are rare."""
    state = _state(request)
    if state.errors.exceeded:
        return problem_response(
            "not_ready",
            f"more than {state.errors.limit} requests failed unexpectedly in the last minute; "
            "see the log for their error ids",
            headers={"Retry-After": "1"},
            retry_after=1,
        )
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
