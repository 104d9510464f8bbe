"""A partner whose client makes a new session per heartbeat gets a churn alert on the alerts
topic within a minute; a well-behaved partner posting alongside gets none. Real processes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from contract.topics import ALERTS, STATS
from tests.conftest import Stack

pytestmark = pytest.mark.integration

STREAM = "churn-stream"
BUGGY, TIDY = "loop-app", "tidy-app"
VIEWERS = 1_000
"""Viewers of each partner, every one heartbeating every 10 s: 100 events a second."""


@pytest.fixture(scope="module")
def keys(stack: Stack) -> dict[str, str]:
    stack.cli("stream", "add", STREAM, "--title", STREAM, "--tz", "Asia/Shanghai")
    out = {
        partner: stack.cli("partner", "add", partner, "--name", partner).stdout.splitlines()[-1]
        for partner in (BUGGY, TIDY)
    }
    time.sleep(5.5)  # services pick registry changes up within 5 s
    return out


@pytest.fixture
def follow(stack: Stack) -> Iterator[Any]:
    """A consumer of the alerts and stats topics, from their beginning."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        stack.settings.kafka.topic(ALERTS),
        stack.settings.kafka.topic(STATS),
        bootstrap_servers=stack.settings.kafka.servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    yield consumer
    consumer.close()


class Seen:
    """What this stream's records on the two topics said so far."""

    def __init__(self, stack: Stack) -> None:
        self.alerts_topic = stack.settings.kafka.topic(ALERTS)
        self.alerts: list[dict[str, Any]] = []
        self.stats: dict[tuple[str, int], dict[str, Any]] = {}

    def take(self, consumer: Any) -> None:
        for tp, records in consumer.poll(timeout_ms=200).items():
            for record in records:
                doc = orjson.loads(record.value)
                if doc.get("stream") != STREAM:
                    continue
                if tp.topic == self.alerts_topic:
                    self.alerts.append(doc)
                else:
                    self.stats[(doc["platform"], doc["partition"])] = doc

    def churn(self, partner: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["kind"] == "churn" and a["platform"] == partner]

    def recent(self, partner: str) -> tuple[int, int]:
        """(offline, single) of the partner's recent sessions, summed over partitions."""
        docs = [d for (p, _), d in self.stats.items() if p == partner]
        return (
            sum(d.get("recent_offline_sessions", 0) for d in docs),
            sum(d.get("recent_single_event_offline", 0) for d in docs),
        )


def post(client: httpx.Client, key: str, events: list[dict[str, Any]]) -> None:
    r = client.post(
        "/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 202, r.text


def second_of_traffic(tick: int, now: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One second of both partners' events at ``now``.

    The buggy client heartbeats each viewer every 10 s, under a new session_id every time.
    The tidy one has the same number of short visits: join, heartbeat 5 s later, leave 5 s
    after that, and one visit in ten is a bounce (a join alone, a single-event session).
    """
    base = {"stream": STREAM}
    per_second = VIEWERS // 10
    buggy = [
        {
            **base,
            "type": "heartbeat",
            "ts": now,
            "session_id": uuid.uuid4().hex,
            "viewer_id": f"v{(tick * per_second + i) % VIEWERS}",
        }
        for i in range(per_second)
    ]
    tidy: list[dict[str, Any]] = []
    for i in range(per_second):
        tidy.append({**base, "type": "join", "ts": now, "session_id": f"t{tick}-{i}"})
        if tick >= 5 and i % 10:
            tidy.append({**base, "type": "heartbeat", "ts": now, "session_id": f"t{tick - 5}-{i}"})
        if tick >= 10 and i % 10:
            tidy.append({**base, "type": "leave", "ts": now, "session_id": f"t{tick - 10}-{i}"})
    return buggy, tidy


def test_a_new_session_per_heartbeat_raises_churn_within_a_minute_a_tidy_partner_none(
    stack: Stack, keys: dict[str, str], follow: Any
):
    seen = Seen(stack)
    started = time.monotonic()
    tick = 0
    with httpx.Client(base_url=stack.ingest_url, timeout=30) as client:
        while not seen.churn(BUGGY):
            assert time.monotonic() - started < 60, (
                f"no churn alert within 60 s; recent figures {seen.recent(BUGGY)}"
            )
            buggy, tidy = second_of_traffic(tick, int(time.time() * 1000))
            post(client, keys[BUGGY], buggy)
            post(client, keys[TIDY], tidy)
            tick += 1
            seen.take(follow)
            time.sleep(max(0.0, started + tick - time.monotonic()))
        # A few more evaluations (every 2 s) with the tidy partner's figures in.
        settle = time.monotonic() + 6
        while time.monotonic() < settle:
            buggy, tidy = second_of_traffic(tick, int(time.time() * 1000))
            post(client, keys[TIDY], tidy)
            tick += 1
            seen.take(follow)
            time.sleep(1)
    alert = seen.churn(BUGGY)[0]
    assert alert["level"] == "warning"
    assert alert["id"] == f"churn/{STREAM}/{BUGGY}/{alert['at'] // 1000}"
    assert alert["value"] >= 500
    assert "new session_id per heartbeat?" in alert["message_en"]
    assert alert["message_zh"]
    # The tidy partner had as many recent offline sessions, few of them single: no alert.
    offline, single = seen.recent(TIDY)
    assert offline >= 500 and 0 < single < 0.8 * offline
    assert seen.churn(TIDY) == []
    assert len(seen.churn(BUGGY)) == 1
