"""DingTalk group bots: 加签 as DingTalk documents it, the markdown message, its answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from stream.channels.dingtalk import DingTalkBot, dingtalk_markdown, dingtalk_sign, signed_url
from tests.stream.channels.conftest import NOW

URL = "https://oapi.dingtalk.com/robot/send?access_token=abc123"
SECRET = "SECdemo0123456789"


def test_the_sign_matches_a_vector_computed_with_openssl():
    # printf '1700000000000\nSECdemo0123456789' |
    #   openssl dgst -sha256 -hmac 'SECdemo0123456789' -binary | base64
    assert (
        dingtalk_sign(SECRET, 1_700_000_000_000) == "ww0uYz9hgC//la1LzHCxhiH8ja6t5XU0VlJXBRQKVAA="
    )


def test_the_url_carries_timestamp_and_the_url_encoded_sign():
    url = signed_url(URL, SECRET, 1_700_000_000_000)
    assert url == (
        URL + "&timestamp=1700000000000&sign=ww0uYz9hgC%2F%2Fla1LzHCxhiH8ja6t5XU0VlJXBRQKVAA%3D"
    )
    assert signed_url("https://ding/x", SECRET, 1).startswith("https://ding/x?timestamp=1&sign=")


def test_a_receiver_recomputing_the_sign_from_the_timestamp_accepts_the_request(alert, card_zh):
    request = DingTalkBot(URL, SECRET).request(alert, card_zh, NOW)
    query = parse_qs(urlsplit(request.url).query)
    assert query["access_token"] == ["abc123"] and query["timestamp"] == [str(NOW)]
    expected = hmac.new(SECRET.encode(), f"{NOW}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert base64.b64decode(query["sign"][0]) == expected


def test_without_a_secret_the_webhook_is_used_as_is(alert, card_zh):
    assert DingTalkBot(URL).request(alert, card_zh, NOW).url == URL


def test_the_message_is_markdown_with_a_title_and_blank_line_separated_text(alert, card_zh):
    doc = orjson.loads(DingTalkBot(URL, SECRET).request(alert, card_zh, NOW).body)
    assert doc == dingtalk_markdown(card_zh)
    assert doc["msgtype"] == "markdown" and set(doc["markdown"]) == {"title", "text"}
    assert doc["markdown"]["title"].startswith("livetally · 严重 · 在线人数骤降：昆明信息港")
    assert doc["markdown"]["text"].split("\n\n") == [
        "### livetally · 严重 · 在线人数骤降",
        "昆明信息港 在线人数 60 秒内下降 31%（1,000 → 690）",
        "> 直播：成都第八届社区邻里狂欢节",
        "> 平台：昆明信息港",
        "> 开始于：2025-12-02 13:05:10",
        "[打开看板](https://tally.example/?stream=carnival)",
    ]


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (b'{"errcode":0,"errmsg":"ok"}', "delivered"),
        (b'{"errcode":130101,"errmsg":"send too fast"}', "retry"),
        (b'{"errcode":410100,"errmsg":"send too fast, exceed 20 times per minute"}', "retry"),
        (b'{"errcode":310000,"errmsg":"sign not match"}', "give_up"),
        (b'{"errcode":300001,"errmsg":"token is not exist"}', "give_up"),
    ],
)
def test_errcode_0_is_delivered_rate_limits_are_retried_the_rest_given_up(body, verdict):
    assert DingTalkBot(URL).judge(200, body).verdict == verdict


def test_a_server_error_with_a_code_is_retried():
    assert DingTalkBot(URL).judge(502, b'{"errcode":88}').verdict == "retry"
