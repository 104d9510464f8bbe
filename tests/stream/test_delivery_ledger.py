"""What the monitor finds undelivered after reading the alerts and deliveries topics."""

from __future__ import annotations

import dataclasses

from contract.deliveries import Delivery
from stream.delivery_ledger import DeliveryLedger
from tests.stream.channels.conftest import drop_alert

NOW = 1_764_652_000_000
WINDOW = 300_000


def alert(n: int, raised_at: int):
    return dataclasses.replace(drop_alert(), id=f"a{n}", raised_at=raised_at)


def delivered(channel: str, alert_id: str, at: int = NOW) -> Delivery:
    return Delivery(channel, alert_id, "delivered", at, 1)  # type: ignore[arg-type]


def test_each_channel_without_a_record_gets_each_recent_alert_oldest_first():
    ledger = DeliveryLedger(lambda: NOW)
    ledger.take_alert(alert(2, NOW - 10_000))
    ledger.take_alert(alert(1, NOW - 20_000))
    ledger.take_delivery(delivered("wecom", "a1"))
    ledger.take_delivery(Delivery("feishu", "a2", "failed", NOW, 0, "full"))  # failed is done
    assert [(c, a.id) for c, a in ledger.undelivered(["wecom", "feishu"], NOW)] == [
        ("feishu", "a1"),
        ("wecom", "a2"),
    ]


def test_alerts_and_records_older_than_the_window_are_neither_kept_nor_returned():
    ledger = DeliveryLedger(lambda: NOW)
    ledger.take_alert(alert(1, NOW - WINDOW - 1))
    ledger.take_delivery(delivered("wecom", "a0", NOW - WINDOW - 1))
    assert (ledger.alerts, ledger.done) == ({}, {})
    ledger.take_alert(alert(2, NOW - 1_000))
    ledger.take_delivery(delivered("wecom", "a3", NOW - 1_000))
    assert ledger.undelivered(["wecom"], NOW + WINDOW) == []  # out of the window by then
    ledger.prune(NOW + WINDOW)
    assert (ledger.alerts, ledger.done) == ({}, {})


def test_a_tombstone_forgets_a_delivery():
    ledger = DeliveryLedger(lambda: NOW)
    ledger.take_alert(alert(1, NOW))
    ledger.take_delivery(delivered("wecom", "a1"))
    ledger.forget_delivery("wecom", "a1")
    assert [a.id for _, a in ledger.undelivered(["wecom"], NOW)] == ["a1"]
