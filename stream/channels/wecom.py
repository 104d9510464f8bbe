"""WeCom (企业微信) group bots: a markdown message; the webhook URL's key is the only secret.

Request: ``POST <webhook>`` with ``{"msgtype": "markdown", "markdown": {"content": ...}}``
(content at most 4096 bytes of UTF-8). Answer: HTTP 200 with ``{"errcode": 0, ...}``;
45009 (more than 20 messages a minute) and -1 (system busy) are retried.
"""

from __future__ import annotations

from typing import Any

from contract.alerts import Alert
from contract.deliveries import Channel
from stream.alert_cards import AlertCard
from stream.channels.base import Answer, BotRequest, json_request, judge_code

__all__ = ["MAX_CONTENT_BYTES", "RETRYABLE", "WeComBot", "wecom_markdown"]

MAX_CONTENT_BYTES = 4096
RETRYABLE = frozenset({45009, -1})

_COLOURS = {"critical": "warning", "warning": "warning", "info": "info"}
"""WeCom markdown knows three font colours: info (green), comment (grey), warning (orange)."""


def _clip(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "..."


def wecom_markdown(card: AlertCard) -> dict[str, Any]:
    """The WeCom markdown message of a card."""
    colour = _COLOURS[card.level]
    lines = [
        f'## <font color="{colour}">{card.heading}</font>',
        card.message,
        f'> {card.label("stream")}：<font color="comment">{card.stream}</font>',
        f'> {card.label("partner")}：<font color="comment">{card.partner}</font>',
        f'> {card.label("at")}：<font color="comment">{card.since}</font>',
    ]
    if card.link:
        lines.append(f"[{card.label('open')}]({card.link})")
    content = _clip("\n".join(lines), MAX_CONTENT_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


class WeComBot:
    """A WeCom group bot at a webhook URL (``.../cgi-bin/webhook/send?key=...``)."""

    channel: Channel = "wecom"

    def __init__(self, url: str) -> None:
        self._url = url

    def request(self, alert: Alert, card: AlertCard, now_ms: int) -> BotRequest:
        return json_request(self._url, wecom_markdown(card))

    def judge(self, status: int, body: bytes) -> Answer:
        return judge_code(status, body, ("errcode",), RETRYABLE)
