"""When to retry a request and how long to wait: retried statuses, back-off, Retry-After."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

__all__ = ["MAX_500_RETRIES", "RETRY_STATUSES", "backoff_delay", "parse_retry_after"]

RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 502, 503, 504})
"""Statuses that mean "try again later" (too slow a link, overload, rate limit, Kafka
briefly away)."""
MAX_500_RETRIES = 2
"""A 500 is a fault of the service that usually fails the same way again: it is retried
this many times per batch (in case it was a one-off), then reported with its error id."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    base_s: float = 0.25,
    cap_s: float = 30.0,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based).

    Exponential back-off with "full jitter" (a random delay up to the exponential bound),
    so many clients refused at once do not come back at once; a server's ``Retry-After``
    is a floor.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    bound = min(cap_s, base_s * (2**attempt))
    jittered = (rng or random).uniform(bound / 2, bound)
    if retry_after is not None:
        return max(min(retry_after, cap_s * 4), jittered)
    return jittered
