"""An alert and its cards in both languages, shared by the channels' tests."""

from __future__ import annotations

import orjson
import pytest

from contract.alerts import Alert
from contract.registry import Partner, Stream, record_key, to_record
from stream.alert_cards import AlertCard, alert_card
from stream.registry_names import RegistryNames

AT = 1_764_651_910_000
"""2025-12-02 13:05:10 in Asia/Shanghai."""
NOW = AT + 7_000


def drop_alert() -> Alert:
    return Alert(
        id=f"drop/carnival/kunming/{AT // 1000}",
        at=AT,
        raised_at=AT + 6_000,
        stream="carnival",
        platform="kunming",
        kind="drop",
        level="critical",
        message_zh="昆明信息港 在线人数 60 秒内下降 31%（1,000 → 690）",
        message_en="Kunming Info Port: concurrent viewers fell 31% within 60 s (1,000 → 690)",
        value=690,
    )


def names() -> RegistryNames:
    found = RegistryNames()
    for item in (
        Partner("kunming", "昆明信息港", "Kunming Info Port"),
        Stream("carnival", "成都第八届社区邻里狂欢节"),
    ):
        found.take(record_key(item).encode(), orjson.dumps(to_record(item)))
    return found


@pytest.fixture
def alert() -> Alert:
    return drop_alert()


@pytest.fixture
def card_zh() -> AlertCard:
    return alert_card(drop_alert(), names(), "zh", "https://tally.example/")


@pytest.fixture
def card_en() -> AlertCard:
    return alert_card(drop_alert(), names(), "en", None)
