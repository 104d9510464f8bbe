"""Feishu group bots: the signature as Feishu documents it, the card, its answers."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest

from stream.channels.feishu import FeishuBot, feishu_card, feishu_sign
from tests.stream.channels.conftest import NOW

URL = "https://open.feishu.cn/open-apis/bot/v2/hook/0b2c-demo"
SECRET = "feishu-demo-secret"


def test_the_sign_matches_a_vector_computed_with_openssl():
    # printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nfeishu-demo-secret')" \
    #   -binary | base64
    assert feishu_sign(SECRET, 1_700_000_000) == "LJ3PlcwviZMXQxiZQ4Jou4SlI9YJEmjE2SI9xcS1EG0="


def test_the_body_carries_timestamp_in_seconds_and_sign_a_receiver_recomputes(alert, card_zh):
    doc = orjson.loads(FeishuBot(URL, SECRET).request(alert, card_zh, NOW).body)
    assert doc["timestamp"] == str(NOW // 1000)
    key = f"{doc['timestamp']}\n{SECRET}".encode()
    assert doc["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert {k: v for k, v in doc.items() if k not in ("timestamp", "sign")} == feishu_card(card_zh)


def test_without_a_secret_there_is_no_timestamp_or_sign(alert, card_zh):
    request = FeishuBot(URL).request(alert, card_zh, NOW)
    assert request.url == URL
    assert orjson.loads(request.body) == feishu_card(card_zh)


def test_the_card_has_a_header_coloured_by_level_and_lark_md_text(card_zh):
    doc = feishu_card(card_zh)
    assert doc["msg_type"] == "interactive"
    card = doc["card"]
    assert card["header"] == {
        "template": "red",
        "title": {"tag": "plain_text", "content": "livetally · 严重 · 在线人数骤降"},
    }
    text, fields, action, note = card["elements"]
    assert text == {
        "tag": "div",
        "text": {"tag": "lark_md", "content": "昆明信息港 在线人数 60 秒内下降 31%（1,000 → 690）"},
    }
    assert [f["text"]["content"] for f in fields["fields"]] == [
        "**直播**\n成都第八届社区邻里狂欢节",
        "**平台**\n昆明信息港",
        "**开始于**\n2025-12-02 13:05:10",
    ]
    assert all(f["text"]["tag"] == "lark_md" for f in fields["fields"])
    [button] = action["actions"]
    assert button["url"] == "https://tally.example/?stream=carnival"
    assert button["text"]["content"] == "打开看板"
    assert note["elements"][0]["content"] == card_zh.alert_id


def test_without_a_dashboard_url_the_card_has_no_button(card_en):
    tags = [e["tag"] for e in feishu_card(card_en)["card"]["elements"]]
    assert tags == ["div", "div", "note"]


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (200, b'{"code":0,"msg":"success","data":{}}', "delivered"),
        (200, b'{"StatusCode":0,"StatusMessage":"success"}', "delivered"),
        (
            200,
            b'{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}',
            "give_up",
        ),
        (200, b'{"code":19022,"msg":"Ip Not Allowed"}', "give_up"),
        (200, b'{"code":19024,"msg":"Key Words Not Found"}', "give_up"),
        (400, b'{"code":9499,"msg":"too many request"}', "retry"),
        (400, b'{"code":11232,"msg":"frequency limited"}', "retry"),
        (429, b"", "retry"),
        (503, b'{"code":1,"msg":"internal error"}', "retry"),
    ],
)
def test_code_0_is_delivered_rate_limits_retried_signature_errors_given_up(status, body, verdict):
    assert FeishuBot(URL).judge(status, body).verdict == verdict
