"""DingTalk (钉钉) group bots: a markdown message, signed with the bot's secret (加签).

Request: ``POST <webhook>&timestamp=<ms>&sign=<sign>`` with ``{"msgtype": "markdown",
"markdown": {"title": ..., "text": ...}}``, where sign is
base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), URL-encoded; DingTalk
refuses a timestamp more than an hour from its clock. Answer: HTTP 200 with
``{"errcode": 0, ...}``; 130101 and 410100 (sending too fast) and -1 (system busy) are
retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from contract.alerts import Alert
from contract.deliveries import Channel
from stream.alert_cards import AlertCard
from stream.channels.base import Answer, BotRequest, json_request, judge_code

__all__ = ["RETRYABLE", "DingTalkBot", "dingtalk_markdown", "dingtalk_sign", "signed_url"]

RETRYABLE = frozenset({130101, 410100, -1})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` of a timestamp, before URL encoding."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The webhook URL with the ``timestamp`` and URL-encoded ``sign`` parameters."""
    query = urlencode({"timestamp": timestamp_ms, "sign": dingtalk_sign(secret, timestamp_ms)})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def dingtalk_markdown(card: AlertCard) -> dict[str, Any]:
    """The DingTalk markdown message of a card (a blank line breaks a line there)."""
    lines = [
        f"### {card.heading}",
        card.message,
        f"> {card.label('stream')}：{card.stream}",
        f"> {card.label('partner')}：{card.partner}",
        f"> {card.label('at')}：{card.since}",
    ]
    if card.link:
        lines.append(f"[{card.label('open')}]({card.link})")
    title = f"{card.heading}：{card.message}"[:100]
    return {"msgtype": "markdown", "markdown": {"title": title, "text": "\n\n".join(lines)}}


class DingTalkBot:
    """A DingTalk group bot at a webhook URL (``.../robot/send?access_token=...``), signed
    when it has a secret (its 加签 security setting)."""

    channel: Channel = "dingtalk"

    def __init__(self, url: str, secret: str | None = None) -> None:
        self._url = url
        self._secret = secret

    def request(self, alert: Alert, card: AlertCard, now_ms: int) -> BotRequest:
        url = signed_url(self._url, self._secret, now_ms) if self._secret else self._url
        return json_request(url, dingtalk_markdown(card))

    def judge(self, status: int, body: bytes) -> Answer:
        return judge_code(status, body, ("errcode",), RETRYABLE)
