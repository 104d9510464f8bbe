"""Building the ingest Starlette app and serving it with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from contract.registry_store import RegistryFollower
from contract.topics import EVENTS, METRICS
from ingest.coalescer import Coalescer
from ingest.config import IngestConfig
from ingest.faults import ErrorWindow
from ingest.metrics import MetricsPublisher, instance_name
from ingest.openapi import docs_html, openapi_spec
from ingest.problems import problem_response
from ingest.producer import EventSink, KafkaEventProducer
from ingest.ratelimit import RateLimiter
from ingest.routes import IngestState, RegistrySource, routes, unexpected_failure

__all__ = ["create_app", "serve"]

logger = logging.getLogger(__name__)


async def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    if exc.status_code == 405:
        return problem_response(
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}",
            headers=exc.headers,
        )
    return problem_response("not_found", f"there is nothing at {request.url.path}")


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Endpoints are guarded; this only catches failures outside them (middleware, routing).
    return unexpected_failure(request, exc)


def create_app(
    config: IngestConfig,
    *,
    producer: EventSink | None = None,
    registry: RegistrySource | None = None,
) -> Starlette:
    """The ingest app. Without ``registry`` it follows the registry topic itself (started in
    the lifespan); without ``producer`` it produces to ``config.shared.kafka``."""
    kafka = config.shared.kafka
    coalescing = config.coalesce_linger_ms > 0
    # While the coalescer gathers, the client's own linger would only add to its wait.
    options = {"linger_ms": 0} if coalescing else None
    sink: EventSink = producer or KafkaEventProducer(
        kafka, ack_timeout_s=config.ack_timeout_s, options=options
    )
    topic = kafka.topic(EVENTS)
    if coalescing:
        # The events of concurrent requests go out together; the worker pays per record.
        sink = Coalescer(
            sink,
            topic,
            linger_s=config.coalesce_linger_ms / 1000,
            max_events=config.coalesce_max_events,
        )
    follower = RegistryFollower(kafka) if registry is None else None
    spec = openapi_spec(config)
    state = IngestState(
        config=config,
        producer=sink,
        registry=follower if follower is not None else registry,  # type: ignore[arg-type]
        topic=topic,
        limiter=RateLimiter(burst_factor=config.default_burst_factor),
        errors=ErrorWindow(config.max_errors_per_min),
        spec=spec,
        spec_json=orjson.dumps(spec),
        docs_html=docs_html(spec),
    )
    if follower is not None:
        state.registry_ready = lambda: follower.wait_ready(0)
    publisher = (
        MetricsPublisher(
            sink,
            state.stats,
            kafka.topic(METRICS),
            instance=instance_name(config.port),
            interval_s=config.metrics_interval_s,
        )
        if config.metrics_interval_s > 0
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if follower is not None:
            follower.start()
        # Connect to Kafka in the background so the first request does not wait for it.
        warmup = asyncio.create_task(sink.ready(state.topic))
        if publisher is not None:
            publisher.start()
        try:
            yield
        finally:
            warmup.cancel()
            if publisher is not None:
                await publisher.stop()
            # Requests have finished (uvicorn waits for them); flush what Kafka still holds.
            await sink.close()
            if follower is not None:
                await asyncio.to_thread(follower.stop)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_problem, Exception: _unexpected},
    )
    app.state.ingest = state
    return app


def serve(config: IngestConfig) -> None:
    """Run the ingest API until SIGTERM/SIGINT (see ``ingest.server``)."""
    from contract.kafka_login import check_login
    from ingest.server import serve as serve_forever

    check_login(config.shared.kafka)
    serve_forever(config)
