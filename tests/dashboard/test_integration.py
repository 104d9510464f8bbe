"""The real dashboard server against a real Kafka broker: registry, partials and stats topics."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import uuid

import httpx
import orjson
import pytest

from contract.partials import Chunk, chunk_key, encode_chunk
from contract.registry import Partner, Stream, Token, hash_secret
from contract.registry_store import RegistryStore
from contract.stats import parse_stats, stats_key
from contract.topics import PARTIALS, STATS, ensure_topics
from tests.ports import free_port

pytestmark = pytest.mark.integration

T0 = 1_734_778_800  # 2024-12-21T19:00:00+08:00
TOKEN = "tok_integration_" + uuid.uuid4().hex


@pytest.fixture
def kafka(broker):
    """The session's real broker, with fresh topics for this test."""
    base = broker.settings
    prefix = f"test-dash-{uuid.uuid4().hex[:8]}."
    settings = dataclasses.replace(base.kafka, topic_prefix=prefix)
    ensure_topics(settings)
    return settings


@pytest.fixture
def producer(kafka):
    from kafka import KafkaProducer

    client = KafkaProducer(bootstrap_servers=kafka.servers, acks="all")
    yield client
    client.close()


def send_chunk(producer, kafka, chunk: Chunk) -> None:
    key = chunk_key(chunk.stream, chunk.platform, chunk.partition, chunk.minute)
    producer.send(kafka.topic(PARTIALS), key=key, value=encode_chunk(chunk)).get(timeout=30)


def send_stats(producer, kafka, platform: str, partition: int, arrival_ms: int) -> None:
    doc = {
        "stream": "carnival",
        "platform": platform,
        "partition": partition,
        "last_event_ts": arrival_ms - 500,
        "last_arrival": arrival_ms,
        "events": 10,
        "rejected": 1,
    }
    key = stats_key(parse_stats(doc))  # a record from before the churn figures existed
    producer.send(kafka.topic(STATS), key=key, value=orjson.dumps(doc)).get(timeout=30)


@pytest.fixture
def server(server_process):
    """The real dashboard's base URL."""
    return server_process[0]


@pytest.fixture
def server_process(kafka, tmp_path):
    """The real dashboard (``dashboard.app.serve``) in a subprocess on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "LIVETALLY_BOOTSTRAP": kafka.bootstrap,
        "LIVETALLY_TOPIC_PREFIX": kafka.topic_prefix,
        "LIVETALLY_PARTITIONS": str(kafka.partitions),
        "LIVETALLY_HOME": str(tmp_path),
        "LIVETALLY_DASHBOARD_PORT": str(port),
        "LIVETALLY_PUBLIC_PORT": "0",
    }
    code = (
        "from dashboard.app import serve; from dashboard.config import DashboardConfig; "
        "serve(DashboardConfig.from_env())"
    )
    log = open(tmp_path / "dashboard.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "dashboard.log").read_text())
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        assert TOKEN not in (tmp_path / "dashboard.log").read_text()


def wait_for(fetch, check, timeout_s=30.0):
    """Call ``fetch`` until ``check`` accepts its result; return that result."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = fetch()
        if check(last):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting; last answer: {last}")
        time.sleep(0.3)


