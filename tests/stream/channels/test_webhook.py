"""The generic webhook: the alert JSON, its HMAC signature header, and its answers."""

from __future__ import annotations

import hashlib
import hmac

import orjson

from contract.alerts import encode_alert
from stream.channels.webhook import Webhook, webhook_signature
from tests.stream.channels.conftest import NOW

URL = "https://hooks.example/livetally"


def test_the_signature_matches_a_vector_computed_with_openssl():
    # printf '{"id":"x"}' | openssl dgst -sha256 -hmac 'hook-secret'
    assert webhook_signature("hook-secret", b'{"id":"x"}') == (
        "sha256=b40a48e9e304164a33f274fd2b19cc3d37ae1b2b0bf969dea4c36d9c114bedf8"
    )


def test_the_body_is_the_alert_record_signed_over_its_exact_bytes(alert, card_zh):
    request = Webhook(URL, "hook-secret").request(alert, card_zh, NOW)
    assert request.url == URL
    assert request.body == encode_alert(alert)
    assert orjson.loads(request.body) == alert.to_json()
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Livetally-Alert"] == alert.id
    assert headers["X-Livetally-Timestamp"] == str(NOW)
    digest = hmac.new(b"hook-secret", request.body, hashlib.sha256).hexdigest()
    assert headers["X-Livetally-Signature"] == f"sha256={digest}"


def test_without_a_secret_there_is_no_signature(alert, card_zh):
    assert "X-Livetally-Signature" not in Webhook(URL).request(alert, card_zh, NOW).headers


def test_any_2xx_is_delivered_and_a_refusal_is_given_up():
    hook = Webhook(URL)
    assert [hook.judge(s, b"").verdict for s in (200, 202, 401, 503)] == [
        "delivered",
        "delivered",
        "give_up",
        "retry",
    ]
