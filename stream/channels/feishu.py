"""Feishu (飞书) / Lark group bots: an interactive card, signed with the bot's secret.

Request: ``POST <webhook>`` with ``{"msg_type": "interactive", "card": {...}}`` and, with a
secret, ``"timestamp"`` (seconds, a string) and ``"sign"`` in the same body, where sign is
base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")). Answer: ``{"code": 0, ...}``
(older bots: ``{"StatusCode": 0, ...}``); 9499 and 11232 (too many requests) are retried;
19021 (bad signature or timestamp), 19022 (IP not allowed), 19024 (keyword missing) and
every other code are given up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from contract.alerts import Alert
from contract.deliveries import Channel
from stream.alert_cards import AlertCard
from stream.channels.base import Answer, BotRequest, json_request, judge_code

__all__ = ["RETRYABLE", "FeishuBot", "feishu_card", "feishu_sign"]

RETRYABLE = frozenset({9499, 11232})

_TEMPLATES = {"critical": "red", "warning": "orange", "info": "blue"}
"""The card header's colour per alert level."""


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The ``sign`` of a timestamp: the HMAC key is the string to sign, the message empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _field(label: str, value: str) -> dict[str, Any]:
    return {"is_short": True, "text": {"tag": "lark_md", "content": f"**{label}**\n{value}"}}


def feishu_card(card: AlertCard) -> dict[str, Any]:
    """The interactive card message of a card, its header coloured by level."""
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": card.message}},
        {
            "tag": "div",
            "fields": [
                _field(card.label("stream"), card.stream),
                _field(card.label("partner"), card.partner),
                _field(card.label("at"), card.since),
            ],
        },
    ]
    if card.link:
        button = {
            "tag": "button",
            "text": {"tag": "plain_text", "content": card.label("open")},
            "type": "primary",
            "url": card.link,
        }
        elements.append({"tag": "action", "actions": [button]})
    elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": card.alert_id}]})
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "template": _TEMPLATES[card.level],
                "title": {"tag": "plain_text", "content": card.heading},
            },
            "elements": elements,
        },
    }


class FeishuBot:
    """A Feishu group bot at a webhook URL (``.../bot/v2/hook/...``), signed when it has a
    secret (its 签名校验 security setting)."""

    channel: Channel = "feishu"

    def __init__(self, url: str, secret: str | None = None) -> None:
        self._url = url
        self._secret = secret

    def request(self, alert: Alert, card: AlertCard, now_ms: int) -> BotRequest:
        doc = feishu_card(card)
        if self._secret:
            timestamp = now_ms // 1000
            doc = {"timestamp": str(timestamp), "sign": feishu_sign(self._secret, timestamp), **doc}
        return json_request(self._url, doc)

    def judge(self, status: int, body: bytes) -> Answer:
        return judge_code(status, body, ("code", "StatusCode"), RETRYABLE)
