"""Monitor bookkeeping: the metrics and alerts record formats, event rates, status history."""

from __future__ import annotations

import pytest

from contract.alerts import parse_alert
from dashboard.model import PartnerStats
from dashboard.monitor import (
    MonitorState,
    RateTracker,
    StatusHistory,
)

PIPELINE = {
    "kind": "pipeline",
    "worker": "w1",
    "at": 1_734_778_800_000,
    "partitions": [2, 0],
    "lag": {"0": 5, "2": 7},
    "latency_ms": {"p50": 120, "p95": 480.5, "p99": 950},
    "events_per_s": 321.5,
}
INGEST = {
    "kind": "ingest",
    "instance": "host-1",
    "partner": "douyin",
    "at": 1_734_778_801_000,
    "accepted": 1000,
    "rejected": {"bad_value": 3, "ts_too_old": 2},
}
ALERT = {
    "id": "a1",
    "at": 1_734_778_802_000,
    "raised_at": 1_734_778_802_500,
    "stream": "carnival",
    "platform": "douyin",
    "kind": "stale",
    "level": "warning",
    "message_zh": "抖音 数据延迟",
    "message_en": "Douyin is stale",
    "value": 42,
}


def test_alert_parses_and_speaks_both_languages():
    alert = parse_alert(ALERT)
    assert (alert.kind, alert.level, alert.platform, alert.value) == (
        "stale",
        "warning",
        "douyin",
        42.0,
    )
    assert alert.message("zh") == "抖音 数据延迟" and alert.message("en") == "Douyin is stale"
    assert parse_alert({**ALERT, "platform": None, "value": None}).platform is None


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "boom"},
        {"level": "fatal"},
        {"at": None},
        {"message_en": 3},
        {"id": ""},
        {"value": "x"},
    ],
)
def test_malformed_alerts_are_value_errors(change):
    with pytest.raises(ValueError):
        parse_alert({**ALERT, **change})


def test_rate_from_counter_samples_over_the_window():
    rates = RateTracker(window_ms=10_000)
    key = ("carnival", "douyin")
    rates.observe(0, {key: 100})
    assert rates.rate(key) is None  # one sample
    rates.observe(1000, {key: 150})
    assert rates.rate(key) == 50.0
    for t in range(2000, 30_001, 1000):
        rates.observe(t, {key: 150 + (t - 1000) // 10})  # 100 events per second from now
    assert rates.rate(key) == pytest.approx(100.0)
    rates.observe(31_000, {key: 3})  # the counter restarted
    assert rates.rate(key) is None


def test_status_history_records_the_first_status_and_each_change():
    history = StatusHistory()
    key = ("carnival", "douyin")
    history.observe(1000, {key: "live"})
    history.observe(2000, {key: "live"})
    history.observe(40_000, {key: "stale"})
    history.observe(50_000, {key: "live"})
    changes = history.changes()
    assert [(c.at, c.previous, c.status) for c in changes] == [
        (50_000, "stale", "live"),
        (40_000, "live", "stale"),
        (1000, None, "live"),
    ]


def test_state_builds_sums_over_ingest_instances_and_orders_alerts():
    state = MonitorState()
    state.put_metric("pipeline/w1", PIPELINE)
    state.put_metric("ingest/host-1/douyin", INGEST)
    state.put_metric(
        "ingest/host-2/douyin",
        {**INGEST, "instance": "host-2", "accepted": 5, "rejected": {"bad_value": 1}},
    )
    state.put_alert(ALERT)
    state.put_alert({**ALERT, "id": "a2", "at": ALERT["at"] + 1, "stream": "other"})
    state.put_alert({**ALERT, "message_en": "Douyin is stale again"})  # same id: replaced
    snap = state.build()
    assert snap.rejected_by_partner() == {"douyin": {"bad_value": 4, "ts_too_old": 2}}
    assert snap.accepted_by_partner() == {"douyin": 1005}
    assert [a.id for a in snap.alerts] == ["a2", "a1"]
    assert [a.message("en") for a in snap.alerts_for("carnival")] == ["Douyin is stale again"]
    state.put_metric("ingest/host-2/douyin", None)  # tombstone
    assert state.build().accepted_by_partner() == {"douyin": 1000}


def test_state_observes_stats_into_rates_and_statuses():
    state = MonitorState()
    now = 1_734_778_900_000
    state.observe(now, {"carnival": {"douyin": PartnerStats(None, now - 1000, 10, 0)}})
    state.observe(now + 2000, {"carnival": {"douyin": PartnerStats(None, now - 1000, 30, 0)}})
    assert state.build().rates[("carnival", "douyin")] == pytest.approx(10.0)
    state.observe(now + 60_000, {"carnival": {"douyin": PartnerStats(None, now - 1000, 30, 0)}})
    snap = state.build()
    assert [c.status for c in snap.history_for("carnival")] == ["stale", "live"]
    assert snap.rates[("carnival", "douyin")] == 0.0  # nothing new in the last window
