"""Pipeline metrics helpers: latency percentiles, event rates, the worker id."""

from __future__ import annotations

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
