"""One batch posted to ``POST /v1/events``: gzip, retries with back-off, problem documents."""

from __future__ import annotations

import gzip as gzip_module
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from livetally.client.codec import dumps, loads
from livetally.client.exceptions import ClientError
from livetally.client.results import BatchResult, parse_result
from livetally.client.retries import (
    MAX_500_RETRIES,
    RETRY_STATUSES,
    backoff_delay,
    parse_retry_after,
)

__all__ = ["BatchPoster"]


class BatchPoster:
    """Posts one batch at a time to ``url`` over ``http``, retrying what may pass later.

    408, 429, 502-504 and network errors are retried up to ``max_retries`` times with
    back-off; a 500 at most ``MAX_500_RETRIES`` times; anything else is not retried.
    """

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        *,
        gzip: bool,
        max_retries: int,
        sleep: Callable[[float], None],
        rng: random.Random,
    ) -> None:
        self._http = http
        self._url = url
        self._gzip = gzip
        self._max_retries = max_retries
        self._sleep = sleep
        self._rng = rng
        self.retries = 0
        """How many requests were retried."""

    def post(self, events: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Post one batch now; rejection indexes are within the batch."""
        body = dumps({"events": list(events)})
        headers = {}
        if self._gzip:
            body = gzip_module.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        server_errors = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._http.post(self._url, content=body, headers=headers)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return parse_result(_json_or_none(response))
                doc = _json_or_none(response)
                if _is_outcome(doc):
                    # 422 "all_rejected": a problem document that still lists each rejection.
                    return parse_result(doc)
                if response.status_code == 500:
                    server_errors += 1
                    if server_errors > MAX_500_RETRIES or attempt >= self._max_retries:
                        message = _with_error_id(_problem_message(500, doc, response.text), doc)
                        raise ClientError(
                            f"{message}; gave up after {server_errors} such answers",
                            status=500,
                            problem=doc,
                        )
                elif response.status_code not in RETRY_STATUSES:
                    raise ClientError(
                        _problem_message(response.status_code, doc, response.text),
                        status=response.status_code,
                        problem=doc,
                    )
                reason = _with_error_id(f"HTTP {response.status_code}", doc)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt >= self._max_retries:
                raise ClientError(
                    f"gave up posting to {self._url} after {attempt + 1} attempts ({reason})"
                )
            self._sleep(backoff_delay(attempt, retry_after=retry_after, rng=self._rng))
            attempt += 1
            self.retries += 1


def _problem_message(status: int, doc: Any, text: str) -> str:
    if isinstance(doc, dict):
        title = str(doc.get("title") or "").strip()
        detail = str(doc.get("detail") or "").strip()
        parts = [p for p in (title, detail) if p]
        if parts:
            return f"ingest API refused the request ({status}): {': '.join(parts)}"
    snippet = text.strip()[:200]
    return f"ingest API refused the request ({status})" + (f": {snippet}" if snippet else "")


def _with_error_id(message: str, doc: Any) -> str:
    """``message`` naming the problem's ``error_id`` (a 500's), unless it already does."""
    error_id = doc.get("error_id") if isinstance(doc, dict) else None
    if not isinstance(error_id, str) or not error_id or error_id in message:
        return message
    return f"{message} (error id {error_id})"


def _is_outcome(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("rejected"), list) and "accepted" in doc


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError:
        return None
