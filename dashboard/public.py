"""The public live counter for news sites: ``/api/v1/public/live`` and the ``/embed`` widget.

News sites show "xx万人正在观看" on their own pages, so these two routes are built for many
anonymous readers: a small ASGI app (Starlette, served by uvicorn on its own port inside
the dashboard process, see ``serve_public``) that reads the same in-memory snapshot as the
dashboard, never enters Dash's callback machinery, and answers from a per-second cache
with an ``ETag`` (``304`` on ``If-None-Match``), ``Cache-Control: public, max-age=1`` and
``Access-Control-Allow-Origin: *``. It takes only ``public`` tokens, each limited to one
stream; every other token is refused here, and the dashboard refuses public tokens.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contract.instants import rfc3339
from contract.registry import Token
from dashboard.data import DataSource
from dashboard.embed import embed_html
from dashboard.exceptions import DashboardError
from dashboard.i18n import Lang, format_number
from dashboard.model import Snapshot, figures_at

__all__ = ["LIVE_PATH", "PublicCounter", "live_body", "public_app", "serve_public"]

logger = logging.getLogger(__name__)

LIVE_PATH = "/api/v1/public/live"
EMBED_PATH = "/embed"
_MAX_TOKEN_CHARS = 200
_CORS = {"Access-Control-Allow-Origin": "*", "Vary": "Accept-Encoding"}
_DISPLAYED = ("concurrent", "views", "uniques", "peak_concurrent")


def live_body(snapshot: Snapshot, stream_id: str, second: int, lang: Lang) -> dict[str, Any]:
    """The counter of a stream at ``second``: its total numbers, and each as the page
    language writes it (``display``, the dashboard's number rule)."""
    stream = snapshot.stream(stream_id)
    figures = figures_at(snapshot.totals.get(stream.id), second)
    numbers = {
        "concurrent": figures.concurrent,
        "views": figures.views,
        "uniques": figures.uniques,
        "peak_concurrent": figures.peak_concurrent,
    }
    return {
        "stream": stream.id,
        "title": stream.title,
        **numbers,
        "as_of": rfc3339(second, stream.tz),
        "lang": lang,
        "display": {name: format_number(numbers[name], lang) for name in _DISPLAYED},
    }


@dataclass(frozen=True, slots=True)
class _Entry:
    key: tuple[int, int]
    body: bytes
    etag: str


class PublicCounter:
    """The counter bodies, computed at most once per stream, language, second and snapshot
    version however many readers ask (one entry per stream and language is kept)."""

    def __init__(self, data: DataSource, clock: Callable[[], float] = time.time) -> None:
        self._data = data
        self._clock = clock
        self._entries: dict[tuple[str, Lang], _Entry] = {}
        self._lock = threading.Lock()

    def token(self, secret: str) -> Token | None:
        """The active token of ``secret``, if any."""
        if not 0 < len(secret) <= _MAX_TOKEN_CHARS:
            return None
        return self._data.snapshot().registry.token_for(secret, int(self._clock() * 1000))

    def current(self, stream_id: str, lang: Lang) -> tuple[bytes, str]:
        """The body of a stream's counter now, and its ETag."""
        snapshot = self._data.snapshot()
        second = int(self._clock())
        key = (second, snapshot.version)
        entry = self._entries.get((stream_id, lang))
        if entry is None or entry.key != key:
            body = orjson.dumps(live_body(snapshot, stream_id, second, lang))
            etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
            entry = _Entry(key, body, etag)
            with self._lock:
                self._entries[(stream_id, lang)] = entry
        return entry.body, entry.etag


def _problem(status: int, title: str, detail: str) -> Response:
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    headers = {**_CORS, "Cache-Control": "no-store"}
    return Response(body, status, headers=headers, media_type="application/problem+json")


def _lang(request: Request) -> Lang | None:
    value = request.query_params.get("lang", "zh")
    return value if value in ("zh", "en") else None  # type: ignore[return-value]


def _public_token(counter: PublicCounter, request: Request) -> Token | Response:
    secret = request.query_params.get("token", "")
    if not secret:
        return _problem(401, "Not authorized", "give the public token as ?token=")
    token = counter.token(secret)
    if token is None:
        return _problem(401, "Not authorized", "the token is not valid, was revoked or expired")
    if token.role != "public":  # as a bad token: the port tells no token's kind
        return _problem(401, "Not authorized", "the public counter takes only public tokens")
    asked = request.query_params.get("stream")
    if asked is not None and asked != token.streams[0]:
        return _problem(403, "Forbidden", "this token is for another stream")
    return token


def public_app(data: DataSource, clock: Callable[[], float] = time.time) -> Starlette:
    """The ASGI app of the public counter and the embed widget."""
    counter = PublicCounter(data, clock)

    async def live(request: Request) -> Response:
        lang = _lang(request)
        if lang is None:
            return _problem(400, "Bad parameter", "parameter 'lang' must be zh or en")
        token = _public_token(counter, request)
        if isinstance(token, Response):
            return token
        try:
            body, etag = counter.current(token.streams[0], lang)
        except DashboardError as exc:  # the token's stream is not (or no longer) there
            return _problem(exc.status, exc.title, exc.detail)
        headers = {**_CORS, "Cache-Control": "public, max-age=1", "ETag": etag}
        wanted = request.headers.get("if-none-match", "")
        if etag in wanted or wanted.strip() == "*":
            return Response(status_code=304, headers=headers)
        return Response(body, headers=headers, media_type="application/json")

    async def embed(request: Request) -> Response:
        lang = _lang(request) or "zh"
        theme = request.query_params.get("theme", "light")
        token = _public_token(counter, request)
        if isinstance(token, Response):
            return token
        try:
            body, _ = counter.current(token.streams[0], lang)
        except DashboardError as exc:
            return _problem(exc.status, exc.title, exc.detail)
        page, nonce = embed_html(
            orjson.loads(body),
            token=request.query_params["token"],
            lang=lang,
            dark=theme == "dark",
        )
        policy = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
            "connect-src 'self'; frame-ancestors *; base-uri 'none'"
        )
        headers = {
            "Cache-Control": "no-store",
            "Content-Security-Policy": policy,
            "Referrer-Policy": "no-referrer",
        }
        return Response(page, headers=headers, media_type="text/html")

    async def healthz(_request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[
            Route(LIVE_PATH, live, methods=["GET"]),
            Route(EMBED_PATH, embed, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def serve_public(host: str, port: int, data: DataSource) -> threading.Thread:
    """Serve the public app with uvicorn in a daemon thread of this process; returns it.

    The port is bound here, before the thread starts, so a port in use stops the dashboard
    with ``OSError`` instead of leaving it running without its counter. Access logs are
    off: the token is in every request's query string.
    """
    import socket

    import uvicorn

    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise OSError(
            f"the public counter cannot listen on {host}:{port} ({exc.strerror}); set "
            "LIVETALLY_PUBLIC_PORT to a free port, or 0 to serve no public counter"
        ) from None

    config = uvicorn.Config(
        public_app(data),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="off",
        limit_concurrency=2000,
        timeout_keep_alive=5,
        server_header=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="public-counter", daemon=True
    )
    thread.start()
    logger.info("public counter on http://%s:%d%s", host, port, LIVE_PATH)
    return thread