def test_summary_over_http_from_real_topics(kafka, producer, server):
    store = RegistryStore(kafka)
    store.put(Stream("carnival", "成都第八届社区邻里节", "Asia/Shanghai"))
    store.put(Partner("douyin", "抖音", "Douyin"))
    store.put(Partner("bili", "哔哩哔哩", "Bilibili"))
    store.put(Partner("kandu", "看度", "Kandu", streams=("carnival",)))  # listed before data
    store.put(Token("wall", "viewer", "wall screen", hash_secret(TOKEN)))
    minute = T0 // 60 * 60
    send_chunk(producer, kafka, Chunk("carnival", "douyin", 0, minute, {T0: (3, 3, 2)}))
    send_chunk(producer, kafka, Chunk("carnival", "douyin", 1, minute, {T0 + 2: (4, 4, 4)}))
    send_chunk(
        producer,
        kafka,
        Chunk("carnival", "bili", 2, minute, {T0 + 1: (5, 5, 5), T0 + 4: (-1, 0, 0)}),
    )
    now_ms = int(time.time() * 1000)
    send_stats(producer, kafka, "douyin", 0, now_ms - 600_000)
    send_stats(producer, kafka, "douyin", 1, now_ms)
    send_stats(producer, kafka, "bili", 2, now_ms - 60_000)

    assert httpx.get(f"{server}/api/v1/streams").status_code == 401
    bad = httpx.get(f"{server}/api/v1/streams", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401

    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{server}/api/v1/streams/carnival/summary?at={(T0 + 5) * 1000 + 700}"

    def summary():
        response = httpx.get(url, headers=auth, timeout=5)
        return response.json() if response.status_code == 200 else {"status": response.status_code}

    body = wait_for(
        summary,
        lambda b: (
            b.get("total", {}).get("views") == 12 and b["platforms"]["douyin"]["status"] == "live"
        ),
    )
    assert body["as_of"] == "2024-12-21T19:00:05+08:00"
    assert body["total"] == {
        "concurrent": 11,
        "peak_concurrent": 12,
        "peak_at": "2024-12-21T19:00:02+08:00",
        "views": 12,
        "uniques": 11,
    }
    douyin, bili, kandu = (body["platforms"][p] for p in ("douyin", "bili", "kandu"))
    assert (douyin["concurrent"], douyin["views"], douyin["uniques"]) == (7, 7, 6)
    assert (douyin["name"], douyin["name_en"], douyin["status"]) == ("抖音", "Douyin", "live")
    assert (bili["concurrent"], bili["peak_concurrent"], bili["status"]) == (4, 5, "stale")
    assert (kandu["concurrent"], kandu["peak_at"], kandu["status"]) == (0, None, "offline")

    # A newer chunk for the same key (douyin, partition 1, that minute) replaces the old one.
    send_chunk(producer, kafka, Chunk("carnival", "douyin", 1, minute, {T0 + 3: (1, 1, 1)}))
    body = wait_for(summary, lambda b: b.get("total", {}).get("views") == 9)
    assert body["total"]["concurrent"] == 8
    assert body["total"]["peak_concurrent"] == 9
    assert body["total"]["peak_at"] == "2024-12-21T19:00:03+08:00"
    assert body["platforms"]["douyin"]["concurrent"] == 4

    streams = httpx.get(f"{server}/api/v1/streams", headers=auth).json()
    assert streams == {
        "streams": [{"id": "carnival", "title": "成都第八届社区邻里节", "tz": "Asia/Shanghai"}]
    }

    # The read-only screen link: the token becomes a cookie, then the page and Dash routes load.
    with httpx.Client(base_url=server) as browser:
        first = browser.get(f"/screen?token={TOKEN}")
        assert first.status_code == 303
        assert first.headers["location"] == "/screen"
        page = browser.get("/screen")
        assert page.status_code == 200
        assert TOKEN not in page.text
        assert browser.get("/_dash-layout").status_code == 200


def test_hostile_callbacks_and_queries_do_not_take_the_real_dashboard_down(
    kafka, producer, server_process
):
    """Every registered callback and API query string fuzzed over HTTP, 4 clients at once,
    on three hours of eleven partners: no 5xx, every request answered, memory bounded."""
    import random
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import quote

    import psutil

    from tests.dashboard.fuzz import API_PATHS, QUERY_NAMES, QUERY_VALUES, callback_requests

    base, proc = server_process
    store = RegistryStore(kafka)
    store.put(Stream("carnival", "成都第八届社区邻里节", "Asia/Shanghai"))
    partners = [f"p{i:02}" for i in range(11)]
    for p in partners:
        store.put(Partner(p, f"平台{p}", f"Partner {p}"))
    store.put(Token("wall", "viewer", "wall screen", hash_secret(TOKEN)))
    now = int(time.time())
    start = (now - 3 * 3600) // 60 * 60
    for i, p in enumerate(partners):
        for minute in range(start, now, 60):
            seconds = {minute + s: (1 if s % 2 else -1, 1, 1) for s in range(i % 3, 60, 3)}
            chunk = Chunk("carnival", p, i % kafka.partitions, minute, seconds)
            key = chunk_key(chunk.stream, chunk.platform, chunk.partition, chunk.minute)
            producer.send(kafka.topic(PARTIALS), key=key, value=encode_chunk(chunk))
    producer.flush(timeout=60)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    wait_for(
        lambda: httpx.get(f"{base}/api/v1/streams/carnival/summary", headers=auth, timeout=10),
        lambda r: r.status_code == 200 and r.json()["total"]["views"] > 0,
        timeout_s=60,
    )
    dependencies = httpx.get(f"{base}/_dash-dependencies", headers=auth, timeout=10).json()
    rnd = random.Random(13)
    requests = [
        ("POST", "/_dash-update-component", body)
        for _, body in callback_requests(dependencies, rnd, int(time.time()), 30)
    ]
    for _ in range(300):
        path = rnd.choice(API_PATHS)
        query = {n: rnd.choice(QUERY_VALUES) for n in rnd.sample(QUERY_NAMES, rnd.randrange(4))}
        text = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items())
        requests.append(("GET", f"/api/v1/streams/carnival/{path}?{text}", None))
    rnd.shuffle(requests)
    rss_before = psutil.Process(proc.pid).memory_info().rss

    def send(item):
        method, path, body = item
        with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
            try:
                response = client.request(method, path, json=body)
            except httpx.TimeoutException:
                return (path, "no answer in 30 s")
            return (path, response.status_code)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, requests))
    failures = [a for a in answers if not isinstance(a[1], int) or a[1] >= 500]
    assert not failures, failures[:5]
    assert len(answers) > 800
    rss_after = psutil.Process(proc.pid).memory_info().rss
    statuses = sorted({a[1] for a in answers})
    print(
        f"fuzz: {len(answers)} requests, statuses {statuses}, RSS {rss_before >> 20} -> "
        f"{rss_after >> 20} MiB"
    )
    assert rss_after - rss_before < 200 * 2**20, (rss_before, rss_after)
    started = time.monotonic()
    streams = httpx.get(f"{base}/api/v1/streams", headers=auth, timeout=2)
    assert streams.status_code == 200 and time.monotonic() - started < 2


def test_the_real_dashboard_runs_on_gunicorn_and_stops_cleanly_on_sigterm(server_process):
    base, proc = server_process
    health = httpx.get(f"{base}/healthz", timeout=5)
    server = health.headers.get("server", "")
    assert "gunicorn" in server.lower() and "werkzeug" not in server.lower()
    page = httpx.get(f"{base}/?token={TOKEN}", headers={"Accept": "text/html"}, timeout=5)
    assert page.status_code == 401 and 'action="/signin"' in page.text  # not a known token
    too_long = httpx.get(f"{base}/{'x' * 10_000}", timeout=5)
    assert too_long.status_code == 400
    huge_header = httpx.get(f"{base}/healthz", headers={"X-Big": "y" * 10_000}, timeout=5)
    assert huge_header.status_code == 431
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    started = time.monotonic()
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 10
