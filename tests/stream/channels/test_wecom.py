"""WeCom group bots: the markdown message as WeCom documents it, and its answers."""

from __future__ import annotations

import orjson
import pytest

from stream.alert_cards import AlertCard
from stream.channels.wecom import MAX_CONTENT_BYTES, WeComBot, wecom_markdown
from tests.stream.channels.conftest import NOW

URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"


def test_the_request_is_a_markdown_message_to_the_webhook_as_is(alert, card_zh):
    request = WeComBot(URL).request(alert, card_zh, NOW)
    assert request.url == URL
    assert request.headers == {"Content-Type": "application/json"}
    doc = orjson.loads(request.body)
    assert set(doc) == {"msgtype", "markdown"} and doc["msgtype"] == "markdown"
    assert set(doc["markdown"]) == {"content"}
    assert URL not in repr(request)  # the key stays out of logs


def test_the_chinese_content_names_partner_and_stream_and_links_the_live_page(card_zh):
    content = wecom_markdown(card_zh)["markdown"]["content"]
    assert content.splitlines() == [
        '## <font color="warning">livetally · 严重 · 在线人数骤降</font>',
        "昆明信息港 在线人数 60 秒内下降 31%（1,000 → 690）",
        '> 直播：<font color="comment">成都第八届社区邻里狂欢节</font>',
        '> 平台：<font color="comment">昆明信息港</font>',
        '> 开始于：<font color="comment">2025-12-02 13:05:10</font>',
        "[打开看板](https://tally.example/?stream=carnival)",
    ]


def test_the_english_content_has_no_link_without_a_dashboard_url(card_en):
    content = wecom_markdown(card_en)["markdown"]["content"]
    assert "Kunming Info Port: concurrent viewers fell 31%" in content
    assert "> Partner：" in content and "](" not in content


def test_an_overlong_content_is_cut_to_4096_bytes_of_utf8(card_zh):
    long = AlertCard(**{**card_zh.__dict__, "message": "长" * 3000})
    content = wecom_markdown(long)["markdown"]["content"]
    assert len(content.encode()) <= MAX_CONTENT_BYTES
    assert content.endswith("...")


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (b'{"errcode":0,"errmsg":"ok"}', "delivered"),
        (b'{"errcode":45009,"errmsg":"api freq out of limit"}', "retry"),
        (b'{"errcode":-1,"errmsg":"system busy"}', "retry"),
        (b'{"errcode":93000,"errmsg":"invalid webhook url"}', "give_up"),
        (b'{"errcode":40058,"errmsg":"markdown.content exceed max length"}', "give_up"),
    ],
)
def test_errcode_0_is_delivered_rate_limits_are_retried_the_rest_given_up(body, verdict):
    assert WeComBot(URL).judge(200, body).verdict == verdict
