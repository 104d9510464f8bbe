"""What every bot's message says: heading, names, local time and the dashboard link."""

from __future__ import annotations

import dataclasses

import pytest

from contract.alerts import Alert
from stream.alert_cards import alert_card, dashboard_link
from stream.registry_names import RegistryNames
from tests.stream.channels.conftest import drop_alert, names


def test_a_chinese_card_names_stream_and_partner_as_registered():
    card = alert_card(drop_alert(), names(), "zh", "https://tally.example")
    assert card.heading == "livetally · 严重 · 在线人数骤降"
    assert card.message == drop_alert().message_zh
    assert (card.stream, card.partner) == ("成都第八届社区邻里狂欢节", "昆明信息港")
    assert card.since == "2025-12-02 13:05:10"  # Asia/Shanghai, the stream's default zone
    assert card.link == "https://tally.example/?stream=carnival"
    assert [card.label(n) for n in ("stream", "partner", "at", "open")] == [
        "直播",
        "平台",
        "开始于",
        "打开看板",
    ]


def test_an_english_card_uses_the_english_names_and_message():
    card = alert_card(drop_alert(), names(), "en", None)
    assert card.heading == "livetally · Critical · Concurrency drop"
    assert card.message == drop_alert().message_en
    assert card.partner == "Kunming Info Port"
    assert card.link is None


def test_a_stream_total_is_all_partners_and_unknown_ids_stand_for_themselves():
    total = dataclasses.replace(drop_alert(), platform=None, stream="other")
    card = alert_card(total, RegistryNames(), "zh", None)
    assert (card.stream, card.partner) == ("other", "全部平台")
    assert alert_card(total, RegistryNames(), "en", None).partner == "all partners"


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("drop", "/"),
        ("milestone", "/"),
        ("stale", "/monitor"),
        ("offline", "/monitor"),
        ("live", "/monitor"),
        ("churn", "/monitor"),
    ],
)
def test_feed_alerts_link_the_monitor_page_and_audience_alerts_the_live_page(kind, path):
    alert: Alert = dataclasses.replace(drop_alert(), kind=kind, stream="a b")
    assert dashboard_link("https://t.example/base/", alert) == (
        f"https://t.example/base{path}?stream=a+b"
    )
