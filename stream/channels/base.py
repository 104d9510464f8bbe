"""What every channel has: its request, its verdict on an answer, and the shared rules."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from contract.alerts import Alert
from contract.deliveries import Channel
from stream.alert_cards import AlertCard

__all__ = [
    "Answer",
    "BotRequest",
    "Sink",
    "Verdict",
    "judge_code",
    "judge_status",
    "json_request",
]

Verdict = Literal["delivered", "retry", "give_up"]
"""``retry``: worth another attempt later; ``give_up``: the same request would fail again."""

_MAX_DETAIL = 300


@dataclass(frozen=True)
class BotRequest:
    """One HTTP POST: the full URL (with any signature), the exact body bytes, headers."""

    url: str = field(repr=False)
    """Webhook URLs carry the bot's key or token: kept out of reprs and logs."""
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    """A channel's verdict on one attempt, with what the platform said."""

    verdict: Verdict
    detail: str = ""


class Sink(Protocol):
    """A channel: how to ask it to show an alert, and how to read its answer."""

    @property
    def channel(self) -> Channel:
        """The channel's name in delivery records."""
        ...

    def request(self, alert: Alert, card: AlertCard, now_ms: int) -> BotRequest:
        """The request that delivers ``alert`` at ``now_ms`` (signatures are dated)."""
        ...

    def judge(self, status: int, body: bytes) -> Answer:
        """The verdict on an HTTP answer."""
        ...


def json_request(url: str, doc: dict[str, Any]) -> BotRequest:
    """A POST of ``doc`` as JSON."""
    return BotRequest(url, orjson.dumps(doc), {"Content-Type": "application/json"})


def _transient(status: int) -> bool:
    """A status that says "not now" (a timeout, a rate limit, a server error), not "never"."""
    return status in (408, 425, 429) or status >= 500


def judge_status(status: int) -> Answer:
    """The verdict by HTTP status alone: 2xx delivered; 408, 425, 429 and 5xx are worth
    retrying; any other status (a bad URL, a refused signature) would only repeat."""
    if 200 <= status < 300:
        return Answer("delivered")
    if _transient(status):
        return Answer("retry", f"HTTP {status}")
    return Answer("give_up", f"HTTP {status}")


def _detail(status: int, doc: dict[str, Any], code: object) -> str:
    message = doc.get("errmsg", doc.get("msg", doc.get("StatusMessage", "")))
    return f"HTTP {status}, code {code}: {str(message)[:_MAX_DETAIL]}"


def judge_code(
    status: int,
    body: bytes,
    code_fields: tuple[str, ...],
    retryable: Collection[int],
) -> Answer:
    """The verdict of a bot that answers ``{"<code field>": 0, ...}`` on success.

    The code decides when the body has one (some bots answer errors with HTTP 200, others
    with 400 and a code): 0 is delivered, ``retryable`` codes (rate limits, "system busy")
    are retried, any other code is given up, as the same message would be refused again
    (a wrong key or signature, a missing keyword, a malformed message). An answer with
    HTTP 408, 425, 429 or 5xx is retried whatever non-zero code it carries: a proxy or an
    overloaded platform says nothing lasting about the message. Without a code the HTTP
    status decides, but a 2xx answer without a code is retried: it is not the bot's.
    """
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        for name in code_fields:
            code = doc.get(name)
            if isinstance(code, int) and not isinstance(code, bool):
                if code == 0:
                    return Answer("delivered")
                retry = code in retryable or _transient(status)
                verdict: Verdict = "retry" if retry else "give_up"
                return Answer(verdict, _detail(status, doc, code))
    answer = judge_status(status)
    if answer.verdict == "delivered":
        return Answer("retry", f"HTTP {status} without a {code_fields[0]}: {body[:100]!r}")
    return answer
