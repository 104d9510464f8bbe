"""Broker faults under load: leader kill -9, two of three nodes down, a node paused.

Each test posts its own stream's events with the partner client (which retries 429/503),
keeps the ledger of what 202/207 acknowledged, and ends when the dashboard's numbers equal
the oracle's on that ledger.
"""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from contract.topics import EVENTS, PARTIALS
from tests.reliability.conftest import RStack
from tests.reliability.harness import (
    Ledger,
    Loader,
    check_exact,
    event_id,
    events_in_kafka,
    make_events,
    post_raw,
)

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

PLATFORMS = ["p01", "p02", "p03"]
REPORT: dict[str, object] = {}


def _base(offset_s: int) -> int:
    return (int(time.time() * 1000) - offset_s * 1000) // 1000 * 1000


def test_leader_kill_9_five_times_under_load(rel: RStack) -> None:
    stream = "rel-leader"
    cluster = rel.cluster
    topic = rel.settings.kafka.topic(EVENTS)
    log = make_events(1, PLATFORMS, _base(3600), sessions=120)
    keys = {p: rel.keys.partners[p] for p in PLATFORMS}
    loader = Loader(rel.stack.ingest_url, keys, stream, log, batch_size=10, rate=len(log) / 70)
    loader.start()
    topics = [topic, rel.settings.kafka.topic(PARTIALS)]
    failovers, rejoins = [], []
    try:
        for _ in range(5):
            leaders = cluster.leaders(topic)
            victim = max(set(leaders.values()), key=list(leaders.values()).count)
            cluster.kill(victim, signal.SIGKILL)
            failovers.append(cluster.wait_failed_over(victim, topics))
            rejoins.append(cluster.restart(victim) + cluster.wait_in_sync(topics))
    finally:
        loader.join(240)
    assert not loader.errors, loader.errors[:5]
    assert len(loader.ledger) == len(log)
    waited = check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, loader.ledger.events)
    print(
        f"leader kills: 5, acknowledged {len(loader.ledger)}, retries {loader.retries}, "
        f"failover (s) {[round(r, 1) for r in failovers]}, node back in sync (s) "
        f"{[round(r, 1) for r in rejoins]}, exact {waited:.1f} s after the load ended"
    )


def test_two_of_three_brokers_down_answers_503_never_202(rel: RStack) -> None:
    stream = "rel-quorum"
    cluster = rel.cluster
    log = make_events(2, PLATFORMS, _base(3600), sessions=20)
    key = rel.keys.partners["p01"]
    mine = [a for a in log if a.platform == "p01"]
    ledger = Ledger()
    with httpx.Client(base_url=rel.stack.ingest_url, timeout=30) as http:
        r = post_raw(http, key, mine[:10], stream)
        assert r.status_code == 202, r.text
        ledger.acknowledged(mine[:10])
        for node in (1, 2):
            cluster.kill(node, signal.SIGTERM)
        refused = 0
        deadline = time.monotonic() + 25
        i = 10
        while time.monotonic() < deadline and i < len(mine):
            r = post_raw(http, key, mine[i : i + 5], stream)
            assert r.status_code != 202, "202 while two of three brokers were down"
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert float(r.headers["Retry-After"]) > 0
            refused += 1
            i += 5
        assert refused >= 2
        started = time.monotonic()
        for node in (1, 2):
            cluster.restart(node)
        cluster.wait_in_sync([rel.settings.kafka.topic(EVENTS)])
    # The partner's client retries what was refused, and everything else, until it lands.
    loader = Loader(
        rel.stack.ingest_url, rel.keys.partners, stream, log, ledger=ledger, give_up_s=60
    )
    loader.start().join(120)
    recovered = time.monotonic() - started
    assert not loader.errors, loader.errors[:5]
    check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, ledger.events)
    print(f"two brokers down: {refused} requests refused with 503, recovered in {recovered:.1f} s")


def test_broker_paused_with_sigstop(rel: RStack) -> None:
    stream = "rel-pause"
    cluster = rel.cluster
    topic = rel.settings.kafka.topic(EVENTS)
    log = make_events(9, PLATFORMS, _base(3600), sessions=60)
    keys = {p: rel.keys.partners[p] for p in PLATFORMS}
    loader = Loader(rel.stack.ingest_url, keys, stream, log, batch_size=10, rate=len(log) / 45)
    loader.start()
    leaders = cluster.leaders(topic)
    victim = max(set(leaders.values()), key=list(leaders.values()).count)
    time.sleep(3)
    cluster.faults += 1
    cluster.send(victim, signal.SIGSTOP)
    try:
        time.sleep(PAUSE_S)
    finally:
        cluster.send(victim, signal.SIGCONT)
    resumed = time.monotonic()
    loader.join(240)
    assert not loader.errors, loader.errors[:5]
    in_sync = cluster.wait_in_sync([topic])
    waited = check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, loader.ledger.events)
    kafka_has = events_in_kafka(rel.settings, stream)
    assert {event_id(a) for a in loader.ledger.events} <= kafka_has
    print(
        f"paused {PAUSE_S} s: acknowledged {len(loader.ledger)}, retries {loader.retries}, "
        f"in sync {in_sync:.1f} s and exact {time.monotonic() - resumed:.1f} s after SIGCONT "
        f"(check waited {waited:.1f} s)"
    )


PAUSE_S = 30
