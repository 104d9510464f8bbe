"""The metrics records: keys, bytes (as worker and ingest have always written them), parsing."""

from __future__ import annotations

import pytest

from contract.metrics import (
    IngestMetrics,
    decode_metric,
    encode_metric,
    ingest_key,
    metric_key,
    parse_metric,
    pipeline_key,
    pipeline_metrics,
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


def test_pipeline_record_parses():
    m = parse_metric("pipeline/w1", PIPELINE)
    assert (m.worker, m.partitions, m.lag, m.total_lag) == ("w1", (0, 2), {0: 5, 2: 7}, 12)
    assert m.latency_ms == {"p50": 120.0, "p95": 480.5, "p99": 950.0}
    assert m.events_per_s == 321.5


def test_ingest_record_parses():
    m = parse_metric("ingest/host-1/douyin", INGEST)
    assert (m.instance, m.partner, m.accepted, dict(m.rejected)) == (
        "host-1",
        "douyin",
        1000,
        {"bad_value": 3, "ts_too_old": 2},
    )


@pytest.mark.parametrize(
    ("key", "doc"),
    [
        ("pipeline/w1", [1, 2]),
        ("ingest/h/p", PIPELINE),  # kind does not match the key
        ("pipeline/w1", {**PIPELINE, "lag": {"0": -1}}),
        ("pipeline/w1", {**PIPELINE, "partitions": ["0"]}),
        ("pipeline/w1", {**PIPELINE, "at": "soon"}),
        ("ingest/h/p", {**INGEST, "accepted": True}),
        ("ingest/h/p", {**INGEST, "rejected": {"bad_value": "3"}}),
        ("other/x", {"kind": "other"}),
    ],
)
def test_malformed_metrics_are_value_errors(key, doc):
    with pytest.raises(ValueError):
        parse_metric(key, doc)


def test_pipeline_key_and_value_bytes_are_those_already_on_the_topic():
    metric = pipeline_metrics(
        "livetally@host:7",
        1734778800000,
        [3, 1],
        {3: 5, 1: -2},
        {"p50": 12.5, "p95": 80.0, "p99": 120.0},
        321.5,
    )
    assert metric_key(metric) == pipeline_key("livetally@host:7") == b"pipeline/livetally@host:7"
    assert encode_metric(metric) == (
        b'{"kind":"pipeline","worker":"livetally@host:7","at":1734778800000,"partitions":[1,3],'
        b'"lag":{"1":0,"3":5},"latency_ms":{"p50":12.5,"p95":80.0,"p99":120.0},'
        b'"events_per_s":321.5}'
    )
    assert decode_metric(metric_key(metric), encode_metric(metric)) == metric


def test_ingest_key_and_value_bytes_are_those_already_on_the_topic():
    metric = IngestMetrics("h-1-8080", "douyu", 1000, 5, {"ts_too_old": 1, "bad_value": 2}, 1)
    assert metric_key(metric) == ingest_key("h-1-8080", "douyu") == b"ingest/h-1-8080/douyu"
    assert encode_metric(metric) == (
        b'{"kind":"ingest","instance":"h-1-8080","partner":"douyu","at":1000,"accepted":5,'
        b'"rejected":{"bad_value":2,"ts_too_old":1},"unexpected_errors":1}'
    )
    assert decode_metric(metric_key(metric), encode_metric(metric)) == metric


def test_an_ingest_record_without_unexpected_errors_reads_as_none():
    assert parse_metric("ingest/host-1/douyin", INGEST).unexpected_errors == 0
    with pytest.raises(ValueError, match="unexpected_errors"):
        parse_metric("ingest/h/p", {**INGEST, "unexpected_errors": -1})
    with pytest.raises(ValueError, match="not JSON"):
        decode_metric(b"pipeline/w", b"{")
