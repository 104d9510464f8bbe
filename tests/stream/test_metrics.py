"""Pipeline metrics helpers and the worker's configuration."""

from __future__ import annotations

import pytest

from stream.config import StreamConfig, parse_milestones
from stream.metrics import LatencyWindow, RateWindow, worker_id


def test_weighted_percentiles_over_the_window():
    window = LatencyWindow(window_ms=10_000)
    window.add(1_000, 100.0, weight=90)
    window.add(1_000, 900.0, weight=9)
    window.add(1_000, 5_000.0, weight=1)
    assert window.percentiles(2_000) == {"p50": 100.0, "p95": 900.0, "p99": 900.0}
    window.add(12_000, 7.0)
    # The first samples are older than 10 s by now.
    assert window.percentiles(12_000) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}
    assert LatencyWindow().percentiles(0) == {}


def test_latency_window_keeps_at_most_max_samples():
    window = LatencyWindow(max_samples=3)
    for latency in (1.0, 2.0, 3.0, 4.0):
        window.add(0, latency)
    assert window.percentiles(0, quantiles=(1,)) == {"p1": 2.0}


def test_rate_window():
    rate = RateWindow(window_ms=10_000)
    rate.add(0, 500)
    rate.add(5_000, 500)
    assert rate.rate(9_000) == 100.0
    assert rate.rate(12_000) == 50.0


def test_worker_id_names_app_host_and_process():
    assert worker_id("app", "host", 7) == "app@host:7"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("every:100000,1000000", (100_000, (1_000_000,))),
        ("500, 50", (0, (50, 500))),
        ("every:1_000", (1_000, ())),
    ],
)
def test_parse_milestones(text, parsed):
    assert parse_milestones(text) == parsed


@pytest.mark.parametrize("text", ["lots", "every:x", "-5", "0"])
def test_bad_milestones_are_refused_naming_the_variable(text):
    with pytest.raises(ValueError, match="LIVETALLY_MILESTONES"):
        StreamConfig.from_env({"LIVETALLY_MILESTONES": text})


def test_config_from_env():
    config = StreamConfig.from_env(
        {
            "LIVETALLY_CHECKPOINT_INTERVAL_S": "2.5",
            "LIVETALLY_CHECKPOINT_MIN_RECORDS": "1",
            "LIVETALLY_ALERT_WEBHOOK": "http://127.0.0.1:9/hook",
            "LIVETALLY_FLUSH_INTERVAL_S": "0.5",
        }
    )
    assert config.flush_interval_s == 0.5
    assert StreamConfig.from_env({}).flush_interval_s == 0.25
    assert config.flush_max_interval_s == 2.0
    hourly = StreamConfig.from_env({"LIVETALLY_FLUSH_INTERVAL_S": "3600"})
    assert hourly.flush_max_interval_s == 3600
    with pytest.raises(ValueError, match="LIVETALLY_FLUSH_MAX_INTERVAL_S .* shorter than"):
        StreamConfig.from_env({"LIVETALLY_FLUSH_MAX_INTERVAL_S": "0.1"})
    assert config.checkpoint_interval_s == 2.5
    assert config.checkpoint_min_records == 1
    assert config.alert_webhook == "http://127.0.0.1:9/hook"
    with pytest.raises(ValueError, match="LIVETALLY_CHECKPOINT_INTERVAL_S"):
        StreamConfig.from_env({"LIVETALLY_CHECKPOINT_INTERVAL_S": "soon"})
    with pytest.raises(ValueError, match="LIVETALLY_CHECKPOINT_CHUNK_BYTES"):
        StreamConfig.from_env({"LIVETALLY_CHECKPOINT_CHUNK_BYTES": "10"})


@pytest.mark.parametrize("text", ["soon", "0", "-1", "nan", "inf", "-inf"])
def test_bad_intervals_are_refused_naming_the_variable(text):
    with pytest.raises(ValueError, match="LIVETALLY_FLUSH_INTERVAL_S"):
        StreamConfig.from_env({"LIVETALLY_FLUSH_INTERVAL_S": text})
