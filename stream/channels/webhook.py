"""The generic webhook: the alert record as JSON, signed with HMAC-SHA256 when it has a secret.

Request: ``POST <webhook>`` with the alerts-topic value (``contract.alerts.encode_alert``)
and the headers ``X-Livetally-Alert`` (the alert id), ``X-Livetally-Timestamp`` (epoch ms
of this attempt) and, with a secret, ``X-Livetally-Signature: sha256=<hex>``: the
HMAC-SHA256 of the exact body bytes with the secret as key. Answer: any 2xx is delivered;
408, 425, 429 and 5xx are retried; every other status is given up.
"""

from __future__ import annotations

import hashlib
import hmac

from contract.alerts import Alert, encode_alert
from contract.deliveries import Channel
from stream.alert_cards import AlertCard
from stream.channels.base import Answer, BotRequest, judge_status

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Webhook", "webhook_signature"]

SIGNATURE_HEADER = "X-Livetally-Signature"
TIMESTAMP_HEADER = "X-Livetally-Timestamp"
ALERT_HEADER = "X-Livetally-Alert"


def webhook_signature(secret: str, body: bytes) -> str:
    """The signature header's value for a body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    """Any HTTP endpoint taking the alert JSON (``LIVETALLY_ALERT_WEBHOOK``)."""

    channel: Channel = "webhook"

    def __init__(self, url: str, secret: str | None = None) -> None:
        self._url = url
        self._secret = secret

    def request(self, alert: Alert, card: AlertCard, now_ms: int) -> BotRequest:
        body = encode_alert(alert)
        headers = {
            "Content-Type": "application/json",
            ALERT_HEADER: alert.id,
            TIMESTAMP_HEADER: str(now_ms),
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = webhook_signature(self._secret, body)
        return BotRequest(self._url, body, headers)

    def judge(self, status: int, body: bytes) -> Answer:
        return judge_status(status)
