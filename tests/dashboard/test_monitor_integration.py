"""LiveData's monitor followers on a real broker: metrics and alerts records, bad ones skipped.

Also ``livetally export`` reading the same topics and writing the same file as the API.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import time
import uuid

import orjson
import pandas as pd
import pytest

from contract.partials import Chunk, chunk_key, encode_chunk
from contract.registry import Partner, Stream
from contract.registry_store import RegistryStore
from contract.settings import Settings
from contract.topics import ALERTS, METRICS, PARTIALS, ensure_topics
from dashboard.data import LiveData
from dashboard.exports import export_command, parse_export_request, render_export

pytestmark = pytest.mark.integration

T0 = 1_734_778_800


@pytest.fixture
def kafka(broker):
    settings = dataclasses.replace(
        broker.settings.kafka, topic_prefix=f"test-mon-{uuid.uuid4().hex[:8]}."
    )
    ensure_topics(settings)
    return settings


@pytest.fixture
def producer(kafka):
    from kafka import KafkaProducer

    client = KafkaProducer(bootstrap_servers=kafka.servers, acks="all")
    yield client
    client.close()


def wait_for(check, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.2)


def test_metrics_and_alerts_topics_feed_the_monitor(kafka, producer, caplog):
    now = int(time.time() * 1000)
    metrics, alerts = kafka.topic(METRICS), kafka.topic(ALERTS)
    pipeline = {
        "kind": "pipeline",
        "worker": "w-1",
        "at": now,
        "partitions": [0, 1],
        "lag": {"0": 3, "1": 4},
        "latency_ms": {"p50": 80, "p95": 300, "p99": 700},
        "events_per_s": 12.5,
    }
    ingest = {
        "kind": "ingest",
        "instance": "i-1",
        "partner": "douyin",
        "at": now,
        "accepted": 50,
        "rejected": {"bad_type": 2},
    }
    alert = {
        "id": "al-1",
        "at": now,
        "raised_at": now,
        "stream": "carnival",
        "platform": None,
        "kind": "milestone",
        "level": "info",
        "message_zh": "观看人次突破 100 万",
        "message_en": "1,000,000 views",
        "value": 1_000_000,
    }
    producer.send(metrics, key=b"pipeline/w-1", value=orjson.dumps(pipeline))
    producer.send(metrics, key=b"ingest/i-1/douyin", value=orjson.dumps(ingest))
    producer.send(metrics, key=b"ingest/i-1/bad", value=b"{not json")
    producer.send(metrics, key=b"ingest/i-1/bad2", value=orjson.dumps({"kind": "ingest"}))
    producer.send(alerts, key=b"al-1", value=orjson.dumps(alert))
    producer.send(alerts, key=b"al-2", value=orjson.dumps({**alert, "id": "al-2", "kind": "?"}))
    producer.flush()
    live = LiveData(kafka)
    live.start()
    try:
        wait_for(lambda: live.monitor().alerts and len(live.monitor().ingest) == 1)
        monitor = live.monitor()
        assert [(m.worker, m.total_lag, m.latency_ms["p95"]) for m in monitor.pipelines] == [
            ("w-1", 7, 300.0)
        ]
        assert monitor.rejected_by_partner() == {"douyin": {"bad_type": 2}}
        assert [(a.id, a.message("en")) for a in monitor.alerts] == [("al-1", "1,000,000 views")]
        # A newer record for the key replaces the old one; a tombstone removes it.
        producer.send(metrics, key=b"pipeline/w-1", value=orjson.dumps({**pipeline, "lag": {}}))
        producer.send(metrics, key=b"ingest/i-1/douyin", value=None)
        producer.flush()
        wait_for(lambda: not live.monitor().ingest and live.monitor().pipelines[0].total_lag == 0)
    finally:
        live.stop()
    assert "ignoring bad record" in caplog.text


def test_export_command_writes_the_same_file_as_the_api(broker, kafka, producer, tmp_path):
    store = RegistryStore(kafka)
    store.put(Stream("carnival", "成都第八届社区邻里节", "Asia/Shanghai"))
    store.put(Partner("douyin", "抖音", "Douyin"))
    minute = T0 // 60 * 60
    for chunk in (
        Chunk("carnival", "douyin", 0, minute, {T0: (3, 3, 2), T0 + 30: (-1, 1, 1)}),
        Chunk("carnival", "douyin", 1, minute, {T0 + 5: (4, 4, 4)}),
    ):
        key = chunk_key(chunk.stream, chunk.platform, chunk.partition, chunk.minute)
        producer.send(kafka.topic(PARTIALS), key=key, value=encode_chunk(chunk))
    producer.flush()
    settings = Settings(home=tmp_path, kafka=kafka)
    out = tmp_path / "carnival.csv"
    args = argparse.Namespace(
        stream="carnival",
        format="csv",
        resolution="10s",
        lang="zh",
        from_=None,
        to=None,
        output=str(out),
    )
    assert export_command(args, settings) == 0
    frame = pd.read_csv(io.BytesIO(out.read_bytes()), encoding="utf-8-sig")
    assert frame["时间"].tolist()[::2] == [f"2024-12-21T19:00:{s}0+08:00" for s in (0, 1, 2, 3)]
    assert frame["平台名称"].tolist()[:2] == ["合计", "抖音"]
    assert frame["在线人数"].tolist()[::2] == [7, 7, 7, 6]
    assert frame["观看人次"].tolist()[-1] == 8
    # The same bytes as render_export (the API's code path) on the same data.
    live = LiveData(kafka)
    live.start()
    try:
        assert live.wait_current(30)
        request = parse_export_request("carnival", {"resolution": "10s"}, "Asia/Shanghai")
        assert render_export(live.snapshot(), request, int(time.time())).content == out.read_bytes()
    finally:
        live.stop()
    unknown = argparse.Namespace(**{**vars(args), "stream": "nope"})
    assert export_command(unknown, settings) == 1  # the command failed
    bad = argparse.Namespace(**{**vars(args), "from_": "yesterday-ish"})
    assert export_command(bad, settings) == 2  # a wrong command line
